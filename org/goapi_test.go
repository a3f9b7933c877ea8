package org_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// sessionData returns c's session as a handler sees it, read afresh.
func (c *client) sessionData() *auth.SessionData {
	c.e.t.Helper()
	sd, err := c.e.a.GetSession(context.Background(), c.token)
	if err != nil {
		c.e.t.Fatalf("GetSession: %v", err)
	}
	return sd
}

// errAnswer is the status and code of an error (200 and "" for nil).
func errAnswer(err error) answer {
	if err == nil {
		return answer{Status: 200}
	}
	var ae *auth.Error
	if !errors.As(err, &ae) {
		return answer{Status: -1, Code: err.Error()}
	}
	return answer{Status: ae.Status, Code: ae.Code}
}

// TestGoAPIFlow runs the organization flow through the Go methods alone
// (create, invite, accept, change roles, teams, list with filters, leave,
// remove, delete) on memory, SQLite and PostgreSQL, and refuses the
// attacker's calls (a nobody, a non-member, a member without the
// permission, the last owner) with the codes the same requests get over
// HTTP, changing nothing.
func TestGoAPIFlow(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		ctx := context.Background()
		e := newEnvDB(t, org.Options{Teams: org.TeamOptions{Enabled: true}}, db())
		p := e.p
		owner, bob, carol, outsider := e.newUser("Owner"), e.newUser("Bob"), e.newUser("Carol"), e.newUser("Outsider")
		check := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}

		// Create: the organization becomes the session's active one, stored
		// and in the caller's session data, with its default team.
		ownerSD := owner.sessionData()
		o, ownerM, err := p.CreateOrganization(ctx, ownerSD, org.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
		check("CreateOrganization", err)
		if ownerM.Role != "owner" || ownerM.UserID != owner.user.ID || o.Slug != "acme" {
			t.Errorf("CreateOrganization = %+v, %+v", o, ownerM)
		}
		if got := org.ActiveOrganizationID(ownerSD); got != o.ID {
			t.Errorf("caller's session data: active %q, want %q", got, o.ID)
		}
		stored := owner.sessionData()
		defaultTeam := org.ActiveTeamID(stored)
		if org.ActiveOrganizationID(stored) != o.ID || org.ActiveTeamID(stored) == "" || org.ActiveTeamID(stored) != org.ActiveTeamID(ownerSD) {
			t.Errorf("stored session: active %q team %q", org.ActiveOrganizationID(stored), org.ActiveTeamID(stored))
		}
		if err := p.CheckOrganizationSlug(ctx, "acme"); errAnswer(err).Code != org.CodeSlugTaken {
			t.Errorf("CheckOrganizationSlug(taken) = %v", err)
		}
		check("CheckOrganizationSlug(free)", p.CheckOrganizationSlug(ctx, "free-slug"))
		name := "Acme Inc"
		o, err = p.UpdateOrganization(ctx, owner.sessionData(), org.UpdateOrganizationInput{Name: &name, Metadata: map[string]any{"plan": "pro"}})
		check("UpdateOrganization", err)
		if o.Name != name || o.Metadata["plan"] != "pro" {
			t.Errorf("UpdateOrganization = %+v", o)
		}

		// Invite (mailed) and accept into the owner's active organization.
		join := func(c *client, roles ...string) *org.Member {
			t.Helper()
			inv, err := p.InviteMember(ctx, owner.sessionData(), org.InviteMemberInput{Email: c.user.Email, Roles: roles})
			check("InviteMember", err)
			if m := e.mail.last(); m.Kind != plugin.EmailInvitation || m.To != c.user.Email || m.Data["invitationId"] != inv.ID {
				t.Errorf("invitation mail = %+v", m)
			}
			sd := c.sessionData()
			acc, m, err := p.AcceptInvitation(ctx, sd, inv.ID)
			check("AcceptInvitation", err)
			if acc.Status != org.StatusAccepted || org.ActiveOrganizationID(sd) != o.ID || org.ActiveOrganizationID(c.sessionData()) != o.ID {
				t.Errorf("AcceptInvitation = %+v, active %q", acc, org.ActiveOrganizationID(sd))
			}
			return m
		}
		bobM := join(bob, "admin")
		carolM := join(carol, "member")
		m, err := p.UpdateMemberRole(ctx, owner.sessionData(), org.UpdateMemberRoleInput{MemberID: carolM.ID, Roles: []string{"admin, member"}})
		check("UpdateMemberRole", err)
		if m.Role != "admin,member" {
			t.Errorf("UpdateMemberRole = %q", m.Role)
		}
		_, err = p.UpdateMemberRole(ctx, bob.sessionData(), org.UpdateMemberRoleInput{MemberID: carolM.ID, Roles: []string{"member"}})
		check("UpdateMemberRole by an admin", err)
		pending, err := p.InviteMember(ctx, owner.sessionData(), org.InviteMemberInput{Email: "dave@example.com", Roles: []string{"member"}})
		check("InviteMember", err)

		// Teams.
		dev, err := p.CreateTeam(ctx, owner.sessionData(), org.CreateTeamInput{Name: "Dev"})
		check("CreateTeam", err)
		_, err = p.AddTeamMember(ctx, bob.sessionData(), org.TeamMemberInput{TeamID: dev.ID, UserID: carol.user.ID})
		check("AddTeamMember", err)
		tms, err := p.ListTeamMembers(ctx, carol.sessionData(), dev.ID)
		check("ListTeamMembers", err)
		if len(tms) != 1 || tms[0].UserID != carol.user.ID {
			t.Errorf("ListTeamMembers = %+v", tms)
		}
		carolSD := carol.sessionData()
		if _, err := p.SetActiveTeam(ctx, carolSD, org.SetActiveTeamInput{TeamID: dev.ID}); err != nil || org.ActiveTeamID(carolSD) != dev.ID {
			t.Errorf("SetActiveTeam: %v, active %q", err, org.ActiveTeamID(carolSD))
		}
		ts, err := p.ListUserTeams(ctx, carol.sessionData(), org.ListUserTeamsInput{})
		check("ListUserTeams", err)
		if len(ts) != 1 || ts[0].ID != dev.ID {
			t.Errorf("ListUserTeams = %+v", ts)
		}
		if ts, err := p.ListTeams(ctx, carol.sessionData(), ""); err != nil || len(ts) != 2 {
			t.Errorf("ListTeams = %v, %v", ts, err)
		}

		// List members with filters, sorting and paging.
		bobJoined := bobM.CreatedAt
		for _, tc := range []struct {
			name  string
			in    org.ListMembersInput
			want  []string // member user names, in order
			total int64
			err   string
		}{
			{"all", org.ListMembersInput{}, []string{"Owner", "Bob", "Carol"}, 3, ""},
			{"by slug", org.ListMembersInput{OrganizationSlug: "acme", Limit: 1}, []string{"Owner"}, 3, ""},
			{"role eq", org.ListMembersInput{Filter: &org.MemberFilter{Field: "role", Value: "admin"}}, []string{"Bob"}, 1, ""},
			{"role in", org.ListMembersInput{Filter: &org.MemberFilter{Field: "role", Operator: storage.In, Value: []string{"owner", "member"}}}, []string{"Owner", "Carol"}, 2, ""},
			{"userId ne", org.ListMembersInput{Filter: &org.MemberFilter{Field: "userId", Operator: storage.Ne, Value: owner.user.ID}}, []string{"Bob", "Carol"}, 2, ""},
			{"createdAt gt time", org.ListMembersInput{Filter: &org.MemberFilter{Field: "createdAt", Operator: storage.Gt, Value: bobJoined}}, []string{"Carol"}, 1, ""},
			{"createdAt lte string", org.ListMembersInput{Filter: &org.MemberFilter{Field: "createdAt", Operator: storage.Lte, Value: bobJoined.Format(time.RFC3339Nano)}}, []string{"Owner", "Bob"}, 2, ""},
			{"createdAt not_in", org.ListMembersInput{Filter: &org.MemberFilter{Field: "createdAt", Operator: storage.NotIn, Value: []time.Time{bobJoined}}}, []string{"Owner", "Carol"}, 2, ""},
			{"role starts_with", org.ListMembersInput{Filter: &org.MemberFilter{Field: "role", Operator: storage.StartsWith, Value: "adm"}}, []string{"Bob"}, 1, ""},
			{"sorted, limited", org.ListMembersInput{SortBy: "createdAt", SortDesc: true, Limit: 1}, []string{"Carol"}, 3, ""},
			{"offset", org.ListMembersInput{Limit: 1, Offset: 1}, []string{"Bob"}, 3, ""},
			{"unknown field", org.ListMembersInput{Filter: &org.MemberFilter{Field: "password", Value: "x"}}, nil, 0, "VALIDATION_ERROR"},
			{"unknown operator", org.ListMembersInput{Filter: &org.MemberFilter{Field: "role", Operator: "like", Value: "x"}}, nil, 0, "VALIDATION_ERROR"},
			{"date contains", org.ListMembersInput{Filter: &org.MemberFilter{Field: "createdAt", Operator: storage.Contains, Value: bobJoined}}, nil, 0, "VALIDATION_ERROR"},
			{"not a date", org.ListMembersInput{Filter: &org.MemberFilter{Field: "createdAt", Value: "yesterday"}}, nil, 0, "VALIDATION_ERROR"},
			{"time for a string field", org.ListMembersInput{Filter: &org.MemberFilter{Field: "role", Value: bobJoined}}, nil, 0, "VALIDATION_ERROR"},
			{"in without a list", org.ListMembersInput{Filter: &org.MemberFilter{Field: "role", Operator: storage.In, Value: "owner"}}, nil, 0, "VALIDATION_ERROR"},
			{"unknown sort field", org.ListMembersInput{SortBy: "password"}, nil, 0, "VALIDATION_ERROR"},
			{"unknown slug", org.ListMembersInput{OrganizationSlug: "nope"}, nil, 0, org.CodeOrganizationNotFound},
		} {
			list, err := p.ListMembers(ctx, bob.sessionData(), tc.in)
			if errAnswer(err).Code != tc.err {
				t.Errorf("ListMembers %s: %v, want %q", tc.name, err, tc.err)
				continue
			}
			if err != nil {
				continue
			}
			var got []string
			for _, m := range list.Members {
				got = append(got, m.User.Name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || list.Total != tc.total {
				t.Errorf("ListMembers %s: total %d (want %d), members (-want +got):\n%s", tc.name, list.Total, tc.total, diff)
			}
		}
		full, err := p.GetFullOrganization(ctx, bob.sessionData(), org.GetFullOrganizationInput{MembersLimit: 2})
		check("GetFullOrganization", err)
		if len(full.Members) != 2 || len(full.Teams) != 2 || !slices.ContainsFunc(full.Invitations, func(i *org.Invitation) bool { return i.ID == pending.ID }) {
			t.Errorf("GetFullOrganization = %d members, %d teams, invitations %v", len(full.Members), len(full.Teams), full.Invitations)
		}
		for _, c := range []*client{owner, bob, carol} {
			ok, err := p.HasPermission(ctx, c.sessionData(), org.HasPermissionInput{Permissions: org.Permissions{"member": {"delete"}}})
			if want := c != carol; err != nil || ok != want {
				t.Errorf("HasPermission(%s, member:delete) = %v, %v; want %v", c.user.Name, ok, err, want)
			}
		}

		// The attacker's calls: each refused alike over Go and HTTP, and
		// nothing changes.
		type row struct {
			name   string
			who    *client // nil: no session
			call   func(sd *auth.SessionData) error
			method string
			path   string
			body   map[string]any
			query  []string
			want   answer
		}
		fail := func(status int, code string) answer { return answer{Status: status, Code: code} }
		oid := o.ID
		P, G := "POST", "GET"
		rows := []row{
			{"nobody creates", nil, func(sd *auth.SessionData) error {
				_, _, err := p.CreateOrganization(ctx, sd, org.CreateOrganizationInput{Name: "X", Slug: "xx"})
				return err
			}, P, "/organization/create", map[string]any{"name": "X", "slug": "xx"}, nil, fail(401, "UNAUTHORIZED")},
			{"nobody invites", nil, func(sd *auth.SessionData) error {
				_, err := p.InviteMember(ctx, sd, org.InviteMemberInput{OrganizationID: oid, Email: "eve@example.com", Roles: []string{"owner"}})
				return err
			}, P, "/organization/invite-member", map[string]any{"organizationId": oid, "email": "eve@example.com", "role": "owner"}, nil, fail(401, "UNAUTHORIZED")},
			{"non-member updates", outsider, func(sd *auth.SessionData) error {
				_, err := p.UpdateOrganization(ctx, sd, org.UpdateOrganizationInput{OrganizationID: oid, Name: &name})
				return err
			}, P, "/organization/update", map[string]any{"organizationId": oid, "data": map[string]any{"name": name}}, nil, fail(400, org.CodeUserNotMember)},
			{"member updates", carol, func(sd *auth.SessionData) error {
				_, err := p.UpdateOrganization(ctx, sd, org.UpdateOrganizationInput{OrganizationID: oid, Name: &name})
				return err
			}, P, "/organization/update", map[string]any{"organizationId": oid, "data": map[string]any{"name": name}}, nil, fail(403, org.CodeNotAllowedToUpdateOrganization)},
			{"non-member invites", outsider, func(sd *auth.SessionData) error {
				_, err := p.InviteMember(ctx, sd, org.InviteMemberInput{OrganizationID: oid, Email: "eve@example.com", Roles: []string{"member"}})
				return err
			}, P, "/organization/invite-member", map[string]any{"organizationId": oid, "email": "eve@example.com", "role": "member"}, nil, fail(400, org.CodeMemberNotFound)},
			{"member invites", carol, func(sd *auth.SessionData) error {
				_, err := p.InviteMember(ctx, sd, org.InviteMemberInput{OrganizationID: oid, Email: "eve@example.com", Roles: []string{"member"}})
				return err
			}, P, "/organization/invite-member", map[string]any{"organizationId": oid, "email": "eve@example.com", "role": "member"}, nil, fail(403, org.CodeNotAllowedToInvite)},
			{"admin invites an owner", bob, func(sd *auth.SessionData) error {
				_, err := p.InviteMember(ctx, sd, org.InviteMemberInput{OrganizationID: oid, Email: "eve@example.com", Roles: []string{"owner"}})
				return err
			}, P, "/organization/invite-member", map[string]any{"organizationId": oid, "email": "eve@example.com", "role": "owner"}, nil, fail(403, org.CodeNotAllowedToInviteWithRole)},
			{"another's invitation accepted", outsider, func(sd *auth.SessionData) error {
				_, _, err := p.AcceptInvitation(ctx, sd, pending.ID)
				return err
			}, P, "/organization/accept-invitation", map[string]any{"invitationId": pending.ID}, nil, fail(403, org.CodeNotRecipient)},
			{"another's invitation read", outsider, func(sd *auth.SessionData) error {
				_, err := p.GetInvitation(ctx, sd, pending.ID)
				return err
			}, G, "/organization/get-invitation", nil, []string{"id", pending.ID}, fail(403, org.CodeNotRecipient)},
			{"member cancels", carol, func(sd *auth.SessionData) error {
				_, err := p.CancelInvitation(ctx, sd, pending.ID)
				return err
			}, P, "/organization/cancel-invitation", map[string]any{"invitationId": pending.ID}, nil, fail(403, org.CodeNotAllowedToCancelInvitation)},
			{"member lists invitations", carol, func(sd *auth.SessionData) error {
				_, err := p.ListInvitations(ctx, sd, oid)
				return err
			}, G, "/organization/list-invitations", nil, []string{"organizationId", oid}, fail(403, org.CodeNotAllowedToListInvitations)},
			{"member removes", carol, func(sd *auth.SessionData) error {
				_, err := p.RemoveMember(ctx, sd, org.RemoveMemberInput{OrganizationID: oid, MemberIDOrEmail: bobM.ID})
				return err
			}, P, "/organization/remove-member", map[string]any{"organizationId": oid, "memberIdOrEmail": bobM.ID}, nil, fail(401, org.CodeNotAllowedToDeleteMember)},
			{"admin removes the owner", bob, func(sd *auth.SessionData) error {
				_, err := p.RemoveMember(ctx, sd, org.RemoveMemberInput{OrganizationID: oid, MemberIDOrEmail: owner.user.Email})
				return err
			}, P, "/organization/remove-member", map[string]any{"organizationId": oid, "memberIdOrEmail": owner.user.Email}, nil, fail(400, org.CodeCannotLeaveAsOnlyOwner)},
			{"member promotes self", carol, func(sd *auth.SessionData) error {
				_, err := p.UpdateMemberRole(ctx, sd, org.UpdateMemberRoleInput{OrganizationID: oid, MemberID: carolM.ID, Roles: []string{"admin"}})
				return err
			}, P, "/organization/update-member-role", map[string]any{"organizationId": oid, "memberId": carolM.ID, "role": "admin"}, nil, fail(403, org.CodeNotAllowedToUpdateMember)},
			{"admin demotes the owner", bob, func(sd *auth.SessionData) error {
				_, err := p.UpdateMemberRole(ctx, sd, org.UpdateMemberRoleInput{OrganizationID: oid, MemberID: ownerM.ID, Roles: []string{"member"}})
				return err
			}, P, "/organization/update-member-role", map[string]any{"organizationId": oid, "memberId": ownerM.ID, "role": "member"}, nil, fail(403, org.CodeNotAllowedToUpdateMember)},
			{"last owner demotes self", owner, func(sd *auth.SessionData) error {
				_, err := p.UpdateMemberRole(ctx, sd, org.UpdateMemberRoleInput{OrganizationID: oid, MemberID: ownerM.ID, Roles: []string{"admin"}})
				return err
			}, P, "/organization/update-member-role", map[string]any{"organizationId": oid, "memberId": ownerM.ID, "role": "admin"}, nil, fail(400, org.CodeCannotLeaveWithoutOwner)},
			{"last owner leaves", owner, func(sd *auth.SessionData) error {
				_, err := p.LeaveOrganization(ctx, sd, oid)
				return err
			}, P, "/organization/leave", map[string]any{"organizationId": oid}, nil, fail(400, org.CodeCannotLeaveAsOnlyOwner)},
			{"non-member leaves", outsider, func(sd *auth.SessionData) error {
				_, err := p.LeaveOrganization(ctx, sd, oid)
				return err
			}, P, "/organization/leave", map[string]any{"organizationId": oid}, nil, fail(400, org.CodeMemberNotFound)},
			{"non-member lists members", outsider, func(sd *auth.SessionData) error {
				_, err := p.ListMembers(ctx, sd, org.ListMembersInput{OrganizationID: oid})
				return err
			}, G, "/organization/list-members", nil, []string{"organizationId", oid}, fail(403, org.CodeNotAMember)},
			{"non-member reads", outsider, func(sd *auth.SessionData) error {
				_, err := p.GetFullOrganization(ctx, sd, org.GetFullOrganizationInput{OrganizationID: oid})
				return err
			}, G, "/organization/get-full-organization", nil, []string{"organizationId", oid}, fail(403, org.CodeUserNotMember)},
			{"non-member sets active", outsider, func(sd *auth.SessionData) error {
				_, err := p.SetActiveOrganization(ctx, sd, org.SetActiveOrganizationInput{OrganizationSlug: "acme"})
				return err
			}, P, "/organization/set-active", map[string]any{"organizationSlug": "acme"}, nil, fail(403, org.CodeUserNotMember)},
			{"non-member asks a role", outsider, func(sd *auth.SessionData) error {
				_, err := p.GetActiveMemberRole(ctx, sd, org.GetActiveMemberRoleInput{OrganizationID: oid, UserID: owner.user.ID})
				return err
			}, G, "/organization/get-active-member-role", nil, []string{"organizationId", oid, "userId", owner.user.ID}, fail(403, org.CodeNotAMember)},
			{"non-member asks a permission", outsider, func(sd *auth.SessionData) error {
				_, err := p.HasPermission(ctx, sd, org.HasPermissionInput{OrganizationID: oid, Permissions: org.Permissions{"member": {"delete"}}})
				return err
			}, P, "/organization/has-permission", map[string]any{"organizationId": oid, "permissions": map[string]any{"member": []string{"delete"}}}, nil, fail(401, org.CodeUserNotMember)},
			{"non-member deletes", outsider, func(sd *auth.SessionData) error {
				_, err := p.DeleteOrganization(ctx, sd, oid)
				return err
			}, P, "/organization/delete", map[string]any{"organizationId": oid}, nil, fail(400, org.CodeUserNotMember)},
			{"admin deletes", bob, func(sd *auth.SessionData) error {
				_, err := p.DeleteOrganization(ctx, sd, oid)
				return err
			}, P, "/organization/delete", map[string]any{"organizationId": oid}, nil, fail(403, org.CodeNotAllowedToDeleteOrganization)},
			{"member creates a team", carol, func(sd *auth.SessionData) error {
				_, err := p.CreateTeam(ctx, sd, org.CreateTeamInput{OrganizationID: oid, Name: "Mine"})
				return err
			}, P, "/organization/create-team", map[string]any{"organizationId": oid, "name": "Mine"}, nil, fail(403, org.CodeNotAllowedToCreateTeams)},
			{"member adds to a team", carol, func(sd *auth.SessionData) error {
				_, err := p.AddTeamMember(ctx, sd, org.TeamMemberInput{OrganizationID: oid, TeamID: dev.ID, UserID: bob.user.ID})
				return err
			}, P, "/organization/add-team-member", map[string]any{"organizationId": oid, "teamId": dev.ID, "userId": bob.user.ID}, nil, fail(403, org.CodeNotAllowedToCreateTeamMember)},
			{"member removes a team", carol, func(sd *auth.SessionData) error {
				return p.RemoveTeam(ctx, sd, org.RemoveTeamInput{OrganizationID: oid, TeamID: defaultTeam})
			}, P, "/organization/remove-team", map[string]any{"organizationId": oid, "teamId": defaultTeam}, nil, fail(403, org.CodeNotAllowedToDeleteTeams)},
			{"member removes her active team", carol, func(sd *auth.SessionData) error {
				return p.RemoveTeam(ctx, sd, org.RemoveTeamInput{OrganizationID: oid, TeamID: dev.ID})
			}, P, "/organization/remove-team", map[string]any{"organizationId": oid, "teamId": dev.ID}, nil, fail(403, org.CodeNotAllowedToDeleteTeam)},
			{"non-member lists teams", outsider, func(sd *auth.SessionData) error {
				_, err := p.ListTeams(ctx, sd, oid)
				return err
			}, G, "/organization/list-teams", nil, []string{"organizationId", oid}, fail(403, org.CodeNotAllowedToAccessOrganization)},
			{"non-member lists a team", outsider, func(sd *auth.SessionData) error {
				_, err := p.ListTeamMembers(ctx, sd, dev.ID)
				return err
			}, G, "/organization/list-team-members", nil, []string{"teamId", dev.ID}, fail(400, org.CodeUserNotTeamMember)},
		}
		for _, r := range rows {
			before := e.snapshot()
			var sd *auth.SessionData
			c := &client{e: e}
			if r.who != nil {
				sd, c = r.who.sessionData(), r.who
			}
			goGot := errAnswer(r.call(sd))
			var body any
			if r.body != nil {
				body = r.body
			}
			res := c.do(r.method, r.path, body, r.query...)
			httpGot := answer{Status: res.status, Code: res.code()}
			if diff := cmp.Diff(r.want, goGot); diff != "" {
				t.Errorf("%s: Go answer (-want +got):\n%s", r.name, diff)
			}
			if diff := cmp.Diff(r.want, httpGot); diff != "" {
				t.Errorf("%s: HTTP answer (-want +got):\n%s\n%s", r.name, diff, res.raw)
			}
			if diff := cmp.Diff(before, e.snapshot()); diff != "" {
				t.Errorf("%s changed data (-before +after):\n%s", r.name, diff)
			}
		}

		// Leave, remove, delete: the sessions forget the organization.
		check("RemoveTeamMember", p.RemoveTeamMember(ctx, owner.sessionData(), org.TeamMemberInput{TeamID: dev.ID, UserID: carol.user.ID}))
		if got := org.ActiveTeamID(carol.sessionData()); got != "" {
			t.Errorf("carol's active team after removal: %q", got)
		}
		carolSD = carol.sessionData()
		left, err := p.LeaveOrganization(ctx, carolSD, oid)
		check("LeaveOrganization", err)
		if left.ID != carolM.ID || left.User == nil || left.User.Email != carol.user.Email || org.ActiveOrganizationID(carolSD) != "" {
			t.Errorf("LeaveOrganization = %+v, active %q", left, org.ActiveOrganizationID(carolSD))
		}
		removed, err := p.RemoveMember(ctx, owner.sessionData(), org.RemoveMemberInput{MemberIDOrEmail: bob.user.Email})
		check("RemoveMember", err)
		if removed.ID != bobM.ID || removed.User == nil || org.ActiveOrganizationID(bob.sessionData()) != "" {
			t.Errorf("RemoveMember = %+v, bob's active %q", removed, org.ActiveOrganizationID(bob.sessionData()))
		}
		for _, c := range []*client{bob, carol} {
			if ok, err := p.IsMember(ctx, oid, c.user.ID); ok || err != nil {
				t.Errorf("%s is still a member (%v)", c.user.Name, err)
			}
		}
		ownerSD = owner.sessionData()
		if _, err := p.DeleteOrganization(ctx, ownerSD, oid); err != nil || org.ActiveOrganizationID(ownerSD) != "" {
			t.Errorf("DeleteOrganization: %v, active %q", err, org.ActiveOrganizationID(ownerSD))
		}
		if _, err := p.Organization(ctx, oid); errAnswer(err).Code != org.CodeOrganizationNotFound {
			t.Errorf("Organization after delete: %v", err)
		}
		if got := org.ActiveOrganizationID(owner.sessionData()); got != "" {
			t.Errorf("owner's stored active organization after delete: %q", got)
		}
	})
}

// TestGoAPIWithoutSession: a Go caller acting for a user without a
// session passes session data with the user alone; nothing then reads or
// writes a session's active organization.
func TestGoAPIWithoutSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Options{})
	alice, bob := e.newUser("Alice"), e.newUser("Bob")
	asAlice, asBob := &auth.SessionData{User: alice.user}, &auth.SessionData{User: bob.user}
	o, _, err := e.p.CreateOrganization(ctx, asAlice, org.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if got := org.ActiveOrganizationID(alice.sessionData()); got != "" {
		t.Errorf("a session became active: %q", got)
	}
	// No active organization to fall back to.
	if _, err := e.p.InviteMember(ctx, asAlice, org.InviteMemberInput{Email: bob.user.Email, Roles: []string{"member"}}); errAnswer(err).Code != org.CodeOrganizationNotFound {
		t.Errorf("InviteMember without an organization: %v", err)
	}
	inv, err := e.p.InviteMember(ctx, asAlice, org.InviteMemberInput{OrganizationID: o.ID, Email: bob.user.Email, Roles: []string{"member"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.p.AcceptInvitation(ctx, asBob, inv.ID); err != nil {
		t.Fatal(err)
	}
	if got := org.ActiveOrganizationID(bob.sessionData()); got != "" {
		t.Errorf("bob's session became active: %q", got)
	}
	if o2, err := e.p.SetActiveOrganization(ctx, asBob, org.SetActiveOrganizationInput{OrganizationID: o.ID}); err != nil || o2.ID != o.ID {
		t.Errorf("SetActiveOrganization = %v, %v", o2, err)
	}
	if o2, err := e.p.GetOrganization(ctx, asBob, org.GetOrganizationInput{}); err != nil || o2 != nil {
		t.Errorf("GetOrganization without an active organization = %v, %v", o2, err)
	}
	if l, err := e.p.ListUserInvitations(ctx, nil); errAnswer(err).Status != 400 || l != nil {
		t.Errorf("ListUserInvitations(nil) = %v, %v", l, err)
	}
	if _, err := e.p.CreateTeam(ctx, asAlice, org.CreateTeamInput{OrganizationID: o.ID, Name: "T"}); errAnswer(err).Status != 400 {
		t.Errorf("CreateTeam without teams: %v", err)
	}
	if _, _, err := e.p.CreateOrganization(ctx, nil, org.CreateOrganizationInput{Name: "X", Slug: "xx"}); !errors.Is(err, auth.ErrUnauthorized) {
		t.Errorf("CreateOrganization without a session or user: %v", err)
	}
}

// TestAllowUserToCreateOrganization: the option decides for a user acting
// with a session, not for the server acting on a user's behalf.
func TestAllowUserToCreateOrganization(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Options{AllowUserToCreateOrganization: func(context.Context, *auth.User) (bool, error) { return false, nil }})
	u := e.newUser("U")
	_, _, err := e.p.CreateOrganization(ctx, u.sessionData(), org.CreateOrganizationInput{Name: "X", Slug: "xx"})
	if got := errAnswer(err); got != (answer{Status: 403, Code: org.CodeNotAllowedToCreateOrganization}) {
		t.Errorf("with a session: %+v", got)
	}
	if r := u.post("/organization/create", map[string]any{"name": "X", "slug": "xx"}); r.status != 403 || r.code() != org.CodeNotAllowedToCreateOrganization {
		t.Errorf("over HTTP: %d %s", r.status, r.raw)
	}
	if _, _, err := e.p.CreateOrganization(ctx, nil, org.CreateOrganizationInput{UserID: u.user.ID, Name: "X", Slug: "xx"}); err != nil {
		t.Errorf("server on the user's behalf: %v", err)
	}
}
