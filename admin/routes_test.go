package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TestUserFields checks the plugin's fields in every user and session
// answer, a new user's role and that sign-up and update-user cannot set
// the role.
func TestUserFields(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		b := e.browser()
		r := b.post("/sign-up/email", map[string]any{"email": "mallory@example.com", "password": "password123",
			"name": "Mallory", "role": "admin", "banned": false})
		if r.status != 200 {
			t.Fatalf("sign-up: %d %s", r.status, r.raw)
		}
		u := r.obj("user")
		want := map[string]any{"role": "user", "banned": false}
		if got := map[string]any{"role": u["role"], "banned": u["banned"]}; !cmp.Equal(got, want) {
			t.Errorf("sign-up user: %v, want %v", got, want)
		}
		s := b.session()
		su, ss := s["user"].(map[string]any), s["session"].(map[string]any)
		for _, k := range []string{"role", "banned", "banReason", "banExpires"} {
			if _, ok := su[k]; !ok {
				t.Errorf("get-session user has no %s: %v", k, su)
			}
		}
		if v, ok := ss["impersonatedBy"]; !ok || v != nil {
			t.Errorf("get-session session impersonatedBy = %v (present %v), want null", v, ok)
		}
		for _, body := range []map[string]any{{"role": "admin"}, {"banned": true}} {
			r = b.post("/update-user", body)
			if r.status != http.StatusBadRequest {
				t.Errorf("update-user %v: %d %s, want 400", body, r.status, r.raw)
			}
		}
		if got := e.user(su["id"].(string)).Extra["role"]; got != "user" {
			t.Errorf("role after the attempts = %v, want user", got)
		}
	})
}

// TestAdminFlow runs every route as an admin and checks each answer.
func TestAdminFlow(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		bob := e.signUp("bob@example.com")

		// get-user
		r := adm.get("/admin/get-user", url.Values{"id": {bob.user}})
		if r.status != 200 || r.str("email") != "bob@example.com" || r.str("role") != "user" {
			t.Fatalf("get-user: %d %s", r.status, r.raw)
		}
		r = adm.get("/admin/get-user", url.Values{"id": {"nobody"}})
		if diff := cmp.Diff(errBody{404, "USER_NOT_FOUND", "User not found"}, r.err()); diff != "" {
			t.Errorf("get-user unknown (-want +got):\n%s", diff)
		}

		// create-user: role list joined, data stored, email lower-cased, a
		// three-character password accepted and usable.
		r = adm.post("/admin/create-user", map[string]any{"email": "Carol@Example.com", "password": "abc", "name": "Carol",
			"role": []string{"user", "editor"}, "data": map[string]any{"image": "https://example.com/c.png", "emailVerified": true}})
		if r.status != 200 {
			t.Fatalf("create-user: %d %s", r.status, r.raw)
		}
		carol := r.obj("user")
		got := map[string]any{"email": carol["email"], "role": carol["role"], "image": carol["image"],
			"emailVerified": carol["emailVerified"], "banned": carol["banned"], "banReason": carol["banReason"]}
		want := map[string]any{"email": "carol@example.com", "role": "user,editor", "image": "https://example.com/c.png",
			"emailVerified": true, "banned": false, "banReason": nil}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("create-user (-want +got):\n%s", diff)
		}
		if r := e.browser().post("/sign-in/email", map[string]any{"email": "carol@example.com", "password": "abc"}); r.status != 200 {
			t.Errorf("sign-in with the created password: %d %s", r.status, r.raw)
		}
		r = adm.post("/admin/create-user", map[string]any{"email": "carol@example.com", "name": "Again"})
		if diff := cmp.Diff(errBody{400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email."}, r.err()); diff != "" {
			t.Errorf("create-user taken (-want +got):\n%s", diff)
		}
		r = adm.post("/admin/create-user", map[string]any{"email": "no-password@example.com", "name": "Nopw"})
		if r.status != 200 || r.obj("user")["role"] != "user" {
			t.Errorf("create-user without password: %d %s", r.status, r.raw)
		}
		if n := e.count(plugin.TableAccount, storage.W("userId", r.obj("user")["id"])); n != 0 {
			t.Errorf("a user created without a password has %d accounts", n)
		}

		// update-user
		r = adm.post("/admin/update-user", map[string]any{"userId": bob.user, "data": map[string]any{"name": "Robert", "email": "ROBERT@example.com"}})
		if r.status != 200 || r.str("name") != "Robert" || r.str("email") != "robert@example.com" {
			t.Fatalf("update-user: %d %s", r.status, r.raw)
		}
		r = adm.post("/admin/update-user", map[string]any{"userId": bob.user, "data": map[string]any{"email": "carol@example.com"}})
		if r.err().Code != "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL" || r.status != 400 {
			t.Errorf("update-user to a taken email: %d %s", r.status, r.raw)
		}
		r = adm.post("/admin/update-user", map[string]any{"userId": "nobody", "data": map[string]any{"name": "X"}})
		if r.status != 404 {
			t.Errorf("update-user unknown: %d %s", r.status, r.raw)
		}

		// set-role
		r = adm.post("/admin/set-role", map[string]any{"userId": bob.user, "role": []string{"user", "admin"}})
		if r.status != 200 || r.obj("user")["role"] != "user,admin" {
			t.Errorf("set-role: %d %s", r.status, r.raw)
		}
		if r := bob.get("/admin/list-users", nil); r.status != 200 {
			t.Errorf("a user,admin lists users: %d %s", r.status, r.raw)
		}
		e.setRole(bob.user, "user")

		// list-user-sessions, revoke-user-session, revoke-user-sessions
		bob.signIn("robert@example.com")
		r = adm.post("/admin/list-user-sessions", map[string]any{"userId": bob.user})
		list, _ := r.body["sessions"].([]any)
		if r.status != 200 || len(list) != 2 {
			t.Fatalf("list-user-sessions: %d %s", r.status, r.raw)
		}
		first := list[0].(map[string]any)
		if first["token"] == nil || first["impersonatedBy"] != nil {
			t.Errorf("a listed session: %v", first)
		}
		r = adm.post("/admin/revoke-user-session", map[string]any{"sessionToken": first["token"]})
		if r.status != 200 || r.raw != `{"success":true}` {
			t.Errorf("revoke-user-session: %d %s", r.status, r.raw)
		}
		if n := e.count(plugin.TableSession, storage.W("userId", bob.user)); n != 1 {
			t.Errorf("%d sessions after revoking one of two", n)
		}
		r = adm.post("/admin/revoke-user-session", map[string]any{"sessionToken": "unknown"})
		if r.status != 200 {
			t.Errorf("revoke-user-session unknown: %d %s", r.status, r.raw)
		}
		r = adm.post("/admin/revoke-user-sessions", map[string]any{"userId": bob.user})
		if r.status != 200 || r.raw != `{"success":true}` || bob.session() != nil {
			t.Errorf("revoke-user-sessions: %d %s", r.status, r.raw)
		}
		r = adm.post("/admin/list-user-sessions", map[string]any{"userId": "nobody"})
		if r.raw != `{"sessions":[]}` {
			t.Errorf("list-user-sessions unknown: %d %s", r.status, r.raw)
		}

		// set-user-password keeps sessions
		bob.signIn("robert@example.com")
		r = adm.post("/admin/set-user-password", map[string]any{"userId": bob.user, "newPassword": "another-password"})
		if r.status != 200 || r.raw != `{"status":true}` {
			t.Errorf("set-user-password: %d %s", r.status, r.raw)
		}
		if bob.session() == nil {
			t.Error("set-user-password ended the user's session")
		}
		if r := e.browser().post("/sign-in/email", map[string]any{"email": "robert@example.com", "password": "another-password"}); r.status != 200 {
			t.Errorf("sign-in with the new password: %d %s", r.status, r.raw)
		}
		r = adm.post("/admin/set-user-password", map[string]any{"userId": "nobody", "newPassword": "another-password"})
		if r.status != 404 {
			t.Errorf("set-user-password unknown: %d %s", r.status, r.raw)
		}

		// ban-user, unban-user
		e.clock.Set(e.clock.Now().Truncate(time.Second))
		now := e.clock.Now()
		r = adm.post("/admin/ban-user", map[string]any{"userId": bob.user, "banReason": "spam", "banExpiresIn": 3600})
		if r.status != 200 {
			t.Fatalf("ban-user: %d %s", r.status, r.raw)
		}
		bu := r.obj("user")
		got = map[string]any{"banned": bu["banned"], "banReason": bu["banReason"]}
		want = map[string]any{"banned": true, "banReason": "spam"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ban-user (-want +got):\n%s", diff)
		}
		if exp, err := time.Parse(time.RFC3339, bu["banExpires"].(string)); err != nil || exp.Sub(now.Add(time.Hour)).Abs() > time.Second {
			t.Errorf("banExpires = %v, want about %v", bu["banExpires"], now.Add(time.Hour))
		}
		r = adm.post("/admin/unban-user", map[string]any{"userId": bob.user})
		bu = r.obj("user")
		got = map[string]any{"banned": bu["banned"], "banReason": bu["banReason"], "banExpires": bu["banExpires"]}
		want = map[string]any{"banned": false, "banReason": nil, "banExpires": nil}
		if diff := cmp.Diff(want, got); r.status != 200 || diff != "" {
			t.Errorf("unban-user: %d (-want +got):\n%s", r.status, diff)
		}
		r = adm.post("/admin/ban-user", map[string]any{"userId": bob.user})
		bu = r.obj("user")
		if bu["banReason"] != "No reason" || bu["banExpires"] != nil {
			t.Errorf("ban-user with the defaults: %s", r.raw)
		}

		// remove-user: the email can sign up again.
		r = adm.post("/admin/remove-user", map[string]any{"userId": bob.user})
		if r.status != 200 || r.raw != `{"success":true}` {
			t.Fatalf("remove-user: %d %s", r.status, r.raw)
		}
		if n := e.count(plugin.TableUser, storage.W("id", bob.user)) + e.count(plugin.TableAccount, storage.W("userId", bob.user)); n != 0 {
			t.Errorf("remove-user left %d rows", n)
		}
		r = adm.post("/admin/remove-user", map[string]any{"userId": bob.user})
		if r.status != 404 {
			t.Errorf("remove-user again: %d %s", r.status, r.raw)
		}
		e.signUp("robert@example.com")

		// has-permission
		r = adm.post("/admin/has-permission", map[string]any{"permissions": map[string]any{"user": []string{"ban", "list"}}})
		if r.raw != `{"error":null,"success":true}` {
			t.Errorf("has-permission: %d %s", r.status, r.raw)
		}
		r = adm.post("/admin/has-permission", map[string]any{"permissions": map[string]any{"user": []string{"impersonate-admins"}}})
		if r.raw != `{"error":null,"success":false}` {
			t.Errorf("has-permission impersonate-admins: %d %s", r.status, r.raw)
		}
	})
}

// TestGoAPI checks that a nil acting user is a trusted caller and that a
// given one is checked, as the routes check it.
func TestGoAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	u, err := e.p.CreateUser(ctx, nil, admin.CreateUserInput{Email: "ops@example.com", Name: "Ops", Role: []string{"admin"}})
	if err != nil || u.Extra["role"] != "admin" {
		t.Fatalf("trusted CreateUser: %v %v", u, err)
	}
	plain := e.signUp("plain@example.com")
	pu := e.user(plain.user)
	if _, err := e.p.ListUsers(ctx, pu, admin.ListUsersQuery{}); err != admin.ErrNotAllowedToListUsers {
		t.Errorf("ListUsers by a user: %v", err)
	}
	list, err := e.p.ListUsers(ctx, u, admin.ListUsersQuery{SortBy: "email"})
	if err != nil || list.Total != 2 || list.Users[0].Email != "ops@example.com" {
		t.Errorf("ListUsers by an admin: %+v %v", list, err)
	}
	if !e.p.HasPermission(u, admin.Statements{"session": {"revoke"}}) || e.p.HasPermission(pu, admin.Statements{"session": {"revoke"}}) {
		t.Error("HasPermission disagrees with the default roles")
	}
	if !e.p.IsAdmin(u) || e.p.IsAdmin(pu) {
		t.Error("IsAdmin disagrees with the roles")
	}
}
