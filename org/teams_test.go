package org_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/storage"
)

func TestTeams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Options{Teams: org.TeamOptions{Enabled: true, MaximumTeams: 3, MaximumMembersPerTeam: 2}})
	owner := e.newUser("Owner")
	bob := e.newUser("Bob")
	carol := e.newUser("Carol")
	dan := e.newUser("Dan")

	r := must(t, owner.post("/organization/create", map[string]any{"name": "Acme", "slug": "acme"}))
	orgID := r.str("id")
	// The default team is named after the organization, has the creator,
	// and becomes the active team.
	teams := must(t, owner.get("/organization/list-teams")).arr()
	if len(teams) != 1 || teams[0].(map[string]any)["name"] != "Acme" {
		t.Fatalf("list-teams = %v", teams)
	}
	if _, ok := teams[0].(map[string]any)["memberCount"]; ok {
		t.Errorf("memberCount exposed")
	}
	defTeam := teams[0].(map[string]any)["id"].(string)
	if s := owner.session(); s[org.FieldActiveTeamID] != defTeam {
		t.Errorf("active team = %v", s[org.FieldActiveTeamID])
	}
	if full := must(t, owner.get("/organization/get-full-organization")).obj(); len(full["teams"].([]any)) != 1 {
		t.Errorf("full teams = %v", full["teams"])
	}

	// create-team, update-team.
	dev := must(t, owner.post("/organization/create-team", map[string]any{"name": "Dev"})).str("id")
	if r := must(t, owner.post("/organization/update-team", map[string]any{"teamId": dev, "data": map[string]any{"name": "Devs"}})); r.str("name") != "Devs" {
		t.Errorf("update-team = %s", r.raw)
	}

	// Invitation into a team: accepting joins it and makes it active.
	inv := must(t, owner.post("/organization/invite-member", map[string]any{"email": bob.user.Email, "role": "member", "teamId": dev}))
	if inv.str("teamId") != dev {
		t.Errorf("invitation teamId = %s", inv.raw)
	}
	must(t, bob.post("/organization/accept-invitation", map[string]any{"invitationId": inv.str("id")}))
	if s := bob.session(); s[org.FieldActiveTeamID] != dev {
		t.Errorf("bob's active team = %v", s[org.FieldActiveTeamID])
	}
	tm := must(t, bob.get("/organization/list-team-members")).arr()
	if len(tm) != 1 || tm[0].(map[string]any)["userId"] != bob.user.ID {
		t.Errorf("list-team-members = %v", tm)
	}
	if _, ok := tm[0].(map[string]any)["membershipKey"]; ok {
		t.Errorf("membershipKey exposed")
	}

	// add-team-member needs an organization member; the team cap holds.
	e.join(owner, carol, orgID, "member")
	e.join(owner, dan, orgID, "member")
	if r := owner.post("/organization/add-team-member", map[string]any{"teamId": dev, "userId": "nobody"}); r.status != 400 || r.code() != org.CodeUserNotMember {
		t.Errorf("add non-member = %d %s", r.status, r.raw)
	}
	must(t, owner.post("/organization/add-team-member", map[string]any{"teamId": dev, "userId": carol.user.ID}))
	if r := owner.post("/organization/add-team-member", map[string]any{"teamId": dev, "userId": dan.user.ID}); r.status != 403 || r.code() != org.CodeTeamMemberLimitReached {
		t.Errorf("team cap = %d %s", r.status, r.raw)
	}
	if r := carol.post("/organization/add-team-member", map[string]any{"teamId": dev, "userId": dan.user.ID}); r.status != 403 || r.code() != org.CodeNotAllowedToCreateTeamMember {
		t.Errorf("member adds = %d %s", r.status, r.raw)
	}
	rec, _ := e.db.FindOne(ctx, org.TableTeam, storage.W("id", dev))
	if rec.Int("memberCount") != 2 {
		t.Errorf("memberCount = %d", rec.Int("memberCount"))
	}

	// list-user-teams: own teams, or another member's for a member:update holder.
	ut := must(t, bob.get("/organization/list-user-teams")).arr()
	if len(ut) != 1 || ut[0].(map[string]any)["id"] != dev {
		t.Errorf("list-user-teams = %v", ut)
	}
	if r := must(t, owner.get("/organization/list-user-teams", "userId", carol.user.ID)); len(r.arr()) != 1 {
		t.Errorf("list-user-teams of carol = %s", r.raw)
	}
	if r := bob.get("/organization/list-user-teams", "userId", carol.user.ID); r.status != 403 {
		t.Errorf("member lists others' teams = %d %s", r.status, r.raw)
	}

	// set-active-team.
	must(t, carol.post("/organization/set-active", map[string]any{"organizationId": nil}))
	if r := carol.post("/organization/set-active-team", map[string]any{"teamId": defTeam}); r.status != 400 || r.code() != org.CodeNoActiveOrganization {
		t.Errorf("set-active-team without org = %d %s", r.status, r.raw)
	}
	must(t, carol.post("/organization/set-active", map[string]any{"organizationId": orgID}))
	if r := carol.post("/organization/set-active-team", map[string]any{"teamId": defTeam}); r.status != 403 || r.code() != org.CodeUserNotTeamMember {
		t.Errorf("set-active-team not member = %d %s", r.status, r.raw)
	}
	if r := must(t, carol.post("/organization/set-active-team", map[string]any{"teamId": dev})); r.str("id") != dev {
		t.Errorf("set-active-team = %s", r.raw)
	}

	// remove-team-member clears the removed user's active team.
	if r := must(t, owner.post("/organization/remove-team-member", map[string]any{"teamId": dev, "userId": carol.user.ID})); r.str("message") != "Team member removed successfully." {
		t.Errorf("remove-team-member = %s", r.raw)
	}
	if s := carol.session(); s[org.FieldActiveTeamID] != nil {
		t.Errorf("carol's active team = %v", s[org.FieldActiveTeamID])
	}
	if r := owner.post("/organization/remove-team-member", map[string]any{"teamId": dev, "userId": carol.user.ID}); r.status != 400 || r.code() != org.CodeUserNotTeamMember {
		t.Errorf("remove again = %d %s", r.status, r.raw)
	}

	// Team limit, and the last team cannot be removed.
	must(t, owner.post("/organization/create-team", map[string]any{"name": "Ops"}))
	if r := owner.post("/organization/create-team", map[string]any{"name": "More"}); r.status != 400 || r.code() != org.CodeMaximumTeamsReached {
		t.Errorf("team limit = %d %s", r.status, r.raw)
	}
	if r := carol.post("/organization/create-team", map[string]any{"name": "Mine"}); r.status != 403 || r.code() != org.CodeNotAllowedToCreateTeams {
		t.Errorf("member creates team = %d %s", r.status, r.raw)
	}
	// The owner's active team cannot be removed by them.
	if r := owner.post("/organization/remove-team", map[string]any{"teamId": defTeam}); r.status != 403 || r.code() != org.CodeNotAllowedToDeleteTeam {
		t.Errorf("remove active team = %d %s", r.status, r.raw)
	}
	if r := must(t, owner.post("/organization/remove-team", map[string]any{"teamId": dev})); r.str("message") != "Team removed successfully." {
		t.Errorf("remove-team = %s", r.raw)
	}
	if s := bob.session(); s[org.FieldActiveTeamID] != nil {
		t.Errorf("bob's active team after removal = %v", s[org.FieldActiveTeamID])
	}
	if n, _ := e.db.Count(ctx, org.TableTeamMember, storage.W("teamId", dev)); n != 0 {
		t.Errorf("%d team members left", n)
	}
	must(t, owner.post("/organization/set-active-team", map[string]any{"teamId": nil}))
	teams = must(t, owner.get("/organization/list-teams")).arr()
	for _, x := range teams[1:] {
		must(t, owner.post("/organization/remove-team", map[string]any{"teamId": x.(map[string]any)["id"]}))
	}
	if r := owner.post("/organization/remove-team", map[string]any{"teamId": defTeam}); r.status != 400 || r.code() != org.CodeUnableToRemoveLastTeam {
		t.Errorf("remove last team = %d %s", r.status, r.raw)
	}

	// Removing a member drops their team memberships.
	must(t, owner.post("/organization/remove-member", map[string]any{"memberIdOrEmail": bob.user.Email}))
	if n, _ := e.db.Count(ctx, org.TableTeamMember, storage.W("userId", bob.user.ID)); n != 0 {
		t.Errorf("%d team memberships of a removed member", n)
	}

	// Deleting the organization deletes its teams.
	must(t, owner.post("/organization/delete", map[string]any{"organizationId": orgID}))
	if n, _ := e.db.Count(ctx, org.TableTeam, storage.W("organizationId", orgID)); n != 0 {
		t.Errorf("%d teams left", n)
	}
	if s := owner.session(); s[org.FieldActiveTeamID] != nil || s[org.FieldActiveOrganizationID] != nil {
		t.Errorf("active after delete = %v", s)
	}
}

func TestTeamInvitationChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{Teams: org.TeamOptions{Enabled: true, DisableDefaultTeam: true}})
	owner := e.newUser("Owner")
	other := e.newUser("Other")
	orgID := owner.createOrg("acme")
	if r := must(t, owner.get("/organization/list-teams")); len(r.arr()) != 0 {
		t.Errorf("default team created: %s", r.raw)
	}
	if s := owner.session(); s[org.FieldActiveTeamID] != nil {
		t.Errorf("active team = %v", s[org.FieldActiveTeamID])
	}
	otherOrg := other.createOrg("other")
	otherTeam := must(t, other.post("/organization/create-team", map[string]any{"name": "T", "organizationId": otherOrg})).str("id")
	for _, tc := range []struct {
		teamID any
		status int
		code   string
	}{
		{otherTeam, 400, org.CodeTeamNotFound},
		{"nope", 400, org.CodeTeamNotFound},
		{"a,b", 400, org.CodeInvalidTeamID},
		{[]string{"nope"}, 400, org.CodeTeamNotFound},
	} {
		r := owner.post("/organization/invite-member", map[string]any{"organizationId": orgID, "email": "x@example.com", "role": "member", "teamId": tc.teamID})
		if r.status != tc.status || r.code() != tc.code {
			t.Errorf("teamId %v = %d %s", tc.teamID, r.status, r.raw)
		}
	}
	want := []any{}
	if diff := cmp.Diff(want, must(t, owner.get("/organization/list-invitations")).arr()); diff != "" {
		t.Errorf("invitations created (-want +got):\n%s", diff)
	}
}
