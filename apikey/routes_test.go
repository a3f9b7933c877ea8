package apikey_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// hashOf is Better Auth's defaultKeyHasher.
func hashOf(key string) string {
	s := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// TestCreate checks create's answer field by field (Better Auth's
// record plus the key, shown once), the key's form and what is stored:
// the hash, never the key.
func TestCreate(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableMetadata: true, DefaultPrefix: "app_"}})
			alice := e.user("alice@example.com")
			now := e.clock.Now()
			// The metadata's keys keep their order, as JSON.stringify keeps them.
			r := alice.do("POST", "/api-key/create", rawBody(`{"name":"ci","expiresIn":172800,"metadata":{"b":1, "a":["x"]}}`))
			key := r.str("key")
			if !regexp.MustCompile(`^app_[a-zA-Z]{64}$`).MatchString(key) {
				t.Fatalf("key %q is not app_ and 64 letters", key)
			}
			want := map[string]any{
				"configId": "default", "name": "ci", "start": key[:6], "referenceId": alice.userID, "prefix": "app_",
				"key": key, "refillInterval": nil, "refillAmount": nil, "lastRefillAt": nil, "enabled": true,
				"rateLimitEnabled": true, "rateLimitTimeWindow": 86400000.0, "rateLimitMax": 10.0, "requestCount": 0.0,
				"remaining": nil, "lastRequest": nil, "expiresAt": plugin.FormatTime(now.Add(48 * time.Hour)),
				"createdAt": plugin.FormatTime(now), "updatedAt": plugin.FormatTime(now), "permissions": nil,
				"metadata": map[string]any{"b": 1.0, "a": []any{"x"}}, "id": r.body["id"],
			}
			if d := cmp.Diff(want, r.body); d != "" {
				t.Fatalf("create answer (-want +got):\n%s", d)
			}
			if !strings.HasPrefix(r.raw, `{"configId":"default","name":"ci","start":`) || !strings.HasSuffix(r.raw, `"metadata":{"b":1,"a":["x"]},"id":"`+r.str("id")+`"}`) {
				t.Fatalf("field order differs from Better Auth's: %s", r.raw)
			}
			rec := e.row(r.str("id"))
			if rec.String("key") != hashOf(key) {
				t.Fatalf("stored key %q, want base64url(sha256(key))", rec.String("key"))
			}
			if strings.Contains(r.raw, hashOf(key)) {
				t.Fatal("the answer holds the hash")
			}
			if rec.String("metadata") != `{"b":1,"a":["x"]}` {
				t.Fatalf("stored metadata %q", rec.String("metadata"))
			}
		})
	}
}

// TestCreateDefaults checks a key created with an empty body: Better
// Auth's defaults, no prefix, no name, no expiry.
func TestCreateDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	r := e.user("alice@example.com").create(nil)
	for k, v := range map[string]any{"name": nil, "prefix": nil, "expiresAt": nil, "metadata": nil, "permissions": nil,
		"rateLimitMax": 10.0, "rateLimitTimeWindow": 86400000.0, "remaining": nil} {
		if d := cmp.Diff(v, r.body[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}
	if !regexp.MustCompile(`^[a-zA-Z]{64}$`).MatchString(r.str("key")) {
		t.Fatalf("key %q", r.str("key"))
	}
}

// TestCreateRefused checks every refusal of create: Better Auth's
// status, code and message, and no row written.
func TestCreateRefused(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableMetadata: true}})
			alice := e.user("alice@example.com")
			noMeta := newEnv(t, envOpts{db: db})
			bob := noMeta.user("bob@example.com")
			anon := e.client()
			long := strings.Repeat("a", 33)
			cases := []struct {
				name    string
				c       *client
				body    any
				status  int
				code    string
				message string
			}{
				{"no session", anon, map[string]any{}, 401, "UNAUTHORIZED_SESSION", "Unauthorized or invalid session"},
				{"userId without session", anon, map[string]any{"userId": alice.userID}, 401, "UNAUTHORIZED_SESSION", ""},
				{"userId with session", alice, map[string]any{"userId": alice.userID}, 401, "UNAUTHORIZED_SESSION", ""},
				{"userId null", alice, rawBody(`{"userId":null}`), 401, "UNAUTHORIZED_SESSION", ""},
				{"remaining", alice, map[string]any{"remaining": 5}, 400, "SERVER_ONLY_PROPERTY",
					"The property you're trying to set can only be set from the server auth instance only."},
				{"remaining without session", anon, map[string]any{"remaining": 5}, 400, "SERVER_ONLY_PROPERTY", ""},
				{"refillAmount", alice, map[string]any{"refillAmount": 5}, 400, "SERVER_ONLY_PROPERTY", ""},
				{"refillInterval", alice, map[string]any{"refillInterval": 5}, 400, "SERVER_ONLY_PROPERTY", ""},
				{"rateLimitEnabled", alice, map[string]any{"rateLimitEnabled": false}, 400, "SERVER_ONLY_PROPERTY", ""},
				{"rateLimitTimeWindow", alice, map[string]any{"rateLimitTimeWindow": 5}, 400, "SERVER_ONLY_PROPERTY", ""},
				{"rateLimitMax", alice, map[string]any{"rateLimitMax": 500}, 400, "SERVER_ONLY_PROPERTY", ""},
				{"permissions", alice, map[string]any{"permissions": map[string]any{"files": []string{"read"}}}, 400, "SERVER_ONLY_PROPERTY", ""},
				{"expiresIn too small", alice, map[string]any{"expiresIn": 3600}, 400, "EXPIRES_IN_IS_TOO_SMALL",
					"The expiresIn is smaller than the predefined minimum value."},
				{"expiresIn too large", alice, map[string]any{"expiresIn": 366 * 86400}, 400, "EXPIRES_IN_IS_TOO_LARGE",
					"The expiresIn is larger than the predefined maximum value."},
				{"expiresIn huge", alice, rawBody(`{"expiresIn":1e300}`), 400, "EXPIRES_IN_IS_TOO_LARGE", ""},
				{"expiresIn zero", alice, map[string]any{"expiresIn": 0}, 400, "VALIDATION_ERROR",
					"[body.expiresIn] Too small: expected number to be >=1"},
				{"metadata a string", alice, map[string]any{"metadata": "x"}, 400, "INVALID_METADATA_TYPE",
					"metadata must be an object or undefined"},
				{"metadata disabled", bob, map[string]any{"metadata": map[string]any{"a": 1}}, 400, "METADATA_DISABLED", "Metadata is disabled."},
				{"name too long", alice, map[string]any{"name": long}, 400, "INVALID_NAME_LENGTH",
					"The name length is either too large or too small."},
				{"name 33 UTF-16 units", alice, map[string]any{"name": strings.Repeat("a", 31) + "😀"}, 400, "INVALID_NAME_LENGTH", ""},
				{"prefix too long", alice, map[string]any{"prefix": long}, 400, "INVALID_PREFIX_LENGTH",
					"The prefix length is either too large or too small."},
				{"prefix with a dot", alice, map[string]any{"prefix": "a.b"}, 400, "VALIDATION_ERROR",
					"[body.prefix] Invalid prefix format, must be alphanumeric and contain only underscores and hyphens."},
				{"prefix empty", alice, map[string]any{"prefix": ""}, 400, "VALIDATION_ERROR", ""},
				{"wrong types", alice, map[string]any{"name": 5, "expiresIn": "1", "prefix": true}, 400, "VALIDATION_ERROR",
					"[body.name] Invalid input: expected string, received number; [body.expiresIn] Invalid input: expected number, received string; [body.prefix] Invalid input: expected string, received boolean"},
				{"name null", alice, rawBody(`{"name":null}`), 400, "VALIDATION_ERROR", "[body.name] Invalid input: expected string, received null"},
				{"permissions not arrays", alice, rawBody(`{"permissions":{"files":"read","x":[1]}}`), 400, "VALIDATION_ERROR",
					"[body.permissions.files] Invalid input: expected array, received string; [body.permissions.x.0] Invalid input: expected string, received number"},
				{"body an array", alice, rawBody(`[]`), 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received array"},
				{"no body", alice, nil, 400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received undefined"},
				{"name with NUL", alice, map[string]any{"name": "a\x00b"}, 400, "INVALID_INPUT", ""},
				{"metadata with invalid UTF-8", alice, rawBody("{\"metadata\":{\"a\":\"\xff\"}}"), 400, "INVALID_INPUT", ""},
			}
			for _, tc := range cases {
				before := e.count(apikey.TableAPIKey) + noMeta.count(apikey.TableAPIKey)
				r := tc.c.do("POST", "/api-key/create", tc.body)
				t.Run(tc.name, func(t *testing.T) { expectErr(t, r, tc.status, tc.code, tc.message) })
				if after := e.count(apikey.TableAPIKey) + noMeta.count(apikey.TableAPIKey); after != before {
					t.Fatalf("%s: %d keys before, %d after", tc.name, before, after)
				}
			}
		})
	}
}

// TestCreateEdgeCases checks Better Auth's treatment of values it does
// not refuse: an empty name, falsy metadata (echoed, not stored), an
// array as metadata, metadata with metadata disabled but falsy.
func TestCreateEdgeCases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{EnableMetadata: true}})
	alice := e.user("alice@example.com")
	cases := []struct {
		name   string
		body   map[string]any
		field  string
		answer any
		stored any
	}{
		{"empty name", map[string]any{"name": ""}, "name", "", ""},
		{"metadata 0", map[string]any{"metadata": 0}, "metadata", 0.0, nil},
		{"metadata false", map[string]any{"metadata": false}, "metadata", false, nil},
		{"metadata null", map[string]any{"metadata": nil}, "metadata", nil, nil},
		{"metadata an array", map[string]any{"metadata": []any{1, "a"}}, "metadata", []any{1.0, "a"}, `[1,"a"]`},
		{"expiresIn null", map[string]any{"expiresIn": nil}, "expiresAt", nil, nil},
		{"remaining null", map[string]any{"remaining": nil}, "remaining", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := alice.create(tc.body)
			if d := cmp.Diff(tc.answer, r.body[tc.field]); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.stored, e.row(r.str("id"))[tc.field]); d != "" {
				t.Errorf("stored (-want +got):\n%s", d)
			}
		})
	}
}

// keyFields are the fields of a key in every answer but create's.
var keyFields = []string{"configId", "name", "start", "referenceId", "prefix", "refillInterval", "refillAmount",
	"lastRefillAt", "enabled", "rateLimitEnabled", "rateLimitTimeWindow", "rateLimitMax", "requestCount", "remaining",
	"lastRequest", "expiresAt", "createdAt", "updatedAt", "permissions", "metadata", "id"}

func fieldsOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestManage runs list, get, update and delete as a user and as another
// user: a key is only ever its owner's, and no answer but create's holds
// the key or its hash.
func TestManage(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableMetadata: true}})
			alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
			k1 := alice.create(map[string]any{"name": "one"})
			e.clock.Advance(time.Second)
			k2 := alice.create(map[string]any{"name": "two"})
			kb := bob.create(map[string]any{"name": "bob's"})
			id1, id2, idb := k1.str("id"), k2.str("id"), kb.str("id")
			var answers []string

			r := alice.do("GET", "/api-key/list", nil)
			answers = append(answers, r.raw)
			if r.status != 200 || r.body["total"] != 2.0 {
				t.Fatalf("list: %d %s", r.status, r.raw)
			}
			keys := r.body["apiKeys"].([]any)
			var ids []string
			for _, k := range keys {
				m := k.(map[string]any)
				ids = append(ids, m["id"].(string))
				if d := cmp.Diff(keyFields, fieldsOf(m), cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
					t.Fatalf("listed key fields (-want +got):\n%s", d)
				}
			}
			if d := cmp.Diff([]string{id1, id2}, ids); d != "" {
				t.Fatalf("listed ids (-want +got):\n%s", d)
			}
			if _, ok := r.body["limit"]; ok {
				t.Fatal("limit in an answer to a list without one")
			}
			r = alice.do("GET", "/api-key/list?limit=1&offset=1&sortBy=createdAt&sortDirection=desc", nil)
			answers = append(answers, r.raw)
			if r.body["total"] != 2.0 || r.body["limit"] != 1.0 || r.body["offset"] != 1.0 || len(r.body["apiKeys"].([]any)) != 1 ||
				r.body["apiKeys"].([]any)[0].(map[string]any)["id"] != id1 {
				t.Fatalf("paged list: %s", r.raw)
			}
			for _, q := range []string{"organizationId=org1", "configId=other"} {
				r = alice.do("GET", "/api-key/list?"+q, nil)
				if r.status != 200 || r.body["total"] != 0.0 {
					t.Fatalf("list ?%s: %d %s", q, r.status, r.raw)
				}
			}

			r = alice.do("GET", "/api-key/get?id="+id1, nil)
			answers = append(answers, r.raw)
			if r.status != 200 || r.str("id") != id1 || r.str("name") != "one" {
				t.Fatalf("get: %d %s", r.status, r.raw)
			}
			if d := cmp.Diff(keyFields, fieldsOf(r.body), cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
				t.Fatalf("get fields (-want +got):\n%s", d)
			}

			// Another user's key is not found, as an unknown one.
			for _, tc := range []struct {
				name, method, path string
				body               any
			}{
				{"get", "GET", "/api-key/get?id=" + idb, nil},
				{"get unknown", "GET", "/api-key/get?id=nope", nil},
				{"update", "POST", "/api-key/update", map[string]any{"keyId": idb, "name": "mine"}},
				{"update disable", "POST", "/api-key/update", map[string]any{"keyId": idb, "enabled": false}},
				{"delete", "POST", "/api-key/delete", map[string]any{"keyId": idb}},
				{"delete unknown", "POST", "/api-key/delete", map[string]any{"keyId": "nope"}},
			} {
				t.Run("foreign "+tc.name, func(t *testing.T) {
					expectErr(t, alice.do(tc.method, tc.path, tc.body), 404, "KEY_NOT_FOUND", "API Key not found")
				})
			}
			if rec := e.row(idb); rec == nil || rec.String("name") != "bob's" || rec["enabled"] != true {
				t.Fatalf("bob's key changed by alice: %v", rec)
			}

			r = alice.do("POST", "/api-key/update", map[string]any{"keyId": id1, "name": "renamed", "enabled": false,
				"expiresIn": 86400, "metadata": map[string]any{"env": "ci"}})
			answers = append(answers, r.raw)
			if r.status != 200 || r.str("name") != "renamed" || r.body["enabled"] != false ||
				r.str("expiresAt") != plugin.FormatTime(e.clock.Now().Add(24*time.Hour)) ||
				cmp.Diff(map[string]any{"env": "ci"}, r.body["metadata"]) != "" {
				t.Fatalf("update: %d %s", r.status, r.raw)
			}
			if r.str("updatedAt") != k1.str("updatedAt") {
				t.Fatalf("update changed updatedAt (Better Auth's does not): %s", r.raw)
			}
			r = alice.do("POST", "/api-key/update", map[string]any{"keyId": id1, "expiresIn": nil, "metadata": nil})
			if r.status != 200 || r.body["expiresAt"] != nil || r.body["metadata"] != nil {
				t.Fatalf("update to null: %d %s", r.status, r.raw)
			}

			r = alice.do("POST", "/api-key/delete", map[string]any{"keyId": id2})
			if r.status != 200 || r.raw != `{"success":true}` {
				t.Fatalf("delete: %d %s", r.status, r.raw)
			}
			if e.row(id2) != nil {
				t.Fatal("deleted key still stored")
			}
			expectErr(t, alice.do("POST", "/api-key/delete", map[string]any{"keyId": id2}), 404, "KEY_NOT_FOUND", "")

			for _, a := range answers {
				for _, k := range []string{k1.str("key"), k2.str("key"), kb.str("key")} {
					if strings.Contains(a, k) || strings.Contains(a, hashOf(k)) {
						t.Fatalf("an answer holds a key or its hash: %s", a)
					}
				}
			}
		})
	}
}

// TestManageRefused checks the refusals of get, list, update and
// delete, in Better Auth's order (the input before the session).
func TestManageRefused(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			testManageRefused(t, db)
		})
	}
}

func testManageRefused(t *testing.T, db string) {
	e := newEnv(t, envOpts{db: db, opts: apikey.Options{EnableMetadata: true}})
	alice := e.user("alice@example.com")
	id := alice.create(nil).str("id")
	anon := e.client()
	cases := []struct {
		name         string
		c            *client
		method, path string
		body         any
		status       int
		code, msg    string
	}{
		{"get no session", anon, "GET", "/api-key/get?id=" + id, nil, 401, "UNAUTHORIZED", "Unauthorized"},
		{"get no id", anon, "GET", "/api-key/get", nil, 400, "VALIDATION_ERROR", "[query.id] Invalid input: expected string, received undefined"},
		{"get two ids", alice, "GET", "/api-key/get?id=a&id=b", nil, 400, "VALIDATION_ERROR", "[query.id] Invalid input: expected string, received array"},
		{"get NUL id", alice, "GET", "/api-key/get?id=%00", nil, 404, "KEY_NOT_FOUND", ""},
		{"list no session", anon, "GET", "/api-key/list", nil, 401, "UNAUTHORIZED", "Unauthorized"},
		{"list bad limit", anon, "GET", "/api-key/list?limit=abc", nil, 400, "VALIDATION_ERROR", "[query.limit] Invalid input: expected number, received NaN"},
		{"list fractional offset", alice, "GET", "/api-key/list?offset=1.5", nil, 400, "VALIDATION_ERROR", "[query.offset] Invalid input: expected int, received number"},
		{"list negative limit", alice, "GET", "/api-key/list?limit=-1", nil, 400, "VALIDATION_ERROR", "[query.limit] Too small: expected number to be >=0"},
		{"list bad direction", alice, "GET", "/api-key/list?sortDirection=up", nil, 400, "VALIDATION_ERROR", `[query.sortDirection] Invalid option: expected one of "asc"|"desc"`},
		{"list bad sort field", alice, "GET", "/api-key/list?sortBy=nope", nil, 400, "VALIDATION_ERROR", ""},
		{"update no session", anon, "POST", "/api-key/update", map[string]any{"keyId": id, "name": "x"}, 401, "UNAUTHORIZED_SESSION", ""},
		{"update no keyId", anon, "POST", "/api-key/update", map[string]any{"name": "x"}, 400, "VALIDATION_ERROR", "[body.keyId] Invalid input: expected string, received undefined"},
		{"update other userId", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "userId": "someone", "name": "x"}, 401, "UNAUTHORIZED_SESSION", ""},
		{"update nothing", alice, "POST", "/api-key/update", map[string]any{"keyId": id}, 400, "NO_VALUES_TO_UPDATE", "No values to update."},
		{"update remaining", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "remaining": 5}, 400, "SERVER_ONLY_PROPERTY", ""},
		{"update permissions", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "permissions": nil}, 400, "SERVER_ONLY_PROPERTY", ""},
		{"update rateLimitEnabled", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "rateLimitEnabled": false}, 400, "SERVER_ONLY_PROPERTY", ""},
		{"update refill", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "refillAmount": 1, "refillInterval": 1}, 400, "SERVER_ONLY_PROPERTY", ""},
		{"update empty name", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "name": ""}, 400, "INVALID_NAME_LENGTH", ""},
		{"update expiresIn small", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "expiresIn": 60}, 400, "EXPIRES_IN_IS_TOO_SMALL", ""},
		{"update expiresIn large", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "expiresIn": 400 * 86400}, 400, "EXPIRES_IN_IS_TOO_LARGE", ""},
		{"update metadata string", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "metadata": "x"}, 400, "INVALID_METADATA_TYPE", ""},
		{"update name NUL", alice, "POST", "/api-key/update", map[string]any{"keyId": id, "name": "\x00"}, 400, "INVALID_INPUT", ""},
		{"delete no session", anon, "POST", "/api-key/delete", map[string]any{"keyId": id}, 401, "UNAUTHORIZED", "Unauthorized"},
		{"delete no keyId", anon, "POST", "/api-key/delete", map[string]any{}, 400, "VALIDATION_ERROR", "[body.keyId] Invalid input: expected string, received undefined"},
		{"delete keyId number", alice, "POST", "/api-key/delete", map[string]any{"keyId": 1}, 400, "VALIDATION_ERROR", "[body.keyId] Invalid input: expected string, received number"},
		{"delete keyId NUL", alice, "POST", "/api-key/delete", map[string]any{"keyId": "a\x00"}, 404, "KEY_NOT_FOUND", ""},
		{"update keyId invalid UTF-8", alice, "POST", "/api-key/update", rawBody("{\"keyId\":\"\xff\xfe\",\"name\":\"x\"}"), 404, "KEY_NOT_FOUND", ""},
		{"get invalid UTF-8 id", alice, "GET", "/api-key/get?id=%ff", nil, 404, "KEY_NOT_FOUND", ""},
		{"list sortBy NUL", alice, "GET", "/api-key/list?sortBy=%00", nil, 400, "VALIDATION_ERROR", ""},
	}
	before := e.row(id)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectErr(t, tc.c.do(tc.method, tc.path, tc.body), tc.status, tc.code, tc.msg)
		})
	}
	if d := cmp.Diff(before, e.row(id)); d != "" {
		t.Fatalf("a refused request changed the key (-before +after):\n%s", d)
	}
	// Update ignores metadata when metadata is off.
	e2 := newEnv(t, envOpts{db: db})
	bob := e2.user("bob@example.com")
	expectErr(t, bob.do("POST", "/api-key/update", map[string]any{"keyId": bob.create(nil).str("id"), "metadata": map[string]any{"a": 1}}),
		400, "NO_VALUES_TO_UPDATE", "")
}

// TestServerOnlyRoutes checks that verify and delete-all-expired are not
// HTTP routes (Better Auth's server-only endpoints answer 404, empty).
func TestServerOnlyRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	alice := e.user("alice@example.com")
	key := alice.create(nil).str("key")
	for _, path := range []string{"/api-key/verify", "/api-key/delete-all-expired-api-keys"} {
		r := alice.do("POST", path, map[string]any{"key": key})
		if r.status != http.StatusNotFound || r.raw != "" {
			t.Errorf("%s: %d %q", path, r.status, r.raw)
		}
	}
}

// TestBannedUserCannotDelete checks Better Auth's USER_BANNED on delete
// for a user the admin plugin banned.
func TestBannedUserCannotDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{plugins: []auth.Plugin{bannedField{}}})
	alice := e.user("alice@example.com")
	id := alice.create(nil).str("id")
	if _, err := e.a.Host().UpdateUser(context.Background(), alice.userID, map[string]any{"banned": true}); err != nil {
		t.Fatal(err)
	}
	expectErr(t, alice.do("POST", "/api-key/delete", map[string]any{"keyId": id}), 401, "USER_BANNED", "User is banned")
	if e.row(id) == nil {
		t.Fatal("a banned user deleted a key")
	}
}

// bannedField adds the admin plugin's ban fields to the user table.
type bannedField struct{}

func (bannedField) ID() string { return "ban-fields" }
func (bannedField) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: []storage.Field{
		{Name: "banned", Type: storage.Bool}, {Name: "banExpires", Type: storage.Date}}}}}
}
