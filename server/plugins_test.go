package server

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// optionalRoutes are a route of each optional plugin, as a GET or POST
// that answers without a session when the plugin is mounted.
var optionalRoutes = []struct {
	plugin, method, path, body string
	status                     int // when mounted
}{
	{"admin", "GET", "/api/auth/admin/list-users", "", 401},
	{"api-key", "GET", "/api/auth/api-key/list", "", 401},
	{"email-otp", "POST", "/api/auth/email-otp/send-verification-otp", `{"email":"nobody@example.com","type":"sign-in"}`, 200},
	{"username", "POST", "/api/auth/is-username-available", `{"username":"someone"}`, 200},
	{"multi-session", "GET", "/api/auth/multi-session/list-device-sessions", "", 200},
	{"open-api", "GET", "/api/auth/open-api/generate-schema", "", 200},
}

// Every optional plugin is mounted by default, and DISABLED_PLUGINS
// takes each off (its routes answer as unknown ones, 404).
func TestOptionalPlugins(t *testing.T) {
	t.Parallel()
	on := newE2E(t, nil)
	off := newE2E(t, func(c *Config) { c.DisabledPlugins = OptionalPlugins })
	for _, r := range optionalRoutes {
		got := on.do(t, req{method: r.method, path: r.path, body: r.body})
		if got.status != r.status {
			t.Errorf("%s mounted: %s %s = %d %s", r.plugin, r.method, r.path, got.status, short(got.raw))
		}
		if got := off.do(t, req{method: r.method, path: r.path, body: r.body}); got.status != 404 {
			t.Errorf("%s disabled: %s %s = %d %s", r.plugin, r.method, r.path, got.status, short(got.raw))
		}
	}
	a := off.seed(t, "alice@example.com")
	want(t, "v1 api-keys without the plugin", off.get(t, "/api/v1/api-keys", bearer(a.jwt)...), 404, "")
	// With the admin plugin off, the v1 admin routes still check role admin.
	admin := off.seed(t, "admin@example.com")
	if _, err := off.s.db.Update(context.Background(), plugin.TableUser, storage.Record{"role": RoleAdmin}, storage.W("id", admin.id)); err != nil {
		t.Fatal(err)
	}
	want(t, "v1 admin without the plugin", off.get(t, "/api/v1/admin/users", bearer(admin.jwt)...), 200, "")
	want(t, "v1 admin as a user", off.get(t, "/api/v1/admin/users", bearer(a.jwt)...), 403, "FORBIDDEN")
}

// The admin plugin works with the mana roles: MANA_ADMIN_EMAILS' verified
// addresses are admins on /api/auth/admin/* and /api/v1/admin/* alike, a
// role the admin plugin sets counts on both, and an unverified admin
// counts on neither v1 route.
func TestAdminPluginAndV1Admin(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	admin := env.seed(t, "admin@example.com")
	alice := env.seed(t, "alice@example.com")
	u, err := env.s.auth.Host().FindUserByID(ctx, admin.id)
	if err != nil || userRole(u) != RoleAdmin {
		t.Fatalf("the MANA_ADMIN_EMAILS address has role %q (%v)", userRole(u), err)
	}
	want(t, "admin plugin as the admin", env.get(t, "/api/auth/admin/list-users", "Cookie", admin.cookie), 200, "")
	want(t, "admin plugin as a user", env.get(t, "/api/auth/admin/list-users", "Cookie", alice.cookie), 403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS")
	want(t, "v1 admin as a user", env.get(t, "/api/v1/admin/users", bearer(alice.jwt)...), 403, "FORBIDDEN")

	// The admin makes alice an admin through the plugin: both route sets agree.
	r := env.post(t, "/api/auth/admin/set-role", `{"userId":"`+alice.id+`","role":"admin"}`, "Cookie", admin.cookie)
	want(t, "set-role", r, 200, "")
	want(t, "v1 admin after set-role", env.get(t, "/api/v1/admin/users", bearer(alice.jwt)...), 200, "")
	want(t, "admin plugin after set-role", env.get(t, "/api/auth/admin/list-users", "Cookie", alice.cookie), 200, "")

	// An unverified address with role admin is no admin of the v1 routes.
	if _, err := env.s.db.Update(ctx, plugin.TableUser, storage.Record{"emailVerified": false}, storage.W("id", alice.id)); err != nil {
		t.Fatal(err)
	}
	want(t, "v1 admin unverified", env.get(t, "/api/v1/admin/users", bearer(alice.jwt)...), 403, "FORBIDDEN")

	// A ban through the plugin ends the user's sessions and sign-ins.
	bob := env.seed(t, "bob@example.com")
	want(t, "ban", env.post(t, "/api/auth/admin/ban-user", `{"userId":"`+bob.id+`"}`, "Cookie", admin.cookie), 200, "")
	if g := env.get(t, "/api/auth/get-session", "Cookie", bob.cookie); strings.TrimSpace(g.raw) != "null" {
		t.Fatalf("the banned user's session: %s", short(g.raw))
	}
	want(t, "banned sign-in", env.post(t, "/api/auth/sign-in/email", `{"email":"bob@example.com","password":"`+testPassword+`"}`), 403, "BANNED_USER")
}

var v1KeyPattern = regexp.MustCompile(`^sk_live_[A-Za-z]{64}$`)

// Upstream's /api/v1/api-keys on the api-key plugin: create (the key shown
// once), list (no key), validate with a scope (mana's speech services),
// revoke.
func TestV1APIKeys(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	alice := env.seed(t, "alice@example.com")
	bob := env.seed(t, "bob@example.com")

	r := env.post(t, "/api/v1/api-keys", `{"name":"speech"}`, bearer(alice.jwt)...)
	want(t, "create", r, 201, "")
	key, _ := r.body["key"].(string)
	id, _ := r.body["id"].(string)
	if !v1KeyPattern.MatchString(key) || id == "" || r.body["userId"] != alice.id || r.body["keyPrefix"] != key[8:16] ||
		strings.Join(strs(r.body["scopes"]), ",") != "stt,tts" || r.body["revokedAt"] != nil {
		t.Fatalf("create: %s", r.raw)
	}
	list := env.get(t, "/api/v1/api-keys", bearer(alice.jwt)...)
	want(t, "list", list, 200, "")
	if strings.Contains(list.raw, key) || strings.Contains(list.raw, key[8:]) || !strings.Contains(list.raw, `"keyPrefix":"`+key[8:16]+`"`) {
		t.Fatalf("list: %s", list.raw)
	}
	if other := env.get(t, "/api/v1/api-keys", bearer(bob.jwt)...); strings.TrimSpace(other.raw) != "[]" {
		t.Fatalf("bob's list: %s", other.raw)
	}

	v := env.post(t, "/api/v1/api-keys/validate", `{"apiKey":"`+key+`","scope":"stt"}`)
	want(t, "validate", v, 200, "")
	rl, _ := v.body["rateLimit"].(map[string]any)
	if v.body["valid"] != true || v.body["userId"] != alice.id || rl["requests"] != float64(60) || rl["window"] != float64(60) {
		t.Fatalf("validate: %s", v.raw)
	}
	if d := env.post(t, "/api/v1/api-keys/validate", `{"apiKey":"`+key+`","scope":"admin"}`); d.body["valid"] != false || d.body["reason"] != "scope_denied" {
		t.Fatalf("scope denied: %s", d.raw)
	}
	// Many validations: no per-key use limit ends a service key.
	for range 12 {
		if v := env.post(t, "/api/v1/api-keys/validate", `{"apiKey":"`+key+`"}`); v.body["valid"] != true {
			t.Fatalf("validation refused after some uses: %s", v.raw)
		}
	}
	if l := env.get(t, "/api/v1/api-keys", bearer(alice.jwt)...); !strings.Contains(l.raw, `"lastUsedAt":"`) {
		t.Fatalf("lastUsedAt not recorded: %s", l.raw)
	}
	// Only the hash is stored.
	rec, err := env.s.db.FindOne(ctx, "apikey", storage.W("id", id))
	if err != nil || strings.Contains(rec.String("key"), key[8:]) {
		t.Fatalf("stored key %q (%v)", rec.String("key"), err)
	}

	// The GDPR export lists the key in upstream's shape, without it.
	exp := env.get(t, "/api/v1/me/data/export", bearer(alice.jwt)...)
	want(t, "export", exp, 200, "")
	details, _ := exp.body["details"].(map[string]any)
	keys := arr(details["apiKeys"])
	if len(keys) != 1 || strings.Contains(exp.raw, key[8:]) || keys[0].(map[string]any)["keyPrefix"] != key[8:16] {
		t.Fatalf("export apiKeys: %v", details["apiKeys"])
	}
	want(t, "bob revokes alice's key", env.do(t, req{method: "DELETE", path: "/api/v1/api-keys/" + id, hdr: bearer(bob.jwt)}), 404, "NOT_FOUND")
	want(t, "revoke", env.do(t, req{method: "DELETE", path: "/api/v1/api-keys/" + id, hdr: bearer(alice.jwt)}), 200, "")
	if v := env.post(t, "/api/v1/api-keys/validate", `{"apiKey":"`+key+`"}`); v.body["valid"] != false {
		t.Fatalf("a revoked key validates: %s", v.raw)
	}
	if l := env.get(t, "/api/v1/api-keys", bearer(alice.jwt)...); !strings.Contains(l.raw, `"revokedAt":"`) {
		t.Fatalf("revokedAt: %s", l.raw)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range arr(v) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// The reference server's OpenAPI document lists exactly the /api/auth
// routes it mounts.
func TestOpenAPIListsEveryServerRoute(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	r := env.get(t, "/api/auth/open-api/generate-schema")
	want(t, "generate-schema", r, 200, "")
	paths, _ := r.body["paths"].(map[string]any)
	var got []string
	for p, ops := range paths {
		for m := range ops.(map[string]any) {
			switch m {
			case "get", "post", "put", "patch", "delete":
				got = append(got, strings.ToUpper(m)+" /api/auth"+regexp.MustCompile(`\{([^}]+)\}`).ReplaceAllString(p, ":$1"))
			}
		}
	}
	wantRoutes := env.s.auth.Routes()
	slices.Sort(got)
	slices.Sort(wantRoutes)
	if diff := cmp.Diff(wantRoutes, got); diff != "" {
		t.Fatalf("document paths (-mounted +documented):\n%s", diff)
	}
}
