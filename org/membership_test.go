package org_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// answer is what a route answered, as far as this test compares it.
type answer struct {
	Status  int
	Code    string
	Message string
	Null    bool // the body is JSON null
}

// TestMembershipAnswers asks every organization route, over HTTP, about an
// organization that does not exist, one the caller is not (or no longer) a
// member of, one where the caller lacks the permission, and unknown
// members, invitations and teams; and, for the routes that fall back to
// the session's active organization, with no active organization and with
// a stale one (an organization the caller was removed from, as a session
// cookie cache can still carry). Each row wants what Better Auth 1.7.25
// answers to the same request (observed against its reference server with
// teams enabled); the deliberate differences are marked. Nothing but the
// caller's active organization may change, and that only where Better Auth
// clears it.
func TestMembershipAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Options{Teams: org.TeamOptions{Enabled: true}})
	owner, member, outsider := e.newUser("Owner"), e.newUser("Member"), e.newUser("Outsider")
	removed, stale, nobody := e.newUser("Removed"), e.newUser("Stale"), e.newUser("Nobody")
	orgID := owner.createOrg("acme")
	otherID := outsider.createOrg("other")
	memberID := e.join(owner, member, orgID, "member")
	for _, u := range []*client{removed, stale} {
		e.join(owner, u, orgID, "member")
		must(t, owner.post("/organization/remove-member", map[string]any{"memberIdOrEmail": u.user.Email}))
	}
	teamID := func(c *client) string {
		return must(t, c.get("/organization/list-teams")).arr()[0].(map[string]any)["id"].(string)
	}
	team1, otherTeam := teamID(owner), teamID(outsider)
	team2 := must(t, owner.post("/organization/create-team", map[string]any{"name": "Second"})).str("id")
	otherMember := e.memberID(otherID, outsider)
	invitation := owner.invite(orgID, "invitee@example.com", "member")
	otherInvitation := outsider.invite(otherID, "someone@example.com", "member")
	const unknown = "does-not-exist"

	// The active organization each caller's session holds before each row.
	active := map[*client]string{owner: orgID, member: orgID, outsider: otherID, stale: orgID}
	activeOf := func(c *client) string {
		t.Helper()
		r, err := e.db.FindOne(ctx, plugin.TableSession, storage.W("token", c.token))
		if err != nil {
			t.Fatal(err)
		}
		return r.String(org.FieldActiveOrganizationID)
	}
	setActive := func(c *client, id string) {
		t.Helper()
		var v any
		if id != "" {
			v = id
		}
		if _, err := e.db.Update(ctx, plugin.TableSession, storage.Record{org.FieldActiveOrganizationID: v}, storage.W("token", c.token)); err != nil {
			t.Fatal(err)
		}
	}

	fail := func(status int, code string) answer {
		return answer{Status: status, Code: code, Message: org.Message(code)}
	}
	ok, null := answer{Status: 200}, answer{Status: 200, Null: true}
	type body = map[string]any
	type row struct {
		name   string // route: case
		who    *client
		method string
		path   string
		body   body
		query  []string
		want   answer
		clears bool // the caller's active organization is cleared
	}
	P, G := "POST", "GET"
	perm := body{"member": []string{"create"}}
	rows := []row{
		{"update: unknown organization", owner, P, "/organization/update", body{"organizationId": unknown, "data": body{"name": "x"}}, nil, fail(400, org.CodeUserNotMember), false},
		{"update: non-member", outsider, P, "/organization/update", body{"organizationId": orgID, "data": body{"name": "x"}}, nil, fail(400, org.CodeUserNotMember), false},
		{"update: removed member", removed, P, "/organization/update", body{"organizationId": orgID, "data": body{"name": "x"}}, nil, fail(400, org.CodeUserNotMember), false},
		{"update: no permission", member, P, "/organization/update", body{"organizationId": orgID, "data": body{"name": "x"}}, nil, fail(403, org.CodeNotAllowedToUpdateOrganization), false},
		{"update: no active organization", nobody, P, "/organization/update", body{"data": body{"name": "x"}}, nil, fail(400, org.CodeOrganizationNotFound), false},
		{"update: stale active organization", stale, P, "/organization/update", body{"data": body{"name": "x"}}, nil, fail(400, org.CodeUserNotMember), false},

		{"delete: unknown organization", owner, P, "/organization/delete", body{"organizationId": unknown}, nil, fail(400, org.CodeUserNotMember), false},
		{"delete: non-member", outsider, P, "/organization/delete", body{"organizationId": orgID}, nil, fail(400, org.CodeUserNotMember), false},
		{"delete: no permission", member, P, "/organization/delete", body{"organizationId": orgID}, nil, fail(403, org.CodeNotAllowedToDeleteOrganization), false},

		{"set-active: unknown organization", owner, P, "/organization/set-active", body{"organizationId": unknown}, nil, fail(403, org.CodeUserNotMember), true},
		{"set-active: unknown slug", owner, P, "/organization/set-active", body{"organizationSlug": unknown}, nil, fail(400, org.CodeOrganizationNotFound), false},
		{"set-active: non-member", outsider, P, "/organization/set-active", body{"organizationId": orgID}, nil, fail(403, org.CodeUserNotMember), true},
		{"set-active: non-member by slug", outsider, P, "/organization/set-active", body{"organizationSlug": "acme"}, nil, fail(403, org.CodeUserNotMember), true},
		{"set-active: no active organization", nobody, P, "/organization/set-active", body{}, nil, null, false},
		{"set-active: stale active organization", stale, P, "/organization/set-active", body{}, nil, fail(403, org.CodeUserNotMember), true},

		{"get-organization: unknown organization", owner, G, "/organization/get-organization", nil, []string{"organizationId", unknown}, fail(400, org.CodeOrganizationNotFound), false},
		{"get-organization: unknown slug", owner, G, "/organization/get-organization", nil, []string{"organizationSlug", unknown}, fail(400, org.CodeOrganizationNotFound), false},
		{"get-organization: non-member", outsider, G, "/organization/get-organization", nil, []string{"organizationId", orgID}, fail(403, org.CodeUserNotMember), true},
		{"get-organization: non-member by slug", outsider, G, "/organization/get-organization", nil, []string{"organizationSlug", "acme"}, fail(403, org.CodeUserNotMember), true},
		{"get-organization: removed member", removed, G, "/organization/get-organization", nil, []string{"organizationId", orgID}, fail(403, org.CodeUserNotMember), false},
		{"get-organization: member", member, G, "/organization/get-organization", nil, []string{"organizationId", orgID}, ok, false},
		{"get-organization: no active organization", nobody, G, "/organization/get-organization", nil, nil, null, false},
		{"get-organization: stale active organization", stale, G, "/organization/get-organization", nil, nil, fail(403, org.CodeUserNotMember), true},

		{"get-full-organization: unknown organization", owner, G, "/organization/get-full-organization", nil, []string{"organizationId", unknown}, fail(400, org.CodeOrganizationNotFound), false},
		{"get-full-organization: unknown slug", owner, G, "/organization/get-full-organization", nil, []string{"organizationSlug", unknown}, fail(400, org.CodeOrganizationNotFound), false},
		{"get-full-organization: non-member", outsider, G, "/organization/get-full-organization", nil, []string{"organizationId", orgID}, fail(403, org.CodeUserNotMember), true},
		{"get-full-organization: non-member by slug", outsider, G, "/organization/get-full-organization", nil, []string{"organizationSlug", "acme"}, fail(403, org.CodeUserNotMember), true},
		{"get-full-organization: removed member", removed, G, "/organization/get-full-organization", nil, []string{"organizationId", orgID}, fail(403, org.CodeUserNotMember), false},
		{"get-full-organization: member", member, G, "/organization/get-full-organization", nil, []string{"organizationId", orgID}, ok, false},
		{"get-full-organization: no active organization", nobody, G, "/organization/get-full-organization", nil, nil, null, false},
		{"get-full-organization: stale active organization", stale, G, "/organization/get-full-organization", nil, nil, fail(403, org.CodeUserNotMember), true},

		{"invite-member: unknown organization", owner, P, "/organization/invite-member", body{"organizationId": unknown, "email": "new@example.com", "role": "member"}, nil, fail(400, org.CodeMemberNotFound), false},
		{"invite-member: non-member", outsider, P, "/organization/invite-member", body{"organizationId": orgID, "email": "new@example.com", "role": "member"}, nil, fail(400, org.CodeMemberNotFound), false},
		{"invite-member: no permission", member, P, "/organization/invite-member", body{"organizationId": orgID, "email": "new@example.com", "role": "member"}, nil, fail(403, org.CodeNotAllowedToInvite), false},
		{"invite-member: unknown team", owner, P, "/organization/invite-member", body{"email": "new@example.com", "role": "member", "teamId": unknown}, nil, fail(400, org.CodeTeamNotFound), false},
		{"invite-member: other organization's team", owner, P, "/organization/invite-member", body{"email": "new@example.com", "role": "member", "teamId": otherTeam}, nil, fail(400, org.CodeTeamNotFound), false},
		{"invite-member: no active organization", nobody, P, "/organization/invite-member", body{"email": "new@example.com", "role": "member"}, nil, fail(400, org.CodeOrganizationNotFound), false},
		{"invite-member: stale active organization", stale, P, "/organization/invite-member", body{"email": "new@example.com", "role": "member"}, nil, fail(400, org.CodeMemberNotFound), false},

		{"cancel-invitation: unknown invitation", owner, P, "/organization/cancel-invitation", body{"invitationId": unknown}, nil, fail(400, org.CodeInvitationNotFound), false},
		{"cancel-invitation: non-member", nobody, P, "/organization/cancel-invitation", body{"invitationId": invitation}, nil, fail(400, org.CodeMemberNotFound), false},
		{"cancel-invitation: no permission", member, P, "/organization/cancel-invitation", body{"invitationId": invitation}, nil, fail(403, org.CodeNotAllowedToCancelInvitation), false},
		{"cancel-invitation: other organization's invitation", owner, P, "/organization/cancel-invitation", body{"invitationId": otherInvitation}, nil, fail(400, org.CodeMemberNotFound), false},

		{"accept-invitation: unknown invitation", nobody, P, "/organization/accept-invitation", body{"invitationId": unknown}, nil, fail(400, org.CodeInvitationNotFound), false},
		{"accept-invitation: not the recipient", nobody, P, "/organization/accept-invitation", body{"invitationId": invitation}, nil, fail(403, org.CodeNotRecipient), false},
		{"reject-invitation: unknown invitation", nobody, P, "/organization/reject-invitation", body{"invitationId": unknown}, nil, answer{Status: 400, Code: org.CodeInvitationNotFound, Message: "Invitation not found!"}, false},
		{"reject-invitation: not the recipient", nobody, P, "/organization/reject-invitation", body{"invitationId": invitation}, nil, fail(403, org.CodeNotRecipient), false},
		{"get-invitation: unknown invitation", nobody, G, "/organization/get-invitation", nil, []string{"id", unknown}, fail(400, org.CodeInvitationNotFound), false},
		{"get-invitation: not the recipient", nobody, G, "/organization/get-invitation", nil, []string{"id", invitation}, fail(403, org.CodeNotRecipient), false},

		// Better Auth's list-invitations errors carry no code.
		{"list-invitations: unknown organization", owner, G, "/organization/list-invitations", nil, []string{"organizationId", unknown}, answer{Status: 403, Message: "You are not a member of this organization"}, false},
		{"list-invitations: non-member", outsider, G, "/organization/list-invitations", nil, []string{"organizationId", orgID}, answer{Status: 403, Message: "You are not a member of this organization"}, false},
		{"list-invitations: no permission", member, G, "/organization/list-invitations", nil, []string{"organizationId", orgID}, fail(403, org.CodeNotAllowedToListInvitations), false},
		{"list-invitations: no active organization", nobody, G, "/organization/list-invitations", nil, nil, answer{Status: 400, Message: "Organization ID is required"}, false},
		{"list-invitations: stale active organization", stale, G, "/organization/list-invitations", nil, nil, answer{Status: 403, Message: "You are not a member of this organization"}, false},
		{"list-user-invitations: unverified email", e.newUserEmail("Unverified", "unverified@example.com", false), G, "/organization/list-user-invitations", nil, nil, fail(403, org.CodeEmailVerificationRequired), false},

		{"remove-member: unknown organization", owner, P, "/organization/remove-member", body{"organizationId": unknown, "memberIdOrEmail": memberID}, nil, fail(400, org.CodeMemberNotFound), false},
		{"remove-member: non-member", outsider, P, "/organization/remove-member", body{"organizationId": orgID, "memberIdOrEmail": memberID}, nil, fail(400, org.CodeMemberNotFound), false},
		{"remove-member: no permission", member, P, "/organization/remove-member", body{"organizationId": orgID, "memberIdOrEmail": memberID}, nil, fail(401, org.CodeNotAllowedToDeleteMember), false},
		{"remove-member: unknown member", owner, P, "/organization/remove-member", body{"memberIdOrEmail": unknown}, nil, fail(400, org.CodeMemberNotFound), false},
		{"remove-member: unknown email", owner, P, "/organization/remove-member", body{"memberIdOrEmail": "nobody@example.com"}, nil, fail(400, org.CodeMemberNotFound), false},
		// Deliberate: Better Auth first applies its owner rules to the other
		// organization's member (here 400 YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER),
		// telling the caller about that organization's owners.
		{"remove-member: other organization's member", owner, P, "/organization/remove-member", body{"memberIdOrEmail": otherMember}, nil, fail(400, org.CodeMemberNotFound), false},
		{"remove-member: other organization's member by email", owner, P, "/organization/remove-member", body{"memberIdOrEmail": outsider.user.Email}, nil, fail(400, org.CodeMemberNotFound), false},
		{"remove-member: no active organization", nobody, P, "/organization/remove-member", body{"memberIdOrEmail": memberID}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"remove-member: stale active organization", stale, P, "/organization/remove-member", body{"memberIdOrEmail": memberID}, nil, fail(400, org.CodeMemberNotFound), false},

		{"update-member-role: unknown organization", owner, P, "/organization/update-member-role", body{"organizationId": unknown, "memberId": memberID, "role": "admin"}, nil, fail(400, org.CodeMemberNotFound), false},
		{"update-member-role: non-member", outsider, P, "/organization/update-member-role", body{"organizationId": orgID, "memberId": memberID, "role": "admin"}, nil, fail(400, org.CodeMemberNotFound), false},
		{"update-member-role: no permission", member, P, "/organization/update-member-role", body{"organizationId": orgID, "memberId": memberID, "role": "admin"}, nil, fail(403, org.CodeNotAllowedToUpdateMember), false},
		{"update-member-role: unknown member", owner, P, "/organization/update-member-role", body{"memberId": unknown, "role": "admin"}, nil, fail(400, org.CodeMemberNotFound), false},
		{"update-member-role: other organization's member", owner, P, "/organization/update-member-role", body{"memberId": otherMember, "role": "admin"}, nil, fail(403, org.CodeNotAllowedToUpdateMember), false},
		{"update-member-role: no active organization", nobody, P, "/organization/update-member-role", body{"memberId": memberID, "role": "admin"}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"update-member-role: stale active organization", stale, P, "/organization/update-member-role", body{"memberId": memberID, "role": "admin"}, nil, fail(400, org.CodeMemberNotFound), false},

		{"get-active-member: no active organization", nobody, G, "/organization/get-active-member", nil, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"get-active-member: stale active organization", stale, G, "/organization/get-active-member", nil, nil, fail(400, org.CodeMemberNotFound), false},

		{"get-active-member-role: unknown organization", owner, G, "/organization/get-active-member-role", nil, []string{"organizationId", unknown}, fail(403, org.CodeNotAMember), false},
		{"get-active-member-role: unknown slug", owner, G, "/organization/get-active-member-role", nil, []string{"organizationSlug", unknown}, fail(400, org.CodeOrganizationNotFound), false},
		{"get-active-member-role: non-member", outsider, G, "/organization/get-active-member-role", nil, []string{"organizationId", orgID}, fail(403, org.CodeNotAMember), false},
		{"get-active-member-role: non-member by slug", outsider, G, "/organization/get-active-member-role", nil, []string{"organizationSlug", "acme"}, fail(403, org.CodeNotAMember), false},
		{"get-active-member-role: unknown user", owner, G, "/organization/get-active-member-role", nil, []string{"userId", unknown}, fail(403, org.CodeNotAMember), false},
		{"get-active-member-role: no active organization", nobody, G, "/organization/get-active-member-role", nil, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"get-active-member-role: stale active organization", stale, G, "/organization/get-active-member-role", nil, nil, fail(403, org.CodeNotAMember), false},

		{"list-members: unknown organization", owner, G, "/organization/list-members", nil, []string{"organizationId", unknown}, fail(403, org.CodeNotAMember), false},
		{"list-members: unknown slug", owner, G, "/organization/list-members", nil, []string{"organizationSlug", unknown}, fail(400, org.CodeOrganizationNotFound), false},
		{"list-members: non-member", outsider, G, "/organization/list-members", nil, []string{"organizationId", orgID}, fail(403, org.CodeNotAMember), false},
		{"list-members: non-member by slug", outsider, G, "/organization/list-members", nil, []string{"organizationSlug", "acme"}, fail(403, org.CodeNotAMember), false},
		{"list-members: removed member", removed, G, "/organization/list-members", nil, []string{"organizationId", orgID}, fail(403, org.CodeNotAMember), false},
		{"list-members: no active organization", nobody, G, "/organization/list-members", nil, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"list-members: stale active organization", stale, G, "/organization/list-members", nil, nil, fail(403, org.CodeNotAMember), false},

		{"leave: unknown organization", owner, P, "/organization/leave", body{"organizationId": unknown}, nil, fail(400, org.CodeMemberNotFound), false},
		{"leave: non-member", outsider, P, "/organization/leave", body{"organizationId": orgID}, nil, fail(400, org.CodeMemberNotFound), false},

		{"has-permission: unknown organization", owner, P, "/organization/has-permission", body{"organizationId": unknown, "permissions": perm}, nil, fail(401, org.CodeUserNotMember), false},
		{"has-permission: non-member", outsider, P, "/organization/has-permission", body{"organizationId": orgID, "permissions": perm}, nil, fail(401, org.CodeUserNotMember), false},
		{"has-permission: no permission", member, P, "/organization/has-permission", body{"organizationId": orgID, "permissions": perm}, nil, ok, false},
		{"has-permission: no active organization", nobody, P, "/organization/has-permission", body{"permissions": perm}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"has-permission: stale active organization", stale, P, "/organization/has-permission", body{"permissions": perm}, nil, fail(401, org.CodeUserNotMember), false},

		// Better Auth answers a non-member of create-team with the invite code.
		{"create-team: unknown organization", owner, P, "/organization/create-team", body{"organizationId": unknown, "name": "t"}, nil, fail(403, org.CodeNotAllowedToInvite), false},
		{"create-team: non-member", outsider, P, "/organization/create-team", body{"organizationId": orgID, "name": "t"}, nil, fail(403, org.CodeNotAllowedToInvite), false},
		{"create-team: no permission", member, P, "/organization/create-team", body{"organizationId": orgID, "name": "t"}, nil, fail(403, org.CodeNotAllowedToCreateTeams), false},
		{"create-team: no active organization", nobody, P, "/organization/create-team", body{"name": "t"}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"create-team: stale active organization", stale, P, "/organization/create-team", body{"name": "t"}, nil, fail(403, org.CodeNotAllowedToInvite), false},

		{"remove-team: unknown organization", owner, P, "/organization/remove-team", body{"organizationId": unknown, "teamId": team2}, nil, fail(403, org.CodeNotAllowedToDeleteTeam), false},
		{"remove-team: non-member", outsider, P, "/organization/remove-team", body{"organizationId": orgID, "teamId": team2}, nil, fail(403, org.CodeNotAllowedToDeleteTeam), false},
		{"remove-team: no permission", member, P, "/organization/remove-team", body{"organizationId": orgID, "teamId": team2}, nil, fail(403, org.CodeNotAllowedToDeleteTeams), false},
		{"remove-team: unknown team", owner, P, "/organization/remove-team", body{"teamId": unknown}, nil, fail(400, org.CodeTeamNotFound), false},
		{"remove-team: other organization's team", owner, P, "/organization/remove-team", body{"teamId": otherTeam}, nil, fail(400, org.CodeTeamNotFound), false},
		{"remove-team: no active organization", nobody, P, "/organization/remove-team", body{"teamId": team2}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"remove-team: stale active organization", stale, P, "/organization/remove-team", body{"teamId": team2}, nil, fail(403, org.CodeNotAllowedToDeleteTeam), false},

		{"update-team: unknown organization", owner, P, "/organization/update-team", body{"teamId": team2, "data": body{"name": "u", "organizationId": unknown}}, nil, fail(403, org.CodeNotAllowedToUpdateTeam), false},
		{"update-team: non-member", outsider, P, "/organization/update-team", body{"teamId": team2, "data": body{"name": "u", "organizationId": orgID}}, nil, fail(403, org.CodeNotAllowedToUpdateTeam), false},
		{"update-team: no permission", member, P, "/organization/update-team", body{"teamId": team2, "data": body{"name": "u", "organizationId": orgID}}, nil, fail(403, org.CodeNotAllowedToUpdateTeam), false},
		{"update-team: unknown team", owner, P, "/organization/update-team", body{"teamId": unknown, "data": body{"name": "u"}}, nil, fail(400, org.CodeTeamNotFound), false},
		{"update-team: other organization's team", owner, P, "/organization/update-team", body{"teamId": otherTeam, "data": body{"name": "u"}}, nil, fail(400, org.CodeTeamNotFound), false},
		{"update-team: no active organization", nobody, P, "/organization/update-team", body{"teamId": team2, "data": body{"name": "u"}}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"update-team: stale active organization", stale, P, "/organization/update-team", body{"teamId": team2, "data": body{"name": "u"}}, nil, fail(403, org.CodeNotAllowedToUpdateTeam), false},

		{"list-teams: unknown organization", owner, G, "/organization/list-teams", nil, []string{"organizationId", unknown}, fail(403, org.CodeNotAllowedToAccessOrganization), false},
		{"list-teams: non-member", outsider, G, "/organization/list-teams", nil, []string{"organizationId", orgID}, fail(403, org.CodeNotAllowedToAccessOrganization), false},
		{"list-teams: no active organization", nobody, G, "/organization/list-teams", nil, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"list-teams: stale active organization", stale, G, "/organization/list-teams", nil, nil, fail(403, org.CodeNotAllowedToAccessOrganization), false},

		{"set-active-team: unknown team", owner, P, "/organization/set-active-team", body{"teamId": unknown}, nil, fail(400, org.CodeTeamNotFound), false},
		{"set-active-team: other organization's team", owner, P, "/organization/set-active-team", body{"teamId": otherTeam}, nil, fail(400, org.CodeTeamNotFound), false},
		{"set-active-team: not in the team", member, P, "/organization/set-active-team", body{"teamId": team2}, nil, fail(403, org.CodeUserNotTeamMember), false},
		{"set-active-team: no active organization", nobody, P, "/organization/set-active-team", body{"teamId": team2}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"set-active-team: stale active organization", stale, P, "/organization/set-active-team", body{"teamId": team1}, nil, fail(403, org.CodeUserNotTeamMember), false},

		{"list-user-teams: own, non-member", outsider, G, "/organization/list-user-teams", nil, []string{"organizationId", orgID}, fail(403, org.CodeNotAMember), false},
		{"list-user-teams: own, unknown organization", owner, G, "/organization/list-user-teams", nil, []string{"organizationId", unknown}, fail(403, org.CodeNotAMember), false},
		{"list-user-teams: another's, non-member", outsider, G, "/organization/list-user-teams", nil, []string{"userId", owner.user.ID, "organizationId", orgID}, fail(403, org.CodeNotAMember), false},
		{"list-user-teams: another's, no permission", member, G, "/organization/list-user-teams", nil, []string{"userId", owner.user.ID, "organizationId", orgID}, fail(403, org.CodeNotAllowedToUpdateMember), false},
		{"list-user-teams: another's, unknown user", owner, G, "/organization/list-user-teams", nil, []string{"userId", unknown, "organizationId", orgID}, fail(400, org.CodeUserNotMember), false},
		{"list-user-teams: another's, no active organization", nobody, G, "/organization/list-user-teams", nil, []string{"userId", owner.user.ID}, fail(400, org.CodeNoActiveOrganization), false},
		{"list-user-teams: another's, stale active organization", stale, G, "/organization/list-user-teams", nil, []string{"userId", owner.user.ID}, fail(403, org.CodeNotAMember), false},

		{"list-team-members: unknown team", owner, G, "/organization/list-team-members", nil, []string{"teamId", unknown}, fail(400, org.CodeTeamNotFound), false},
		{"list-team-members: non-member", outsider, G, "/organization/list-team-members", nil, []string{"teamId", team1}, fail(400, org.CodeUserNotTeamMember), false},
		{"list-team-members: not in the team", member, G, "/organization/list-team-members", nil, []string{"teamId", team2}, fail(400, org.CodeUserNotTeamMember), false},
		{"list-team-members: no active team", nobody, G, "/organization/list-team-members", nil, nil, fail(400, org.CodeNoActiveTeam), false},

		{"add-team-member: unknown organization", owner, P, "/organization/add-team-member", body{"organizationId": unknown, "teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeUserNotMember), false},
		{"add-team-member: non-member", outsider, P, "/organization/add-team-member", body{"organizationId": orgID, "teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeUserNotMember), false},
		{"add-team-member: no permission", member, P, "/organization/add-team-member", body{"organizationId": orgID, "teamId": team2, "userId": owner.user.ID}, nil, fail(403, org.CodeNotAllowedToCreateTeamMember), false},
		{"add-team-member: unknown user", owner, P, "/organization/add-team-member", body{"teamId": team2, "userId": unknown}, nil, fail(400, org.CodeUserNotMember), false},
		{"add-team-member: unknown team", owner, P, "/organization/add-team-member", body{"teamId": unknown, "userId": member.user.ID}, nil, fail(400, org.CodeTeamNotFound), false},
		{"add-team-member: other organization's team", owner, P, "/organization/add-team-member", body{"teamId": otherTeam, "userId": member.user.ID}, nil, fail(400, org.CodeTeamNotFound), false},
		{"add-team-member: no active organization", nobody, P, "/organization/add-team-member", body{"teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"add-team-member: stale active organization", stale, P, "/organization/add-team-member", body{"teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeUserNotMember), false},

		{"remove-team-member: unknown organization", owner, P, "/organization/remove-team-member", body{"organizationId": unknown, "teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeUserNotMember), false},
		{"remove-team-member: non-member", outsider, P, "/organization/remove-team-member", body{"organizationId": orgID, "teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeUserNotMember), false},
		{"remove-team-member: no permission", member, P, "/organization/remove-team-member", body{"organizationId": orgID, "teamId": team2, "userId": owner.user.ID}, nil, fail(403, org.CodeNotAllowedToRemoveTeamMember), false},
		{"remove-team-member: unknown user", owner, P, "/organization/remove-team-member", body{"teamId": team2, "userId": unknown}, nil, fail(400, org.CodeUserNotMember), false},
		{"remove-team-member: unknown team", owner, P, "/organization/remove-team-member", body{"teamId": unknown, "userId": member.user.ID}, nil, fail(400, org.CodeTeamNotFound), false},
		{"remove-team-member: other organization's team", owner, P, "/organization/remove-team-member", body{"teamId": otherTeam, "userId": member.user.ID}, nil, fail(400, org.CodeTeamNotFound), false},
		{"remove-team-member: not in the team", owner, P, "/organization/remove-team-member", body{"teamId": team2, "userId": member.user.ID}, nil, fail(400, org.CodeUserNotTeamMember), false},
		{"remove-team-member: no active organization", nobody, P, "/organization/remove-team-member", body{"teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeNoActiveOrganization), false},
		{"remove-team-member: stale active organization", stale, P, "/organization/remove-team-member", body{"teamId": team2, "userId": owner.user.ID}, nil, fail(400, org.CodeUserNotMember), false},
	}
	for _, r := range rows {
		before := active[r.who]
		setActive(r.who, before)
		data := e.snapshot()
		var b any
		if r.body != nil {
			b = r.body
		}
		res := r.who.do(r.method, r.path, b, r.query...)
		got := answer{Status: res.status, Code: res.code(), Message: res.str("message"), Null: string(bytes.TrimSpace(res.raw)) == "null"}
		if diff := cmp.Diff(r.want, got); diff != "" {
			t.Errorf("%s: answer (-want +got):\n%s\nbody: %s", r.name, diff, res.raw)
		}
		want := before
		if r.clears {
			want = ""
		}
		if a := activeOf(r.who); a != want {
			t.Errorf("%s: active organization %q, want %q", r.name, a, want)
		}
		setActive(r.who, before)
		if diff := cmp.Diff(data, e.snapshot()); diff != "" {
			t.Errorf("%s changed data (-before +after):\n%s", r.name, diff)
		}
	}
}
