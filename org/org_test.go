package org_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	for _, teams := range []bool{false, true} {
		e := newEnv(t, org.Options{Teams: org.TeamOptions{Enabled: teams}})
		var got []string
		for _, r := range e.a.Routes() {
			if strings.Contains(r, "/organization/") {
				got = append(got, strings.Replace(r, "/api/auth/organization/", " ", 1))
			}
		}
		slices.Sort(got)
		want := []string{
			"GET  get-active-member", "GET  get-active-member-role", "GET  get-full-organization", "GET  get-invitation",
			"GET  get-organization", "GET  list", "GET  list-invitations", "GET  list-members", "GET  list-user-invitations",
			"POST  accept-invitation", "POST  cancel-invitation", "POST  check-slug", "POST  create", "POST  delete",
			"POST  has-permission", "POST  invite-member", "POST  leave", "POST  reject-invitation", "POST  remove-member",
			"POST  set-active", "POST  update", "POST  update-member-role",
		}
		if teams {
			want = append(want, "GET  list-team-members", "GET  list-teams", "GET  list-user-teams",
				"POST  add-team-member", "POST  create-team", "POST  remove-team", "POST  remove-team-member",
				"POST  set-active-team", "POST  update-team")
		}
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("teams=%v routes (-want +got):\n%s", teams, diff)
		}
	}
}

func TestCreateGetListAndSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	alice := e.newUser("Alice")

	r := must(t, alice.post("/organization/create", map[string]any{
		"name": "Acme", "slug": "acme", "logo": "https://x/logo.png", "metadata": map[string]any{"plan": "pro"},
	}))
	o := r.obj()
	id := r.str("id")
	members, _ := o["members"].([]any)
	if len(members) != 1 {
		t.Fatalf("members = %v", o["members"])
	}
	m := members[0].(map[string]any)
	got := map[string]any{"name": o["name"], "slug": o["slug"], "logo": o["logo"], "metadata": o["metadata"],
		"role": m["role"], "userId": m["userId"], "organizationId": m["organizationId"]}
	want := map[string]any{"name": "Acme", "slug": "acme", "logo": "https://x/logo.png", "metadata": map[string]any{"plan": "pro"},
		"role": "owner", "userId": alice.user.ID, "organizationId": id}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	if ts, _ := o["createdAt"].(string); len(ts) != len("2006-01-02T15:04:05.000Z") || !strings.HasSuffix(ts, "Z") {
		t.Errorf("createdAt = %q, want ISO with milliseconds", ts)
	}
	if s := alice.session(); s[org.FieldActiveOrganizationID] != id {
		t.Errorf("get-session activeOrganizationId = %v, want %s", s[org.FieldActiveOrganizationID], id)
	}

	// keepCurrentActiveOrganization leaves the active one.
	id2 := must(t, alice.post("/organization/create", map[string]any{"name": "Two", "slug": "two", "keepCurrentActiveOrganization": true})).str("id")
	if s := alice.session(); s[org.FieldActiveOrganizationID] != id {
		t.Errorf("after keep: active = %v, want %s", s[org.FieldActiveOrganizationID], id)
	}

	list := must(t, alice.get("/organization/list")).arr()
	var slugs []string
	for _, x := range list {
		slugs = append(slugs, x.(map[string]any)["slug"].(string))
	}
	if diff := cmp.Diff([]string{"acme", "two"}, slugs); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}

	// get-organization / get-full-organization default to the active one.
	if r := must(t, alice.get("/organization/get-organization")); r.str("id") != id {
		t.Errorf("get-organization = %s", r.raw)
	}
	full := must(t, alice.get("/organization/get-full-organization")).obj()
	fm := full["members"].([]any)[0].(map[string]any)
	wantUser := map[string]any{"id": alice.user.ID, "name": "Alice", "email": "alice@example.com", "image": nil}
	if diff := cmp.Diff(wantUser, fm["user"]); diff != "" {
		t.Errorf("full member user (-want +got):\n%s", diff)
	}
	if _, ok := full["teams"]; ok {
		t.Errorf("teams present without teams: %v", full)
	}
	if inv, ok := full["invitations"].([]any); !ok || len(inv) != 0 {
		t.Errorf("invitations = %v, want []", full["invitations"])
	}
	if r := must(t, alice.get("/organization/get-full-organization", "organizationSlug", "two")); r.str("id") != id2 {
		t.Errorf("by slug = %s", r.raw)
	}

	// set-active switches, null clears (body null), and get-full then is null.
	if r := must(t, alice.post("/organization/set-active", map[string]any{"organizationSlug": "two"})); r.str("id") != id2 {
		t.Errorf("set-active by slug = %s", r.raw)
	}
	if s := alice.session(); s[org.FieldActiveOrganizationID] != id2 {
		t.Errorf("active = %v", s[org.FieldActiveOrganizationID])
	}
	if r := must(t, alice.post("/organization/set-active", map[string]any{"organizationId": nil})); string(r.raw) != "null" {
		t.Errorf("set-active null = %s", r.raw)
	}
	if s := alice.session(); s[org.FieldActiveOrganizationID] != nil {
		t.Errorf("active after null = %v", s[org.FieldActiveOrganizationID])
	}
	if r := must(t, alice.get("/organization/get-full-organization")); string(r.raw) != "null" {
		t.Errorf("get-full without active = %s", r.raw)
	}

	// update and check-slug.
	r = must(t, alice.post("/organization/update", map[string]any{"organizationId": id, "data": map[string]any{"name": "Acme Inc", "slug": "acme-inc", "logo": nil}}))
	if r.str("name") != "Acme Inc" || r.str("slug") != "acme-inc" || r.obj()["logo"] != nil || r.obj()["metadata"] == nil {
		t.Errorf("update = %s", r.raw)
	}
	if r := alice.post("/organization/check-slug", map[string]any{"slug": "acme-inc"}); r.status != 400 || r.code() != org.CodeSlugTaken {
		t.Errorf("check-slug taken = %d %s", r.status, r.raw)
	}
	if r := must(t, alice.post("/organization/check-slug", map[string]any{"slug": "acme"})); r.obj()["status"] != true {
		t.Errorf("check-slug free = %s", r.raw)
	}

	// delete clears the active organization of every session on it.
	other := e.signIn(alice.user)
	must(t, other.post("/organization/set-active", map[string]any{"organizationId": id}))
	must(t, alice.post("/organization/set-active", map[string]any{"organizationId": id}))
	if r := must(t, alice.post("/organization/delete", map[string]any{"organizationId": id})); r.str("id") != id {
		t.Errorf("delete = %s", r.raw)
	}
	for _, c := range []*client{alice, other} {
		if s := c.session(); s[org.FieldActiveOrganizationID] != nil {
			t.Errorf("active after delete = %v", s[org.FieldActiveOrganizationID])
		}
	}
	if n, _ := e.db.Count(context.Background(), org.TableMember, storage.W("organizationId", id)); n != 0 {
		t.Errorf("%d members left after delete", n)
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	anon := &client{e: e}
	for _, path := range []string{"/organization/create", "/organization/check-slug", "/organization/invite-member", "/organization/has-permission"} {
		var body map[string]any
		switch path {
		case "/organization/create":
			body = map[string]any{"name": "x", "slug": "xx"}
		case "/organization/check-slug":
			body = map[string]any{"slug": "xx"}
		case "/organization/invite-member":
			body = map[string]any{"email": "a@b.co", "role": "member"}
		default:
			body = map[string]any{"permissions": map[string]any{}}
		}
		if r := anon.post(path, body); r.status != 401 || r.code() != "UNAUTHORIZED" {
			t.Errorf("%s = %d %s", path, r.status, r.raw)
		}
	}
	for _, path := range []string{"/organization/list", "/organization/get-full-organization", "/organization/list-members"} {
		if r := anon.get(path); r.status != 401 {
			t.Errorf("%s = %d %s", path, r.status, r.raw)
		}
	}
	if r := anon.get("/organization/list-user-invitations"); r.status != 400 || r.str("message") != "Missing session headers, or email query parameter." {
		t.Errorf("list-user-invitations = %d %s", r.status, r.raw)
	}
}

func TestInvitationFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	alice := e.newUser("Alice")
	bob := e.newUser("Bob")
	orgID := alice.createOrg("acme")

	r := must(t, alice.post("/organization/invite-member", map[string]any{"email": "Bob@Example.com", "role": []string{"admin"}}))
	inv := r.obj()
	invID := r.str("id")
	got := map[string]any{"email": inv["email"], "role": inv["role"], "status": inv["status"], "organizationId": inv["organizationId"], "inviterId": inv["inviterId"]}
	want := map[string]any{"email": "bob@example.com", "role": "admin", "status": "pending", "organizationId": orgID, "inviterId": alice.user.ID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("invitation (-want +got):\n%s", diff)
	}
	exp, _ := time.Parse(time.RFC3339, inv["expiresAt"].(string))
	created, _ := time.Parse(time.RFC3339, inv["createdAt"].(string))
	if d := exp.Sub(created); d != 48*time.Hour {
		t.Errorf("expiry = %v after creation, want 48h", d)
	}
	if _, ok := inv["teamId"]; ok {
		t.Errorf("teamId present without teams")
	}

	mail := e.mail.last()
	wantMail := auth.Email{Kind: plugin.EmailInvitation, To: "bob@example.com", URL: baseURL + "/accept-invitation/" + invID,
		AppName: mail.AppName, Data: map[string]string{"organization": "Org acme", "organizationSlug": "acme", "inviter": "Alice",
			"inviterEmail": "alice@example.com", "role": "admin", "invitationId": invID}}
	if diff := cmp.Diff(wantMail, mail); diff != "" {
		t.Errorf("mail (-want +got):\n%s", diff)
	}

	// The invitee sees it.
	if l := must(t, bob.get("/organization/list-user-invitations")).arr(); len(l) != 1 || l[0].(map[string]any)["organizationName"] != "Org acme" {
		t.Errorf("list-user-invitations = %v", l)
	}
	g := must(t, bob.get("/organization/get-invitation", "id", invID)).obj()
	if g["organizationName"] != "Org acme" || g["organizationSlug"] != "acme" || g["inviterEmail"] != "alice@example.com" {
		t.Errorf("get-invitation = %v", g)
	}
	if l := must(t, alice.get("/organization/list-invitations")).arr(); len(l) != 1 {
		t.Errorf("list-invitations = %v", l)
	}

	// Accept: member created, active organization set, invitation accepted.
	r = must(t, bob.post("/organization/accept-invitation", map[string]any{"invitationId": invID}))
	if r.obj()["invitation"].(map[string]any)["status"] != "accepted" || r.obj()["member"].(map[string]any)["role"] != "admin" {
		t.Errorf("accept = %s", r.raw)
	}
	bobMember := r.obj()["member"].(map[string]any)["id"].(string)
	if s := bob.session(); s[org.FieldActiveOrganizationID] != orgID {
		t.Errorf("bob's active = %v", s[org.FieldActiveOrganizationID])
	}
	if r := must(t, bob.get("/organization/get-active-member")); r.str("role") != "admin" || r.obj()["user"].(map[string]any)["email"] != "bob@example.com" {
		t.Errorf("get-active-member = %s", r.raw)
	}
	if r := must(t, bob.get("/organization/get-active-member-role", "userId", alice.user.ID)); r.str("role") != "owner" {
		t.Errorf("get-active-member-role = %s", r.raw)
	}

	// list-members with roles, total, sorting and filtering.
	lm := must(t, alice.get("/organization/list-members")).obj()
	roles := map[string]string{}
	for _, x := range lm["members"].([]any) {
		m := x.(map[string]any)
		roles[m["user"].(map[string]any)["email"].(string)] = m["role"].(string)
	}
	if diff := cmp.Diff(map[string]string{"alice@example.com": "owner", "bob@example.com": "admin"}, roles); diff != "" {
		t.Errorf("list-members roles (-want +got):\n%s", diff)
	}
	if lm["total"] != 2.0 {
		t.Errorf("total = %v", lm["total"])
	}
	f := must(t, alice.get("/organization/list-members", "filterField", "role", "filterOperator", "eq", "filterValue", "admin")).obj()
	if f["total"] != 1.0 || len(f["members"].([]any)) != 1 {
		t.Errorf("filtered = %v", f)
	}
	s := must(t, alice.get("/organization/list-members", "sortBy", "createdAt", "sortDirection", "desc", "limit", "1")).obj()
	if ms := s["members"].([]any); len(ms) != 1 || ms[0].(map[string]any)["userId"] != bob.user.ID || s["total"] != 2.0 {
		t.Errorf("sorted/limited = %v", s)
	}

	// has-permission.
	for _, tc := range []struct {
		who   *client
		perms map[string]any
		want  bool
	}{
		{alice, map[string]any{"organization": []string{"delete"}}, true},
		{bob, map[string]any{"organization": []string{"delete"}}, false},
		{bob, map[string]any{"organization": []string{"update"}, "member": []string{"create", "delete"}}, true},
		{bob, map[string]any{"member": []string{}}, false},
		{bob, map[string]any{"unknown": []string{"x"}}, false},
	} {
		r := must(t, tc.who.post("/organization/has-permission", map[string]any{"permissions": tc.perms}))
		if diff := cmp.Diff(map[string]any{"error": nil, "success": tc.want}, r.obj()); diff != "" {
			t.Errorf("%s has-permission %v (-want +got):\n%s", tc.who.user.Name, tc.perms, diff)
		}
	}

	// update-member-role returns the bare member.
	r = must(t, alice.post("/organization/update-member-role", map[string]any{"memberId": bobMember, "role": "member"}))
	if r.str("role") != "member" || r.str("id") != bobMember {
		t.Errorf("update-member-role = %s", r.raw)
	}
	if _, wrapped := r.obj()["member"]; wrapped {
		t.Errorf("update-member-role wrapped: %s", r.raw)
	}
	// Multiple roles are stored comma-joined.
	if r := must(t, alice.post("/organization/update-member-role", map[string]any{"memberId": bobMember, "role": []string{"admin", " member"}})); r.str("role") != "admin,member" {
		t.Errorf("multi-role = %s", r.raw)
	}

	// remove by email; bob's active organization is cleared.
	r = must(t, alice.post("/organization/remove-member", map[string]any{"memberIdOrEmail": "bob@example.com"}))
	if m := r.obj()["member"].(map[string]any); m["id"] != bobMember {
		t.Errorf("remove-member = %s", r.raw)
	}
	if s := bob.session(); s[org.FieldActiveOrganizationID] != nil {
		t.Errorf("bob's active after removal = %v", s[org.FieldActiveOrganizationID])
	}
	if r := bob.get("/organization/get-full-organization", "organizationId", orgID); r.status != 403 || r.code() != org.CodeUserNotMember {
		t.Errorf("removed member get-full = %d %s", r.status, r.raw)
	}
}

func TestInvitationRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	alice := e.newUser("Alice")
	orgID := alice.createOrg("acme")

	// Re-inviting a pending address: 400, resend extends it and re-mails.
	id := alice.invite(orgID, "carol@example.com", "member")
	if r := alice.post("/organization/invite-member", map[string]any{"email": "carol@example.com", "role": "member"}); r.status != 400 || r.code() != org.CodeAlreadyInvited {
		t.Errorf("re-invite = %d %s", r.status, r.raw)
	}
	n := e.mail.count()
	e.clock.Advance(time.Hour)
	r := must(t, alice.post("/organization/invite-member", map[string]any{"email": "carol@example.com", "role": "member", "resend": true}))
	if r.str("id") != id || e.mail.count() != n+1 {
		t.Errorf("resend = %s (mails %d→%d)", r.raw, n, e.mail.count())
	}
	// Inviting a member: 400.
	if r := alice.post("/organization/invite-member", map[string]any{"email": "alice@example.com", "role": "member"}); r.status != 400 || r.code() != org.CodeAlreadyMember {
		t.Errorf("invite member = %d %s", r.status, r.raw)
	}
	// Mail failure removes the invitation.
	e.mail.SetErr(errors.New("smtp: connection reset"))
	if r := alice.post("/organization/invite-member", map[string]any{"email": "dave@example.com", "role": "member"}); r.status != 503 || r.code() != "EMAIL_SEND_FAILED" {
		t.Errorf("mail failure = %d %s", r.status, r.raw)
	}
	e.mail.SetErr(nil)
	if n, _ := e.db.Count(context.Background(), org.TableInvitation, storage.W("email", "dave@example.com")); n != 0 {
		t.Errorf("invitation kept after mail failure")
	}

	// Reject.
	carol := e.newUser("Carol")
	r = must(t, carol.post("/organization/reject-invitation", map[string]any{"invitationId": id}))
	if diff := cmp.Diff(map[string]any{"status": "rejected", "member": nil}, map[string]any{
		"status": r.obj()["invitation"].(map[string]any)["status"], "member": r.obj()["member"]}); diff != "" {
		t.Errorf("reject (-want +got):\n%s", diff)
	}

	// Cancel.
	id2 := alice.invite(orgID, "erin@example.com", "member")
	if r := must(t, alice.post("/organization/cancel-invitation", map[string]any{"invitationId": id2})); r.str("status") != "canceled" {
		t.Errorf("cancel = %s", r.raw)
	}

	// Invitation limit.
	e2 := newEnv(t, org.Options{InvitationLimit: 2})
	o := e2.newUser("Olga")
	oid := o.createOrg("lim")
	o.invite(oid, "a1@example.com", "member")
	o.invite(oid, "a2@example.com", "member")
	if r := o.post("/organization/invite-member", map[string]any{"email": "a3@example.com", "role": "member"}); r.status != 403 || r.code() != org.CodeInvitationLimitReached {
		t.Errorf("invitation limit = %d %s", r.status, r.raw)
	}

	// CancelPendingInvitationsOnReInvite.
	e3 := newEnv(t, org.Options{CancelPendingInvitationsOnReInvite: true, InvitationURL: func(inv *org.Invitation) string { return "https://app/x/" + inv.ID }})
	p := e3.newUser("Pat")
	pid := p.createOrg("pat")
	first := p.invite(pid, "z@example.com", "member")
	second := p.invite(pid, "z@example.com", "admin")
	rec, _ := e3.db.FindOne(context.Background(), org.TableInvitation, storage.W("id", first))
	if first == second || rec.String("status") != "canceled" {
		t.Errorf("re-invite: first status %q", rec.String("status"))
	}
	if u := e3.mail.last().URL; u != "https://app/x/"+second {
		t.Errorf("InvitationURL: %q", u)
	}

	// Unverified users cannot list their invitations; with
	// RequireEmailVerificationOnInvitation they cannot accept either.
	e4 := newEnv(t, org.Options{RequireEmailVerificationOnInvitation: true})
	q := e4.newUser("Quinn")
	qid := q.createOrg("quinn")
	iid := q.invite(qid, "uv@example.com", "member")
	uv := e4.newUserEmail("UV", "uv@example.com", false)
	if r := uv.get("/organization/list-user-invitations"); r.status != 403 || r.code() != org.CodeEmailVerificationRequired {
		t.Errorf("unverified list = %d %s", r.status, r.raw)
	}
	if r := uv.post("/organization/accept-invitation", map[string]any{"invitationId": iid}); r.status != 403 || r.code() != org.CodeEmailVerificationRequiredAccept {
		t.Errorf("unverified accept = %d %s", r.status, r.raw)
	}
	if r := uv.get("/organization/get-invitation", "id", iid); r.status != 403 || r.code() != org.CodeEmailVerificationRequired {
		t.Errorf("unverified get = %d %s", r.status, r.raw)
	}
}

// TestBadInput: every bad request is a 4xx with a stable code and changes
// nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	owner := e.newUser("Owner")
	admin := e.newUser("Admin")
	member := e.newUser("Member")
	outsider := e.newUser("Outsider")
	other := e.newUser("Other")
	orgID := owner.createOrg("acme")
	other.createOrg("other")
	e.join(owner, admin, orgID, "admin")
	e.join(owner, member, orgID, "member")
	ownerMember := e.memberID(orgID, owner)
	memberMember := e.memberID(orgID, member)

	accepted := owner.invite(orgID, "acc@example.com", "member")
	acc := e.newUser("Acc")
	must(t, acc.post("/organization/accept-invitation", map[string]any{"invitationId": accepted}))
	canceled := owner.invite(orgID, "can@example.com", "member")
	must(t, owner.post("/organization/cancel-invitation", map[string]any{"invitationId": canceled}))
	can := e.newUser("Can")
	rejected := owner.invite(orgID, "rej@example.com", "member")
	rej := e.newUser("Rej")
	must(t, rej.post("/organization/reject-invitation", map[string]any{"invitationId": rejected}))
	expired := owner.invite(orgID, "exp@example.com", "member")
	e.clock.Advance(49 * time.Hour)
	exp := e.newUser("Exp")
	pending := owner.invite(orgID, "pen@example.com", "member")

	type tc struct {
		name   string
		who    *client
		method string
		path   string
		body   any
		query  []string
		status int
		code   string
	}
	P, G := "POST", "GET"
	cases := []tc{
		// invalid slugs
		{"create upper-case slug", owner, P, "/organization/create", map[string]any{"name": "X", "slug": "Acme"}, nil, 400, org.CodeInvalidSlug},
		{"create slug with space", owner, P, "/organization/create", map[string]any{"name": "X", "slug": "a b"}, nil, 400, org.CodeInvalidSlug},
		{"create slug with leading hyphen", owner, P, "/organization/create", map[string]any{"name": "X", "slug": "-ab"}, nil, 400, org.CodeInvalidSlug},
		{"create slug too short", owner, P, "/organization/create", map[string]any{"name": "X", "slug": "a"}, nil, 400, org.CodeInvalidSlug},
		{"create slug too long", owner, P, "/organization/create", map[string]any{"name": "X", "slug": strings.Repeat("a", 65)}, nil, 400, org.CodeInvalidSlug},
		{"create slug unicode", owner, P, "/organization/create", map[string]any{"name": "X", "slug": "acmé"}, nil, 400, org.CodeInvalidSlug},
		{"create taken slug", outsider, P, "/organization/create", map[string]any{"name": "X", "slug": "acme"}, nil, 400, org.CodeOrganizationAlreadyExists},
		{"create empty name", owner, P, "/organization/create", map[string]any{"name": "", "slug": "fine"}, nil, 400, "VALIDATION_ERROR"},
		{"create missing slug", owner, P, "/organization/create", map[string]any{"name": "X"}, nil, 400, "VALIDATION_ERROR"},
		{"update invalid slug", owner, P, "/organization/update", map[string]any{"organizationId": orgID, "data": map[string]any{"slug": "Bad_Slug"}}, nil, 400, org.CodeInvalidSlug},
		{"update taken slug", owner, P, "/organization/update", map[string]any{"organizationId": orgID, "data": map[string]any{"slug": "other"}}, nil, 400, org.CodeSlugTaken},
		{"update name wrong type", owner, P, "/organization/update", map[string]any{"organizationId": orgID, "data": map[string]any{"name": 3}}, nil, 400, "VALIDATION_ERROR"},
		{"check invalid slug", owner, P, "/organization/check-slug", map[string]any{"slug": "NO"}, nil, 400, org.CodeInvalidSlug},
		// invitations reused, expired, cancelled, rejected, for another email
		{"accept accepted", acc, P, "/organization/accept-invitation", map[string]any{"invitationId": accepted}, nil, 400, org.CodeInvitationNotFound},
		{"accept canceled", can, P, "/organization/accept-invitation", map[string]any{"invitationId": canceled}, nil, 400, org.CodeInvitationNotFound},
		{"accept rejected", rej, P, "/organization/accept-invitation", map[string]any{"invitationId": rejected}, nil, 400, org.CodeInvitationNotFound},
		{"accept expired", exp, P, "/organization/accept-invitation", map[string]any{"invitationId": expired}, nil, 400, org.CodeInvitationNotFound},
		{"accept unknown", exp, P, "/organization/accept-invitation", map[string]any{"invitationId": "nope"}, nil, 400, org.CodeInvitationNotFound},
		{"accept other email", outsider, P, "/organization/accept-invitation", map[string]any{"invitationId": pending}, nil, 403, org.CodeNotRecipient},
		{"reject other email", outsider, P, "/organization/reject-invitation", map[string]any{"invitationId": pending}, nil, 403, org.CodeNotRecipient},
		{"reject accepted", acc, P, "/organization/reject-invitation", map[string]any{"invitationId": accepted}, nil, 400, org.CodeInvitationNotFound},
		{"get expired", exp, G, "/organization/get-invitation", nil, []string{"id", expired}, 400, org.CodeInvitationNotFound},
		{"get other email", outsider, G, "/organization/get-invitation", nil, []string{"id", pending}, 403, org.CodeNotRecipient},
		{"get without id", outsider, G, "/organization/get-invitation", nil, nil, 400, "VALIDATION_ERROR"},
		{"cancel accepted", owner, P, "/organization/cancel-invitation", map[string]any{"invitationId": accepted}, nil, 400, org.CodeInvitationNotFound},
		// role names that do not exist
		{"invite unknown role", owner, P, "/organization/invite-member", map[string]any{"organizationId": orgID, "email": "n@example.com", "role": "superuser"}, nil, 400, org.CodeRoleNotFound},
		{"invite empty role", owner, P, "/organization/invite-member", map[string]any{"organizationId": orgID, "email": "n@example.com", "role": " , "}, nil, 400, org.CodeRoleNotFound},
		{"invite role wrong type", owner, P, "/organization/invite-member", map[string]any{"organizationId": orgID, "email": "n@example.com", "role": 7}, nil, 400, "VALIDATION_ERROR"},
		{"invite bad email", owner, P, "/organization/invite-member", map[string]any{"organizationId": orgID, "email": "not-an-email", "role": "member"}, nil, 400, "INVALID_EMAIL"},
		{"update to unknown role", owner, P, "/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": memberMember, "role": []string{"member", "superuser"}}, nil, 400, org.CodeRoleNotFound},
		{"update to empty role", owner, P, "/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": memberMember, "role": ""}, nil, 400, org.CodeRoleNotFound},
		// members cannot exceed their role
		{"admin invites owner", admin, P, "/organization/invite-member", map[string]any{"organizationId": orgID, "email": "n@example.com", "role": "owner"}, nil, 403, org.CodeNotAllowedToInviteWithRole},
		{"admin promotes to owner", admin, P, "/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": memberMember, "role": "owner"}, nil, 403, org.CodeNotAllowedToUpdateMember},
		{"admin demotes owner", admin, P, "/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": ownerMember, "role": "member"}, nil, 403, org.CodeNotAllowedToUpdateMember},
		{"admin removes owner", admin, P, "/organization/remove-member", map[string]any{"organizationId": orgID, "memberIdOrEmail": ownerMember}, nil, 400, org.CodeCannotLeaveAsOnlyOwner},
		{"admin deletes org", admin, P, "/organization/delete", map[string]any{"organizationId": orgID}, nil, 403, org.CodeNotAllowedToDeleteOrganization},
		{"member invites", member, P, "/organization/invite-member", map[string]any{"organizationId": orgID, "email": "n@example.com", "role": "member"}, nil, 403, org.CodeNotAllowedToInvite},
		{"member updates org", member, P, "/organization/update", map[string]any{"organizationId": orgID, "data": map[string]any{"name": "x"}}, nil, 403, org.CodeNotAllowedToUpdateOrganization},
		{"member removes member", member, P, "/organization/remove-member", map[string]any{"organizationId": orgID, "memberIdOrEmail": e.memberID(orgID, admin)}, nil, 401, org.CodeNotAllowedToDeleteMember},
		{"member changes roles", member, P, "/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": memberMember, "role": "admin"}, nil, 403, org.CodeNotAllowedToUpdateMember},
		{"member cancels invitation", member, P, "/organization/cancel-invitation", map[string]any{"invitationId": pending}, nil, 403, org.CodeNotAllowedToCancelInvitation},
		{"member lists invitations", member, G, "/organization/list-invitations", nil, []string{"organizationId", orgID}, 403, org.CodeNotAllowedToListInvitations},
		// last owner
		{"last owner leaves", owner, P, "/organization/leave", map[string]any{"organizationId": orgID}, nil, 400, org.CodeCannotLeaveAsOnlyOwner},
		{"last owner demotes self", owner, P, "/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": ownerMember, "role": "admin"}, nil, 400, org.CodeCannotLeaveWithoutOwner},
		{"last owner removes self", owner, P, "/organization/remove-member", map[string]any{"organizationId": orgID, "memberIdOrEmail": ownerMember}, nil, 400, org.CodeCannotLeaveAsOnlyOwner},
		// has-permission body
		{"has-permission both keys", owner, P, "/organization/has-permission", map[string]any{"organizationId": orgID, "permission": map[string]any{}, "permissions": map[string]any{}}, nil, 400, "VALIDATION_ERROR"},
		{"has-permission bad actions", owner, P, "/organization/has-permission", map[string]any{"organizationId": orgID, "permissions": map[string]any{"member": "create"}}, nil, 400, "VALIDATION_ERROR"},
		{"list-members bad field", owner, G, "/organization/list-members", nil, []string{"organizationId", orgID, "sortBy", "password"}, 400, "VALIDATION_ERROR"},
		{"list-members bad operator", owner, G, "/organization/list-members", nil, []string{"organizationId", orgID, "filterField", "role", "filterOperator", "like", "filterValue", "x"}, 400, "VALIDATION_ERROR"},
	}
	if s := e.snapshot(); len(s[org.TableMember]) < 5 || len(s[org.TableInvitation]) < 5 {
		t.Fatalf("snapshot misses rows: %v", s)
	}
	for _, c := range cases {
		before := e.snapshot()
		r := c.who.do(c.method, c.path, c.body, c.query...)
		if r.status != c.status || r.code() != c.code {
			t.Errorf("%s: got %d %s, want %d %s", c.name, r.status, r.raw, c.status, c.code)
		}
		if r.str("message") == "" {
			t.Errorf("%s: no message: %s", c.name, r.raw)
		}
		after := e.snapshot()
		// Nothing may change (TestMembershipAnswers checks the sessions'
		// active organizations).
		delete(before, plugin.TableSession)
		delete(after, plugin.TableSession)
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("%s changed data (-before +after):\n%s", c.name, diff)
		}
	}
}

func TestLastOwnerWithTwoOwners(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	a := e.newUser("A")
	b := e.newUser("B")
	orgID := a.createOrg("acme")
	bm := e.join(a, b, orgID, "owner")
	am := e.memberID(orgID, a)
	// With two owners one may demote the other, then the last cannot go.
	must(t, a.post("/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": bm, "role": "admin"}))
	if r := b.post("/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": am, "role": "admin"}); r.status != 403 {
		t.Errorf("admin demotes owner: %d %s", r.status, r.raw)
	}
	if r := a.post("/organization/leave", map[string]any{"organizationId": orgID}); r.code() != org.CodeCannotLeaveAsOnlyOwner {
		t.Errorf("last owner leave: %s", r.raw)
	}
	// Admin leaves fine; get-session forgets the organization.
	must(t, b.post("/organization/set-active", map[string]any{"organizationId": orgID}))
	r := must(t, b.post("/organization/leave", map[string]any{"organizationId": orgID}))
	if r.str("id") != bm || r.obj()["user"].(map[string]any)["id"] != b.user.ID {
		t.Errorf("leave = %s", r.raw)
	}
	if s := b.session(); s[org.FieldActiveOrganizationID] != nil {
		t.Errorf("active after leave = %v", s[org.FieldActiveOrganizationID])
	}
}

func TestGoAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Options{MembershipLimit: 3})
	a := e.newUser("A")
	b := e.newUser("B")
	c := e.newUser("C")
	d := e.newUser("D")
	o, m, err := e.p.CreateOrganization(ctx, nil, org.CreateOrganizationInput{UserID: a.user.ID, Name: "Go", Slug: "go-org", Metadata: map[string]any{"k": "v"}})
	if err != nil || m.Role != "owner" || o.Slug != "go-org" {
		t.Fatalf("CreateOrganization = %+v %+v %v", o, m, err)
	}
	if _, _, err := e.p.CreateOrganization(ctx, nil, org.CreateOrganizationInput{UserID: "nobody", Name: "x", Slug: "xy"}); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	for _, tc := range []struct {
		name string
		in   org.AddMemberInput
		code string
	}{
		{"unknown role", org.AddMemberInput{OrganizationID: o.ID, UserID: b.user.ID, Roles: []string{"boss"}}, org.CodeRoleNotFound},
		{"no role", org.AddMemberInput{OrganizationID: o.ID, UserID: b.user.ID}, org.CodeRoleNotFound},
		{"unknown org", org.AddMemberInput{OrganizationID: "nope", UserID: b.user.ID, Roles: []string{"member"}}, org.CodeOrganizationNotFound},
		{"already member", org.AddMemberInput{OrganizationID: o.ID, UserID: a.user.ID, Roles: []string{"member"}}, org.CodeAlreadyMember},
		{"unknown user", org.AddMemberInput{OrganizationID: o.ID, UserID: "nobody", Roles: []string{"member"}}, "USER_NOT_FOUND"},
		{"teams disabled", org.AddMemberInput{OrganizationID: o.ID, UserID: b.user.ID, Roles: []string{"member"}, TeamID: "t"}, ""},
	} {
		_, err := e.p.AddMember(ctx, tc.in)
		var ae *auth.Error
		if !errors.As(err, &ae) || ae.Code != tc.code || ae.Status != 400 {
			t.Errorf("AddMember %s: %v", tc.name, err)
		}
	}
	if _, err := e.p.AddMember(ctx, org.AddMemberInput{OrganizationID: o.ID, UserID: b.user.ID, Roles: []string{"admin", "member"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.AddMember(ctx, org.AddMemberInput{OrganizationID: o.ID, UserID: c.user.ID, Roles: []string{"member"}}); err != nil {
		t.Fatal(err)
	}
	var ae *auth.Error
	if _, err := e.p.AddMember(ctx, org.AddMemberInput{OrganizationID: o.ID, UserID: d.user.ID, Roles: []string{"member"}}); !errors.As(err, &ae) || ae.Code != org.CodeMembershipLimitReached || ae.Status != 403 {
		t.Errorf("limit: %v", err)
	}

	got := map[string]any{}
	for _, u := range []*client{a, b, d} {
		ok, err := e.p.IsMember(ctx, o.ID, u.user.ID)
		role, err2 := e.p.MemberRole(ctx, o.ID, u.user.ID)
		if err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		got[u.user.Name] = []any{ok, role}
	}
	want := map[string]any{"A": []any{true, "owner"}, "B": []any{true, "admin,member"}, "D": []any{false, ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IsMember/MemberRole (-want +got):\n%s", diff)
	}
	if ok, _ := e.p.IsMember(ctx, "nope", a.user.ID); ok {
		t.Error("member of unknown org")
	}
	if ok, _ := e.p.HasPermission(ctx, &auth.SessionData{User: b.user}, org.HasPermissionInput{OrganizationID: o.ID, Permissions: org.Permissions{"member": {"delete"}}}); !ok {
		t.Error("admin,member cannot delete members")
	}
	if ok, _ := e.p.HasPermission(ctx, &auth.SessionData{User: c.user}, org.HasPermissionInput{OrganizationID: o.ID, Permissions: org.Permissions{"member": {"delete"}}}); ok {
		t.Error("member can delete members")
	}
	orgs, err := e.p.ListOrganizations(ctx, b.user.ID)
	if err != nil || len(orgs) != 1 || orgs[0].ID != o.ID || orgs[0].Metadata["k"] != "v" {
		t.Errorf("ListOrganizations = %v %v", orgs, err)
	}
	if _, err := e.p.DeleteOrganization(ctx, &auth.SessionData{User: a.user}, o.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Organization(ctx, o.ID); !errors.As(err, &ae) || ae.Code != org.CodeOrganizationNotFound {
		t.Errorf("Organization after delete: %v", err)
	}
}

func TestActiveOrganizationIDForJWT(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	a := e.newUser("A")
	id := a.createOrg("acme")
	sd, err := e.a.GetSession(context.Background(), a.token)
	if err != nil {
		t.Fatal(err)
	}
	if got := org.ActiveOrganizationID(sd); got != id {
		t.Errorf("ActiveOrganizationID = %q, want %q", got, id)
	}
	if got := org.ActiveOrganizationID(nil); got != "" {
		t.Errorf("nil session: %q", got)
	}
	if got := org.ActiveTeamID(sd); got != "" {
		t.Errorf("ActiveTeamID = %q", got)
	}
}

func TestAccessControl(t *testing.T) {
	t.Parallel()
	ac := &org.AccessControl{
		Statements: org.Permissions{"project": {"create", "delete"}},
		Roles: map[string]org.Permissions{
			"editor": {"project": {"create"}, "ac": {"read"}},
			"admin":  {"project": {"create", "delete"}, "member": {"create", "update", "delete"}, "invitation": {"create"}},
		},
	}
	e := newEnv(t, org.Options{AccessControl: ac})
	a := e.newUser("A")
	ed := e.newUser("Ed")
	ad := e.newUser("Ad")
	orgID := a.createOrg("acme")
	e.join(a, ed, orgID, "editor")
	e.join(a, ad, orgID, "admin")
	for _, tc := range []struct {
		who   *client
		perms map[string]any
		want  bool
	}{
		{ed, map[string]any{"project": []string{"create"}}, true},
		{ed, map[string]any{"project": []string{"delete"}}, false},
		{ad, map[string]any{"project": []string{"create", "delete"}}, true},
		{ad, map[string]any{"organization": []string{"update"}}, false}, // replaced admin
		{a, map[string]any{"organization": []string{"delete"}}, true},   // default owner kept
		{a, map[string]any{"project": []string{"create"}}, false},
	} {
		r := must(t, tc.who.post("/organization/has-permission", map[string]any{"organizationId": orgID, "permissions": tc.perms}))
		if r.obj()["success"] != tc.want {
			t.Errorf("%s %v = %s, want %v", tc.who.user.Name, tc.perms, r.raw, tc.want)
		}
	}
	// Legacy "permission" key.
	if r := must(t, ed.post("/organization/has-permission", map[string]any{"organizationId": orgID, "permission": map[string]any{"project": []string{"create"}}})); r.obj()["success"] != true {
		t.Errorf("legacy permission = %s", r.raw)
	}
	// Authorize agrees with the client's rule: any one role suffices.
	p := org.New(org.Options{AccessControl: ac})
	if !p.Authorize("member,editor", org.Permissions{"project": {"create"}}) || p.Authorize("member,ghost", org.Permissions{"project": {"create"}}) {
		t.Error("Authorize with several roles")
	}

	for _, bad := range []*org.AccessControl{
		{Roles: map[string]org.Permissions{"x": {"nothing": {"read"}}}},
		{Roles: map[string]org.Permissions{"x": {"member": {"fly"}}}},
		{Roles: map[string]org.Permissions{"a,b": {}}},
	} {
		if _, err := auth.New(auth.Config{BaseURL: baseURL, Secret: testSecret, Hasher: testkit.FastHasher{}}, memory.New(), org.New(org.Options{AccessControl: bad})); err == nil {
			t.Errorf("auth.New accepted %+v", bad)
		}
	}
	if _, err := auth.New(auth.Config{BaseURL: baseURL, Secret: testSecret, Hasher: testkit.FastHasher{}}, memory.New(), org.New(org.Options{CreatorRole: "boss"})); err == nil {
		t.Error("auth.New accepted an unknown CreatorRole")
	}
}

func TestLimitsAndCreatePolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{
		OrganizationLimit: 1,
		AllowUserToCreateOrganization: func(_ context.Context, u *auth.User) (bool, error) {
			return u.Name != "Banned", nil
		},
	})
	a := e.newUser("A")
	banned := e.newUser("Banned")
	a.createOrg("first")
	if r := a.post("/organization/create", map[string]any{"name": "x", "slug": "second"}); r.status != 403 || r.code() != org.CodeMaximumOrganizationsReached {
		t.Errorf("limit = %d %s", r.status, r.raw)
	}
	if r := banned.post("/organization/create", map[string]any{"name": "x", "slug": "third"}); r.status != 403 || r.code() != org.CodeNotAllowedToCreateOrganization {
		t.Errorf("policy = %d %s", r.status, r.raw)
	}
	// Deletion can be disabled.
	e2 := newEnv(t, org.Options{DisableOrganizationDeletion: true})
	b := e2.newUser("B")
	id := b.createOrg("keep")
	if r := b.post("/organization/delete", map[string]any{"organizationId": id}); r.status != 404 || r.code() != org.CodeOrganizationDeletionDisabled {
		t.Errorf("disabled delete = %d %s", r.status, r.raw)
	}
}

func TestJSONShapes(t *testing.T) {
	t.Parallel()
	ts := time.Date(2030, 1, 2, 3, 4, 5, 678_900_000, time.UTC)
	logo := "l"
	for _, tc := range []struct {
		v    any
		want string
	}{
		{&org.Organization{ID: "o", Name: "N", Slug: "s", CreatedAt: ts},
			`{"id":"o","name":"N","slug":"s","logo":null,"createdAt":"2030-01-02T03:04:05.678Z","metadata":null}`},
		{&org.Organization{ID: "o", Name: "N", Slug: "s", Logo: &logo, Metadata: map[string]any{"a": 1}, CreatedAt: ts},
			`{"id":"o","name":"N","slug":"s","logo":"l","createdAt":"2030-01-02T03:04:05.678Z","metadata":{"a":1}}`},
		{&org.Member{ID: "m", OrganizationID: "o", UserID: "u", Role: "owner", CreatedAt: ts},
			`{"id":"m","organizationId":"o","userId":"u","role":"owner","createdAt":"2030-01-02T03:04:05.678Z"}`},
		{&org.Member{ID: "m", OrganizationID: "o", UserID: "u", Role: "owner", CreatedAt: ts, User: &org.MemberUser{ID: "u", Name: "U", Email: "u@x.co"}},
			`{"id":"m","organizationId":"o","userId":"u","role":"owner","createdAt":"2030-01-02T03:04:05.678Z","user":{"id":"u","name":"U","email":"u@x.co","image":null}}`},
		{&org.Invitation{ID: "i", OrganizationID: "o", Email: "e@x.co", Role: "member", Status: "pending", ExpiresAt: ts, CreatedAt: ts, InviterID: "u"},
			`{"id":"i","organizationId":"o","email":"e@x.co","role":"member","status":"pending","expiresAt":"2030-01-02T03:04:05.678Z","createdAt":"2030-01-02T03:04:05.678Z","inviterId":"u"}`},
		{&org.FullOrganization{Organization: &org.Organization{ID: "o", Name: "N", Slug: "s", CreatedAt: ts}},
			`{"id":"o","name":"N","slug":"s","logo":null,"createdAt":"2030-01-02T03:04:05.678Z","metadata":null,"members":[],"invitations":[]}`},
		{&org.Team{ID: "t", Name: "T", OrganizationID: "o", CreatedAt: ts},
			`{"id":"t","name":"T","organizationId":"o","createdAt":"2030-01-02T03:04:05.678Z","updatedAt":null}`},
		{&org.TeamMember{ID: "tm", TeamID: "t", UserID: "u", CreatedAt: ts},
			`{"id":"tm","teamId":"t","userId":"u","createdAt":"2030-01-02T03:04:05.678Z"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, string(b)); diff != "" {
			t.Errorf("%T (-want +got):\n%s", tc.v, diff)
		}
	}
}

func TestParseRolesAndDefaults(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{"admin, member": {"admin", "member"}, " owner ": {"owner"}, ",,": nil, "": nil} {
		if diff := cmp.Diff(want, org.ParseRoles(in)); diff != "" {
			t.Errorf("ParseRoles(%q) (-want +got):\n%s", in, diff)
		}
	}
	roles := org.DefaultRoles()
	if diff := cmp.Diff(org.Permissions{"organization": {"update"}, "member": {"create", "update", "delete"},
		"invitation": {"create", "cancel"}, "team": {"create", "update", "delete"}, "ac": {"create", "read", "update", "delete"}}, roles["admin"]); diff != "" {
		t.Errorf("admin (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(org.DefaultStatements(), roles["owner"]); diff != "" {
		t.Errorf("owner (-want +got):\n%s", diff)
	}
	p := org.New(org.Options{})
	for slug, ok := range map[string]bool{"ab": true, "a-b-1": true, "a": false, "ab-": false, "A1": false, "a_b": false, strings.Repeat("x", 64): true} {
		if p.ValidSlug(slug) != ok {
			t.Errorf("ValidSlug(%q) = %v", slug, !ok)
		}
	}
}
