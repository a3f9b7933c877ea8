package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/plugin"
)

// TestAuthorize checks Role.Authorize as Better Auth's role.authorize.
func TestAuthorize(t *testing.T) {
	t.Parallel()
	r := admin.AdminRole()
	cases := []struct {
		name string
		req  admin.Statements
		want bool
	}{
		{"one action", admin.Statements{"user": {"ban"}}, true},
		{"all of several", admin.Statements{"user": {"ban", "list"}, "session": {"revoke"}}, true},
		{"one not granted", admin.Statements{"user": {"ban", "impersonate-admins"}}, false},
		{"unknown resource", admin.Statements{"user": {"ban"}, "project": {"read"}}, false},
		{"unknown action", admin.Statements{"user": {"fly"}}, false},
		{"no action", admin.Statements{"user": {}}, false},
		{"empty request", admin.Statements{}, false},
		{"nil request", nil, false},
	}
	for _, tc := range cases {
		if got := r.Authorize(tc.req); got != tc.want {
			t.Errorf("%s: Authorize(%v) = %v, want %v", tc.name, tc.req, got, tc.want)
		}
	}
	if admin.UserRole().Authorize(admin.Statements{"user": {"list"}}) || (admin.Role{}).Authorize(admin.Statements{"user": {"list"}}) {
		t.Error("the user role or the zero role grants something")
	}
	st := r.Statements()
	st["user"][0] = "changed"
	if r.Authorize(admin.Statements{"user": {"changed"}}) {
		t.Error("Statements returned the role's own map")
	}
}

// TestNewRole: AccessControl.NewRole refuses what its statements lack.
func TestNewRole(t *testing.T) {
	t.Parallel()
	ac := admin.AccessControl{Statements: admin.Statements{"project": {"read", "write"}}}
	if _, err := ac.NewRole(admin.Statements{"project": {"read"}}); err != nil {
		t.Errorf("a declared action: %v", err)
	}
	for _, s := range []admin.Statements{{"project": {"delete"}}, {"user": {"list"}}} {
		if _, err := ac.NewRole(s); err == nil {
			t.Errorf("NewRole(%v) accepted", s)
		}
	}
}

// TestOptions: New checks the options up front.
func TestOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts admin.Options
		err  string
	}{
		{"defaults", admin.Options{}, ""},
		{"admin role not a role", admin.Options{AdminRoles: []string{"owner"}}, "invalid admin roles: owner"},
		{"admin role among custom roles", admin.Options{AdminRoles: []string{"Owner"}, Roles: map[string]admin.Role{"owner": admin.AdminRole()}}, ""},
		{"comma in a role name", admin.Options{Roles: map[string]admin.Role{"a,b": {}}}, "invalid role name"},
		{"negative impersonation", admin.Options{ImpersonationSessionDuration: -time.Second}, "ImpersonationSessionDuration"},
		{"tiny impersonation", admin.Options{ImpersonationSessionDuration: time.Millisecond}, "ImpersonationSessionDuration"},
		{"negative ban", admin.Options{DefaultBanExpiresIn: -time.Second}, "DefaultBanExpiresIn"},
		{"NUL in the default role", admin.Options{DefaultRole: "a\x00"}, "DefaultRole"},
	}
	for _, tc := range cases {
		_, err := admin.New(tc.opts)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.err)
		}
	}
}

// TestCustomRoles: with custom Roles a role given must be one of them,
// and a permission comes from the user's roles only.
func TestCustomRoles(t *testing.T) {
	t.Parallel()
	ac := admin.DefaultAccessControl()
	support, err := ac.NewRole(admin.Statements{"user": {"list", "get"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOpts{opts: admin.Options{Roles: map[string]admin.Role{"admin": admin.AdminRole(), "user": admin.UserRole(), "support": support}}})
	adm := e.admin("root@example.com")
	sup := e.signUp("support@example.com")
	if r := adm.post("/admin/set-role", map[string]any{"userId": sup.user, "role": "support"}); r.status != 200 {
		t.Fatalf("set-role support: %d %s", r.status, r.raw)
	}
	for _, body := range []map[string]any{
		{"userId": sup.user, "role": "superadmin"},
		{"userId": sup.user, "role": []string{"support", "root"}},
	} {
		r := adm.post("/admin/set-role", body)
		if r.status != 400 || r.str("code") != "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE" {
			t.Errorf("set-role %v: %d %s", body["role"], r.status, r.raw)
		}
	}
	if r := adm.post("/admin/create-user", map[string]any{"email": "x@example.com", "name": "X", "role": "root"}); r.str("code") != "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE" {
		t.Errorf("create-user with an unknown role: %d %s", r.status, r.raw)
	}
	if r := sup.get("/admin/list-users", nil); r.status != 200 {
		t.Errorf("support lists users: %d %s", r.status, r.raw)
	}
	if r := sup.post("/admin/ban-user", map[string]any{"userId": adm.user}); r.status != 403 {
		t.Errorf("support bans: %d %s", r.status, r.raw)
	}
	// A user:create holder without user:set-role cannot give a role, even
	// through data.role, nor ban through data.
	creator, _ := ac.NewRole(admin.Statements{"user": {"create"}})
	e2 := newEnv(t, envOpts{opts: admin.Options{Roles: map[string]admin.Role{"admin": admin.AdminRole(), "user": admin.UserRole(), "creator": creator}}})
	c := e2.signUp("creator@example.com")
	e2.setRole(c.user, "creator")
	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"email": "a@example.com", "name": "A", "role": "admin"}, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE"},
		{map[string]any{"email": "a@example.com", "name": "A", "data": map[string]any{"role": "admin"}}, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE"},
		{map[string]any{"email": "a@example.com", "name": "A", "data": map[string]any{"banned": true}}, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS"},
	} {
		if r := c.post("/admin/create-user", tc.body); r.status != 403 || r.str("code") != tc.code {
			t.Errorf("create-user %v: %d %s", tc.body, r.status, r.raw)
		}
	}
	r := c.post("/admin/create-user", map[string]any{"email": "a@example.com", "name": "A"})
	if r.status != 200 || r.obj("user")["role"] != "user" {
		t.Errorf("create-user as creator: %d %s", r.status, r.raw)
	}
	if n := e2.count(plugin.TableUser); n != 2 {
		t.Errorf("%d users, want 2", n)
	}
}
