package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// adminRoute is an admin route called with a valid body against target.
type adminRoute struct {
	method, path string
	body         func(target string) any
	query        func(target string) url.Values
	code         string // a non-admin's 403
}

var adminRoutes = []adminRoute{
	{"GET", "/admin/list-users", nil, nil, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS"},
	{"GET", "/admin/get-user", nil, func(t string) url.Values { return url.Values{"id": {t}} }, "YOU_ARE_NOT_ALLOWED_TO_GET_USER"},
	{"POST", "/admin/create-user", func(string) any { return map[string]any{"email": "new@example.com", "name": "New"} }, nil, "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS"},
	{"POST", "/admin/update-user", func(t string) any { return map[string]any{"userId": t, "data": map[string]any{"name": "Owned"}} }, nil, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS"},
	{"POST", "/admin/set-role", func(t string) any { return map[string]any{"userId": t, "role": "admin"} }, nil, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE"},
	{"POST", "/admin/ban-user", func(t string) any { return map[string]any{"userId": t} }, nil, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS"},
	{"POST", "/admin/unban-user", func(t string) any { return map[string]any{"userId": t} }, nil, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS"},
	{"POST", "/admin/list-user-sessions", func(t string) any { return map[string]any{"userId": t} }, nil, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS"},
	{"POST", "/admin/revoke-user-session", func(string) any { return map[string]any{"sessionToken": "x"} }, nil, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS"},
	{"POST", "/admin/revoke-user-sessions", func(t string) any { return map[string]any{"userId": t} }, nil, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS"},
	{"POST", "/admin/remove-user", func(t string) any { return map[string]any{"userId": t} }, nil, "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS"},
	{"POST", "/admin/set-user-password", func(t string) any { return map[string]any{"userId": t, "newPassword": "owned-password"} }, nil, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD"},
	{"POST", "/admin/impersonate-user", func(t string) any { return map[string]any{"userId": t} }, nil, "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS"},
}

func (rt adminRoute) call(b *browser, target string) reply {
	b.e.t.Helper()
	if rt.method == "GET" {
		var q url.Values
		if rt.query != nil {
			q = rt.query(target)
		}
		return b.get(rt.path, q)
	}
	return b.post(rt.path, rt.body(target))
}

// snapshot is what an attacker's request must leave unchanged.
func (e *env) snapshot(target string) string {
	e.t.Helper()
	return fmt.Sprintf("users=%d sessions=%d accounts=%d target=%+v", e.count(plugin.TableUser), e.count(plugin.TableSession),
		e.count(plugin.TableAccount), *e.user(target))
}

// TestNonAdmin calls every admin route as a user (403 with the route's
// code), with a role that is no role, and without a session (401 with an
// empty body), and checks that nothing changed.
func TestNonAdmin(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		e.admin("root@example.com")
		victim := e.signUp("victim@example.com")
		mallory := e.signUp("mallory@example.com")
		forged := e.signUp("forged@example.com")
		e.setRole(forged.user, "superuser", " admin") // unknown roles grant nothing
		anonymous := e.browser()
		before := e.snapshot(victim.user)
		for _, rt := range adminRoutes {
			for _, b := range []*browser{mallory, forged} {
				r := rt.call(b, victim.user)
				if r.status != http.StatusForbidden || r.str("code") != rt.code {
					t.Errorf("%s as a user: %d %s, want 403 %s", rt.path, r.status, r.raw, rt.code)
				}
			}
			r := rt.call(anonymous, victim.user)
			if r.status != http.StatusUnauthorized || r.raw != "" {
				t.Errorf("%s without a session: %d %q, want an empty 401", rt.path, r.status, r.raw)
			}
		}
		for _, path := range []string{"/admin/has-permission", "/admin/stop-impersonating"} {
			r := anonymous.post(path, map[string]any{"permissions": map[string]any{"user": []string{"list"}}, "userId": victim.user, "role": "admin"})
			if r.status != http.StatusUnauthorized || r.raw != "" {
				t.Errorf("%s without a session: %d %q, want an empty 401", path, r.status, r.raw)
			}
		}
		r := mallory.post("/admin/has-permission", map[string]any{"permissions": map[string]any{"user": []string{"list"}}, "role": "admin"})
		if r.raw != `{"error":null,"success":false}` {
			t.Errorf("has-permission of a user claiming a role: %s", r.raw)
		}
		r = mallory.post("/admin/stop-impersonating", nil)
		if diff := cmp.Diff(errBody{400, "", "You are not impersonating anyone"}, r.err()); diff != "" {
			t.Errorf("stop-impersonating without impersonating (-want +got):\n%s", diff)
		}
		if after := e.snapshot(victim.user); after != before {
			t.Errorf("the attempts changed the data:\n%s\n%s", before, after)
		}
		if victim.session() == nil {
			t.Error("the victim's session ended")
		}
	})
}

// TestMultipleRoles: a role list grants what any of its roles grants.
func TestMultipleRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.signUp("both@example.com")
	e.setRole(b.user, "user", "admin")
	if r := b.get("/admin/list-users", nil); r.status != 200 {
		t.Errorf("user,admin lists users: %d %s", r.status, r.raw)
	}
	if r := b.post("/admin/has-permission", map[string]any{"permissions": map[string]any{"user": []string{"ban"}, "session": []string{"revoke"}}}); r.raw != `{"error":null,"success":true}` {
		t.Errorf("user,admin has-permission: %s", r.raw)
	}
}

// TestAdminUserIDs: users listed in AdminUserIDs pass every check.
func TestAdminUserIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.signUp("owner@example.com")
	e2 := newEnv(t, envOpts{opts: admin.Options{AdminUserIDs: []string{"someone-else"}}})
	if r := e2.signUp("x@example.com").get("/admin/list-users", nil); r.status != 403 {
		t.Errorf("a user not in AdminUserIDs: %d", r.status)
	}
	p, err := admin.New(admin.Options{AdminUserIDs: []string{b.user}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasPermission(e.user(b.user), admin.Statements{"user": {"impersonate-admins"}}) {
		t.Error("an AdminUserIDs user is refused a permission")
	}
}

// TestSelf: an admin cannot ban or remove themself.
func TestSelf(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		cases := []struct {
			path string
			body any
			want errBody
		}{
			{"/admin/ban-user", map[string]any{"userId": adm.user}, errBody{400, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself"}},
			{"/admin/update-user", map[string]any{"userId": adm.user, "data": map[string]any{"banned": true}}, errBody{400, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself"}},
			{"/admin/remove-user", map[string]any{"userId": adm.user}, errBody{400, "YOU_CANNOT_REMOVE_YOURSELF", "You cannot remove yourself"}},
		}
		for _, tc := range cases {
			if diff := cmp.Diff(tc.want, adm.post(tc.path, tc.body).err()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.path, diff)
			}
		}
		u := e.user(adm.user)
		if u.Extra["banned"] != false || adm.session() == nil {
			t.Errorf("the admin was banned or signed out: %+v", u.Extra)
		}
	})
}

// TestBadInput sends wrong types and missing fields to every route: 400
// with Better Auth's code and message, and nothing changed.
func TestBadInput(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		v := e.signUp("victim@example.com").user
		val := func(msg string) errBody { return errBody{400, "VALIDATION_ERROR", msg} }
		cases := []struct {
			path string
			body any
			want errBody
		}{
			{"/admin/ban-user", nil, val("[body] Invalid input: expected object, received undefined")},
			{"/admin/ban-user", "[]", val("[body] Invalid input: expected object, received array")},
			{"/admin/ban-user", map[string]any{}, val("[body.userId] Invalid input: expected string, received undefined")},
			{"/admin/ban-user", map[string]any{"userId": nil}, val("[body.userId] Invalid input: expected string, received null")},
			{"/admin/ban-user", map[string]any{"userId": map[string]any{"$ne": ""}}, val("[body.userId] Invalid input: expected string, received object")},
			{"/admin/ban-user", map[string]any{"userId": v, "banExpiresIn": "60"}, val("[body.banExpiresIn] Invalid input: expected number, received string")},
			{"/admin/ban-user", map[string]any{"userId": v, "banReason": 5}, val("[body.banReason] Invalid input: expected string, received number")},
			{"/admin/ban-user", map[string]any{"userId": v, "banExpiresIn": 1e300}, val("[body.banExpiresIn] Too big: expected number to be <=9000000000")},
			{"/admin/ban-user", map[string]any{"userId": v, "banReason": "a\x00b"}, errBody{400, "INVALID_INPUT", plugin.ErrInvalidInput.Message}},
			{"/admin/unban-user", map[string]any{"userId": []string{v}}, val("[body.userId] Invalid input: expected string, received array")},
			{"/admin/set-role", map[string]any{"userId": v}, val("[body.role] Invalid input")},
			{"/admin/set-role", map[string]any{"userId": v, "role": 5}, val("[body.role] Invalid input")},
			{"/admin/set-role", map[string]any{"userId": v, "role": []any{"admin", 5}}, val("[body.role] Invalid input")},
			{"/admin/set-role", map[string]any{"role": "admin"}, val("[body.userId] Invalid input: expected string, received undefined")},
			{"/admin/create-user", map[string]any{"name": "X"}, val("[body.email] Invalid input: expected string, received undefined")},
			{"/admin/create-user", map[string]any{"email": "x@example.com"}, val("[body.name] Invalid input: expected string, received undefined")},
			{"/admin/create-user", map[string]any{"email": 5, "name": 5}, val("[body.email] Invalid input: expected string, received number; [body.name] Invalid input: expected string, received number")},
			{"/admin/create-user", map[string]any{"email": "x@example.com", "name": "X", "data": "s"}, val("[body.data] Invalid input: expected record, received string")},
			{"/admin/create-user", map[string]any{"email": "x@example.com", "name": "X", "data": map[string]any{"banned": "yes"}}, val("[body.data.banned] Invalid input: expected boolean, received string")},
			{"/admin/create-user", map[string]any{"email": "x@example.com", "name": "X", "data": map[string]any{"role": 5}}, errBody{400, "INVALID_ROLE_TYPE", "Invalid role type"}},
			{"/admin/create-user", map[string]any{"email": "not-an-email", "name": "X"}, errBody{400, "INVALID_EMAIL", "Invalid email"}},
			{"/admin/create-user", map[string]any{"email": "x@example.com", "name": "X\u202e"}, errBody{400, "INVALID_NAME", plugin.ErrInvalidName.Message}},
			{"/admin/create-user", map[string]any{"email": "x@example.com", "name": "X", "password": string(make([]byte, 129))}, errBody{400, "PASSWORD_TOO_LONG", "Password too long"}},
			{"/admin/create-user", map[string]any{"email": "x@example.com", "name": "X", "data": map[string]any{"image": "a\x00"}}, errBody{400, "INVALID_IMAGE", "Image must be a URL of at most 2048 characters"}},
			{"/admin/update-user", map[string]any{"userId": v}, val("[body.data] Invalid input: expected record, received undefined")},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{}}, errBody{400, "NO_DATA_TO_UPDATE", "No data to update"}},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"password": "x"}}, errBody{400, "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER", admin.ErrPasswordCannotBeUpdatedViaUpdateUser.Message}},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"id": "x"}}, errBody{400, "USER_ID_CANNOT_BE_UPDATED", "User id cannot be updated"}},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"role": []any{"a", 1}}}, errBody{400, "INVALID_ROLE_TYPE", "Invalid role type"}},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"emailVerified": "yes"}}, val("[body.data.emailVerified] Invalid input: expected boolean, received string")},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"name": nil}}, val("[body.data.name] Invalid input: expected string, received null")},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"banExpires": "tomorrow"}}, val("[body.data.banExpires] Invalid input: expected date, received string")},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"email": 5}}, errBody{400, "INVALID_EMAIL", "Invalid email"}},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"banReason": "\x00"}}, errBody{400, "INVALID_INPUT", plugin.ErrInvalidInput.Message}},
			{"/admin/update-user", map[string]any{"userId": v, "data": map[string]any{"role": "a\x00"}}, errBody{400, "INVALID_INPUT", plugin.ErrInvalidInput.Message}},
			{"/admin/revoke-user-session", map[string]any{}, val("[body.sessionToken] Invalid input: expected string, received undefined")},
			{"/admin/set-user-password", map[string]any{"userId": v, "newPassword": ""}, val("[body.newPassword] newPassword cannot be empty")},
			{"/admin/set-user-password", map[string]any{"userId": "", "newPassword": "x"}, val("[body.userId] userId cannot be empty")},
			{"/admin/set-user-password", map[string]any{"userId": v, "newPassword": 12345678}, val("[body.newPassword] Invalid input: expected string, received number")},
			{"/admin/set-user-password", map[string]any{"userId": v, "newPassword": "short"}, errBody{400, "PASSWORD_TOO_SHORT", "Password too short"}},
			{"/admin/impersonate-user", map[string]any{}, val("[body.userId] Invalid input: expected string, received undefined")},
			{"/admin/has-permission", map[string]any{}, val("[body] Invalid input")},
			{"/admin/has-permission", map[string]any{"permissions": map[string]any{"user": "ban"}}, val("[body] Invalid input")},
			{"/admin/has-permission", map[string]any{"permissions": map[string]any{"user": []any{1}}}, val("[body] Invalid input")},
			{"/admin/has-permission", map[string]any{"permissions": map[string]any{}, "permission": map[string]any{}}, val("[body] Invalid input")},
			{"/admin/has-permission", map[string]any{"permissions": map[string]any{}, "role": 1}, val("[body.role] Invalid input: expected string, received number")},
			{"/admin/has-permission", map[string]any{"permission": map[string]any{"user": []string{"list"}}}, errBody{400, "", "invalid permission check. no permission(s) were passed."}},
		}
		before := e.snapshot(v)
		for _, tc := range cases {
			if diff := cmp.Diff(tc.want, adm.post(tc.path, tc.body).err()); diff != "" {
				t.Errorf("%s %v (-want +got):\n%s", tc.path, tc.body, diff)
			}
		}
		queries := []struct {
			path string
			q    url.Values
			want errBody
		}{
			{"/admin/get-user", nil, val("[query.id] Invalid input: expected string, received undefined")},
			{"/admin/get-user", url.Values{"id": {"a", "b"}}, val("[query.id] Invalid input: expected string, received array")},
			{"/admin/list-users", url.Values{"searchOperator": {"like"}}, val(`[query.searchOperator] Invalid option: expected one of "contains"|"starts_with"|"ends_with"`)},
			{"/admin/list-users", url.Values{"searchField": {"password"}}, val(`[query.searchField] Invalid option: expected one of "email"|"name"`)},
			{"/admin/list-users", url.Values{"sortDirection": {"up"}, "filterOperator": {"regex"}}, val(`[query.sortDirection] Invalid option: expected one of "asc"|"desc"; [query.filterOperator] Invalid option: expected one of "eq"|"ne"|"lt"|"lte"|"gt"|"gte"|"in"|"not_in"|"contains"|"starts_with"|"ends_with"`)},
			{"/admin/list-users", url.Values{"searchValue": {"a", "b"}}, val("[query.searchValue] Invalid input: expected string, received array")},
		}
		for _, tc := range queries {
			if diff := cmp.Diff(tc.want, adm.get(tc.path, tc.q).err()); diff != "" {
				t.Errorf("%s %v (-want +got):\n%s", tc.path, tc.q, diff)
			}
		}
		if after := e.snapshot(v); after != before {
			t.Errorf("bad input changed the data:\n%s\n%s", before, after)
		}
	})
}

// TestCreateUserRace creates one email from many requests at once: one
// user, every other answer 400 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL.
func TestCreateUserRace(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		const n = 8
		var wg sync.WaitGroup
		statuses := make([]int, n)
		codes := make([]string, n)
		for i := range n {
			wg.Go(func() {
				r := adm.post("/admin/create-user", map[string]any{"email": "twin@example.com", "name": "Twin", "password": "password123"})
				statuses[i], codes[i] = r.status, r.str("code")
			})
		}
		wg.Wait()
		ok := 0
		for i := range n {
			switch {
			case statuses[i] == 200:
				ok++
			case statuses[i] != 400 || codes[i] != "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL":
				t.Errorf("answer %d: %d %s", i, statuses[i], codes[i])
			}
		}
		if ok != 1 || e.count(plugin.TableUser, storage.W("email", "twin@example.com")) != 1 {
			t.Errorf("%d creations succeeded, want 1", ok)
		}
	})
}

// TestRemoveUserRace removes one user from many requests at once: one
// success, the others 404, never a 500.
func TestRemoveUserRace(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		adm := e.admin("root@example.com")
		v := e.signUp("victim@example.com").user
		const n = 6
		var wg sync.WaitGroup
		statuses := make([]int, n)
		for i := range n {
			wg.Go(func() { statuses[i] = adm.post("/admin/remove-user", map[string]any{"userId": v}).status })
		}
		wg.Wait()
		ok := 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 404:
			default:
				t.Errorf("status %d", s)
			}
		}
		if ok < 1 || e.count(plugin.TableUser, storage.W("id", v)) != 0 {
			t.Errorf("statuses %v", statuses)
		}
	})
}

// TestStaleRole: a demoted admin's next request is refused, even with the
// cookie cache on (admin routes read the session from the database).
func TestStaleRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{authCfg: func(c *auth.Config) { c.Session.CookieCache.Enabled = true }})
	adm := e.admin("root@example.com")
	adm.signIn("root@example.com") // a cache cookie with the admin role
	if r := adm.get("/admin/list-users", nil); r.status != 200 {
		t.Fatalf("list-users: %d %s", r.status, r.raw)
	}
	e.setRole(adm.user, "user")
	if r := adm.get("/admin/list-users", nil); r.status != 403 {
		t.Errorf("list-users after the demotion: %d %s", r.status, r.raw)
	}
	if err := e.p.RevokeUserSessions(context.Background(), nil, adm.user); err != nil {
		t.Fatal(err)
	}
	if r := adm.get("/admin/list-users", nil); r.status != 401 {
		t.Errorf("list-users with a revoked session: %d %s", r.status, r.raw)
	}
}
