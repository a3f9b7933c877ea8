package org_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/plugintest"
)

// declaredCodes returns the errors ErrorCodes declares, by code.
func declaredCodes(t *testing.T) map[string]*plugin.Error {
	t.Helper()
	out := map[string]*plugin.Error{}
	for _, e := range org.New(org.Options{}).ErrorCodes() {
		out[e.Code] = e
	}
	return out
}

// codeConstants returns the values of the package's Code… constants, read
// from errors.go.
func codeConstants(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !strings.HasPrefix(n.Name, "Code") || !ok {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, v)
			}
		}
	}
	return out
}

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource) against every error
// the package declares (each declares its own code; the routes' other
// statuses are copies, see TestErrorsIsByCode), and that each Code constant
// is the code of one of them.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	p := org.New(org.Options{})
	plugintest.CheckErrorCodes(t, p, ".", []plugintest.ErrorCase{
		{Name: "ErrNotAllowedToCreateOrganization", Err: org.ErrNotAllowedToCreateOrganization, Decl: org.ErrNotAllowedToCreateOrganization},
		{Name: "ErrMaximumOrganizationsReached", Err: org.ErrMaximumOrganizationsReached, Decl: org.ErrMaximumOrganizationsReached},
		{Name: "ErrOrganizationAlreadyExists", Err: org.ErrOrganizationAlreadyExists, Decl: org.ErrOrganizationAlreadyExists},
		{Name: "ErrSlugTaken", Err: org.ErrSlugTaken, Decl: org.ErrSlugTaken},
		{Name: "ErrOrganizationNotFound", Err: org.ErrOrganizationNotFound, Decl: org.ErrOrganizationNotFound},
		{Name: "ErrUserNotMember", Err: org.ErrUserNotMember, Decl: org.ErrUserNotMember},
		{Name: "ErrNotAllowedToUpdateOrganization", Err: org.ErrNotAllowedToUpdateOrganization, Decl: org.ErrNotAllowedToUpdateOrganization},
		{Name: "ErrNotAllowedToDeleteOrganization", Err: org.ErrNotAllowedToDeleteOrganization, Decl: org.ErrNotAllowedToDeleteOrganization},
		{Name: "ErrNoActiveOrganization", Err: org.ErrNoActiveOrganization, Decl: org.ErrNoActiveOrganization},
		{Name: "ErrAlreadyMember", Err: org.ErrAlreadyMember, Decl: org.ErrAlreadyMember},
		{Name: "ErrMemberNotFound", Err: org.ErrMemberNotFound, Decl: org.ErrMemberNotFound},
		{Name: "ErrRoleNotFound", Err: org.ErrRoleNotFound, Decl: org.ErrRoleNotFound},
		{Name: "ErrTeamAlreadyExists", Err: org.ErrTeamAlreadyExists, Decl: org.ErrTeamAlreadyExists},
		{Name: "ErrTeamNotFound", Err: org.ErrTeamNotFound, Decl: org.ErrTeamNotFound},
		{Name: "ErrCannotLeaveAsOnlyOwner", Err: org.ErrCannotLeaveAsOnlyOwner, Decl: org.ErrCannotLeaveAsOnlyOwner},
		{Name: "ErrCannotLeaveWithoutOwner", Err: org.ErrCannotLeaveWithoutOwner, Decl: org.ErrCannotLeaveWithoutOwner},
		{Name: "ErrNotAllowedToDeleteMember", Err: org.ErrNotAllowedToDeleteMember, Decl: org.ErrNotAllowedToDeleteMember},
		{Name: "ErrNotAllowedToInvite", Err: org.ErrNotAllowedToInvite, Decl: org.ErrNotAllowedToInvite},
		{Name: "ErrAlreadyInvited", Err: org.ErrAlreadyInvited, Decl: org.ErrAlreadyInvited},
		{Name: "ErrInvitationNotFound", Err: org.ErrInvitationNotFound, Decl: org.ErrInvitationNotFound},
		{Name: "ErrNotRecipient", Err: org.ErrNotRecipient, Decl: org.ErrNotRecipient},
		{Name: "ErrEmailVerificationRequiredAccept", Err: org.ErrEmailVerificationRequiredAccept, Decl: org.ErrEmailVerificationRequiredAccept},
		{Name: "ErrEmailVerificationRequired", Err: org.ErrEmailVerificationRequired, Decl: org.ErrEmailVerificationRequired},
		{Name: "ErrNotAllowedToCancelInvitation", Err: org.ErrNotAllowedToCancelInvitation, Decl: org.ErrNotAllowedToCancelInvitation},
		{Name: "ErrNotAllowedToListInvitations", Err: org.ErrNotAllowedToListInvitations, Decl: org.ErrNotAllowedToListInvitations},
		{Name: "ErrInviterNoLongerMember", Err: org.ErrInviterNoLongerMember, Decl: org.ErrInviterNoLongerMember},
		{Name: "ErrNotAllowedToInviteWithRole", Err: org.ErrNotAllowedToInviteWithRole, Decl: org.ErrNotAllowedToInviteWithRole},
		{Name: "ErrMaximumTeamsReached", Err: org.ErrMaximumTeamsReached, Decl: org.ErrMaximumTeamsReached},
		{Name: "ErrUnableToRemoveLastTeam", Err: org.ErrUnableToRemoveLastTeam, Decl: org.ErrUnableToRemoveLastTeam},
		{Name: "ErrNotAllowedToUpdateMember", Err: org.ErrNotAllowedToUpdateMember, Decl: org.ErrNotAllowedToUpdateMember},
		{Name: "ErrMembershipLimitReached", Err: org.ErrMembershipLimitReached, Decl: org.ErrMembershipLimitReached},
		{Name: "ErrNotAllowedToCreateTeams", Err: org.ErrNotAllowedToCreateTeams, Decl: org.ErrNotAllowedToCreateTeams},
		{Name: "ErrNotAllowedToDeleteTeams", Err: org.ErrNotAllowedToDeleteTeams, Decl: org.ErrNotAllowedToDeleteTeams},
		{Name: "ErrNotAllowedToUpdateTeam", Err: org.ErrNotAllowedToUpdateTeam, Decl: org.ErrNotAllowedToUpdateTeam},
		{Name: "ErrNotAllowedToDeleteTeam", Err: org.ErrNotAllowedToDeleteTeam, Decl: org.ErrNotAllowedToDeleteTeam},
		{Name: "ErrInvitationLimitReached", Err: org.ErrInvitationLimitReached, Decl: org.ErrInvitationLimitReached},
		{Name: "ErrTeamMemberLimitReached", Err: org.ErrTeamMemberLimitReached, Decl: org.ErrTeamMemberLimitReached},
		{Name: "ErrUserNotTeamMember", Err: org.ErrUserNotTeamMember, Decl: org.ErrUserNotTeamMember},
		{Name: "ErrNoActiveTeam", Err: org.ErrNoActiveTeam, Decl: org.ErrNoActiveTeam},
		{Name: "ErrNotAllowedToCreateTeamMember", Err: org.ErrNotAllowedToCreateTeamMember, Decl: org.ErrNotAllowedToCreateTeamMember},
		{Name: "ErrNotAllowedToRemoveTeamMember", Err: org.ErrNotAllowedToRemoveTeamMember, Decl: org.ErrNotAllowedToRemoveTeamMember},
		{Name: "ErrNotAllowedToAccessOrganization", Err: org.ErrNotAllowedToAccessOrganization, Decl: org.ErrNotAllowedToAccessOrganization},
		{Name: "ErrNotAMember", Err: org.ErrNotAMember, Decl: org.ErrNotAMember},
		{Name: "ErrInvalidTeamID", Err: org.ErrInvalidTeamID, Decl: org.ErrInvalidTeamID},
		{Name: "ErrOrganizationDeletionDisabled", Err: org.ErrOrganizationDeletionDisabled, Decl: org.ErrOrganizationDeletionDisabled},
		{Name: "ErrInvalidSlug", Err: org.ErrInvalidSlug, Decl: org.ErrInvalidSlug},
	})
	var codes []string
	for _, e := range p.ErrorCodes() {
		codes = append(codes, e.Code)
	}
	want := codeConstants(t)
	slices.Sort(want)
	slices.Sort(codes)
	if diff := cmp.Diff(want, codes); diff != "" {
		t.Errorf("ErrorCodes against the Code constants (-constants +declared):\n%s", diff)
	}
}

// TestRouteErrorsDeclared asks the routes, over HTTP, for the errors that
// TestMembershipAnswers does not reach (limits, owners, roles, slugs,
// invitations, teams) and for the answers where Better Auth gives a code
// another status: every answer's code is declared by ErrorCodes, and the
// answer is the declared error itself unless the row says otherwise.
func TestRouteErrorsDeclared(t *testing.T) {
	t.Parallel()
	declared := declaredCodes(t)
	is := func(e *plugin.Error) answer { return answer{Status: e.Status, Code: e.Code, Message: e.Message} }
	type body = map[string]any
	teams := org.TeamOptions{Enabled: true}
	// acme creates an organization "acme" as a new user "Owner".
	acme := func(e *env) (*client, string) {
		owner := e.newUser("Owner")
		return owner, owner.createOrg("acme")
	}
	// firstTeam returns the id of c's active organization's first team.
	firstTeam := func(c *client) string {
		return must(c.e.t, c.get("/organization/list-teams")).arr()[0].(map[string]any)["id"].(string)
	}
	rows := []struct {
		name string
		opts org.Options
		ask  func(e *env) resp
		want answer
	}{
		{"create: not allowed", org.Options{AllowUserToCreateOrganization: func(context.Context, *auth.User) (bool, error) { return false, nil }},
			func(e *env) resp {
				return e.newUser("A").post("/organization/create", body{"name": "A", "slug": "acme"})
			},
			is(org.ErrNotAllowedToCreateOrganization)},
		{"create: organization limit", org.Options{OrganizationLimit: 1}, func(e *env) resp {
			owner, _ := acme(e)
			return owner.post("/organization/create", body{"name": "B", "slug": "bravo"})
		}, is(org.ErrMaximumOrganizationsReached)},
		{"create: taken slug", org.Options{}, func(e *env) resp {
			acme(e)
			return e.newUser("B").post("/organization/create", body{"name": "B", "slug": "acme"})
		}, is(org.ErrOrganizationAlreadyExists)},
		{"check-slug: taken", org.Options{}, func(e *env) resp {
			owner, _ := acme(e)
			return owner.post("/organization/check-slug", body{"slug": "acme"})
		}, is(org.ErrSlugTaken)},
		{"check-slug: invalid", org.Options{}, func(e *env) resp {
			return e.newUser("A").post("/organization/check-slug", body{"slug": "Acme"})
		}, answer{Status: 400, Code: org.CodeInvalidSlug,
			Message: "Invalid slug: use 2 to 64 lower-case letters, digits and hyphens, starting and ending with a letter or digit"}},
		{"delete: disabled", org.Options{DisableOrganizationDeletion: true}, func(e *env) resp {
			owner, id := acme(e)
			return owner.post("/organization/delete", body{"organizationId": id})
		}, is(org.ErrOrganizationDeletionDisabled)},

		{"invite-member: unknown roles", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			return owner.post("/organization/invite-member", body{"organizationId": id, "email": "x@example.com", "role": []string{"boss", "member", "chief"}})
		}, answer{Status: 400, Code: org.CodeRoleNotFound, Message: "ROLE_NOT_FOUND: boss, chief"}},
		{"invite-member: a member", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			return owner.post("/organization/invite-member", body{"organizationId": id, "email": owner.user.Email, "role": "member"})
		}, is(org.ErrAlreadyMember)},
		{"invite-member: invited already", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			owner.invite(id, "x@example.com", "member")
			return owner.post("/organization/invite-member", body{"organizationId": id, "email": "x@example.com", "role": "member"})
		}, is(org.ErrAlreadyInvited)},
		{"invite-member: creator role by an admin", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			admin := e.newUser("Admin")
			e.join(owner, admin, id, "admin")
			return admin.post("/organization/invite-member", body{"organizationId": id, "email": "x@example.com", "role": "owner"})
		}, is(org.ErrNotAllowedToInviteWithRole)},
		{"invite-member: invitation limit", org.Options{InvitationLimit: 1}, func(e *env) resp {
			owner, id := acme(e)
			owner.invite(id, "x@example.com", "member")
			return owner.post("/organization/invite-member", body{"organizationId": id, "email": "y@example.com", "role": "member"})
		}, is(org.ErrInvitationLimitReached)},
		{"invite-member: team id with a comma", org.Options{Teams: teams}, func(e *env) resp {
			owner, id := acme(e)
			return owner.post("/organization/invite-member", body{"organizationId": id, "email": "x@example.com", "role": "member", "teamId": "a,b"})
		}, is(org.ErrInvalidTeamID)},
		{"accept-invitation: membership limit", org.Options{MembershipLimit: 1}, func(e *env) resp {
			owner, id := acme(e)
			inv := owner.invite(id, "x@example.com", "member")
			return e.newUserEmail("X", "x@example.com", true).post("/organization/accept-invitation", body{"invitationId": inv})
		}, is(org.ErrMembershipLimitReached)},
		{"accept-invitation: unverified email", org.Options{RequireEmailVerificationOnInvitation: true}, func(e *env) resp {
			owner, id := acme(e)
			inv := owner.invite(id, "x@example.com", "member")
			return e.newUserEmail("X", "x@example.com", false).post("/organization/accept-invitation", body{"invitationId": inv})
		}, is(org.ErrEmailVerificationRequiredAccept)},
		{"get-invitation: inviter left", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			admin := e.newUser("Admin")
			e.join(owner, admin, id, "admin")
			inv := admin.invite(id, "x@example.com", "member")
			must(e.t, owner.post("/organization/remove-member", body{"organizationId": id, "memberIdOrEmail": admin.user.Email}))
			return e.newUserEmail("X", "x@example.com", true).get("/organization/get-invitation", "id", inv)
		}, is(org.ErrInviterNoLongerMember)},
		{"reject-invitation: unknown", org.Options{}, func(e *env) resp {
			return e.newUser("A").post("/organization/reject-invitation", body{"invitationId": "nope"})
		}, answer{Status: 400, Code: org.CodeInvitationNotFound, Message: "Invitation not found!"}},

		{"leave: only owner", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			return owner.post("/organization/leave", body{"organizationId": id})
		}, is(org.ErrCannotLeaveAsOnlyOwner)},
		{"update-member-role: last owner demotes self", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			return owner.post("/organization/update-member-role", body{"organizationId": id, "memberId": e.memberID(id, owner), "role": "admin"})
		}, is(org.ErrCannotLeaveWithoutOwner)},
		{"remove-member: no permission", org.Options{}, func(e *env) resp {
			owner, id := acme(e)
			member, other := e.newUser("Member"), e.newUser("Other")
			e.join(owner, member, id, "member")
			e.join(owner, other, id, "member")
			return member.post("/organization/remove-member", body{"organizationId": id, "memberIdOrEmail": other.user.Email})
		}, is(org.ErrNotAllowedToDeleteMember)},
		// Better Auth's other statuses for a declared code.
		{"set-active: non-member", org.Options{}, func(e *env) resp {
			_, id := acme(e)
			return e.newUser("B").post("/organization/set-active", body{"organizationId": id})
		}, answer{Status: http.StatusForbidden, Code: org.CodeUserNotMember, Message: org.ErrUserNotMember.Message}},
		{"has-permission: non-member", org.Options{}, func(e *env) resp {
			_, id := acme(e)
			return e.newUser("B").post("/organization/has-permission", body{"organizationId": id, "permissions": body{"member": []string{"create"}}})
		}, answer{Status: http.StatusUnauthorized, Code: org.CodeUserNotMember, Message: org.ErrUserNotMember.Message}},
		{"set-active-team: not in the team", org.Options{Teams: teams}, func(e *env) resp {
			owner, _ := acme(e)
			team := must(e.t, owner.post("/organization/create-team", body{"name": "Second"})).str("id")
			return owner.post("/organization/set-active-team", body{"teamId": team})
		}, answer{Status: http.StatusForbidden, Code: org.CodeUserNotTeamMember, Message: org.ErrUserNotTeamMember.Message}},

		{"create-team: team limit", org.Options{Teams: org.TeamOptions{Enabled: true, MaximumTeams: 1}}, func(e *env) resp {
			owner, _ := acme(e)
			return owner.post("/organization/create-team", body{"name": "Second"})
		}, is(org.ErrMaximumTeamsReached)},
		{"remove-team: last team", org.Options{Teams: teams}, func(e *env) resp {
			owner, _ := acme(e)
			must(e.t, owner.post("/organization/set-active-team", body{"teamId": nil}))
			return owner.post("/organization/remove-team", body{"teamId": firstTeam(owner)})
		}, is(org.ErrUnableToRemoveLastTeam)},
		{"add-team-member: team full", org.Options{Teams: org.TeamOptions{Enabled: true, MaximumMembersPerTeam: 1}}, func(e *env) resp {
			owner, id := acme(e)
			member := e.newUser("Member")
			e.join(owner, member, id, "member")
			return owner.post("/organization/add-team-member", body{"teamId": firstTeam(owner), "userId": member.user.ID})
		}, is(org.ErrTeamMemberLimitReached)},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			res := r.ask(newEnv(t, r.opts))
			got := answer{Status: res.status, Code: res.code(), Message: res.str("message")}
			if diff := cmp.Diff(r.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s\nbody: %s", diff, res.raw)
			}
			if declared[got.Code] == nil {
				t.Errorf("code %q is not declared by ErrorCodes", got.Code)
			}
		})
	}
}

// TestErrorsIsByCode: the Go methods' errors match the declared error of
// their code with errors.Is, also where the route answers it with another
// status.
func TestErrorsIsByCode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Options{Teams: org.TeamOptions{Enabled: true}})
	owner, outsider := e.newUser("Owner"), e.newUser("Outsider")
	orgID := owner.createOrg("acme")
	team := must(t, owner.post("/organization/create-team", map[string]any{"name": "Second"})).str("id")
	rows := []struct {
		name   string
		err    error
		want   *plugin.Error
		status int
	}{
		{"SetActiveOrganization: non-member", func() error {
			_, err := e.p.SetActiveOrganization(ctx, outsider.sessionData(), org.SetActiveOrganizationInput{OrganizationID: orgID})
			return err
		}(), org.ErrUserNotMember, http.StatusForbidden},
		{"HasPermission: non-member", func() error {
			_, err := e.p.HasPermission(ctx, outsider.sessionData(), org.HasPermissionInput{OrganizationID: orgID, Permissions: org.Permissions{"member": {"create"}}})
			return err
		}(), org.ErrUserNotMember, http.StatusUnauthorized},
		{"SetActiveTeam: not in the team", func() error {
			_, err := e.p.SetActiveTeam(ctx, owner.sessionData(), org.SetActiveTeamInput{TeamID: team})
			return err
		}(), org.ErrUserNotTeamMember, http.StatusForbidden},
		{"UpdateMemberRole: unknown member", func() error {
			_, err := e.p.UpdateMemberRole(ctx, owner.sessionData(), org.UpdateMemberRoleInput{OrganizationID: orgID, MemberID: "nope", Roles: []string{"admin"}})
			return err
		}(), org.ErrMemberNotFound, http.StatusBadRequest},
	}
	for _, r := range rows {
		if !errors.Is(r.err, r.want) {
			t.Errorf("%s: %v, want errors.Is %s", r.name, r.err, r.want.Code)
		}
		if diff := cmp.Diff(answer{Status: r.status, Code: r.want.Code}, errAnswer(r.err)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", r.name, diff)
		}
	}
}
