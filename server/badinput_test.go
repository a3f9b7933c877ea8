package server

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/vault"
)

// badCase is one refused (or harmlessly ignored) request: it must answer
// status with the stable code and leave the database as it was.
type badCase struct {
	desc               string
	method, path, body string
	as                 string   // who calls: a key of the callers map ("" = nobody)
	hdr                []string // extra headers
	status             int
	code               string                 // errCode of the body ("" = not checked)
	check              func(*testing.T, resp) // more checks on the answer
}

func nullBody(t *testing.T, r resp) {
	t.Helper()
	if strings.TrimSpace(r.raw) != "null" {
		t.Errorf("body %s, want null", short(r.raw))
	}
}

func invalidToken(reason string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		if r.body["valid"] != false || (reason != "" && r.body["reason"] != reason) || str(r.body["reason"]) == "" {
			t.Errorf("validate: %s, want valid:false reason %q", r.raw, reason)
		}
	}
}

func TestE2EBadInput(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()

	a := env.seed(t, "alice@example.com")
	b := env.seed(t, "bob@example.com")
	admin := env.seed(t, "admin@example.com")
	// An admin whose role was taken back after the token was minted.
	ex := env.seed(t, "ex-admin@example.com")
	env.s.db.Update(ctx, plugin.TableUser, storage.Record{"role": RoleAdmin}, storage.W("id", ex.id))
	exUser, _ := env.s.auth.Host().FindUserByID(ctx, ex.id)
	exAdmin := env.session(t, exUser)
	env.s.db.Update(ctx, plugin.TableUser, storage.Record{"role": RoleUser}, storage.W("id", ex.id))
	// A user deleted after the token was minted.
	gone := env.seed(t, "gone@example.com")
	if err := env.s.auth.DeleteUser(ctx, gone.id); err != nil {
		t.Fatal(err)
	}
	// A session of alice's that was revoked.
	aUser, _ := env.s.auth.Host().FindUserByID(ctx, a.id)
	// A second session of alice's, without an active organization (the
	// org plugin, as Better Auth, clears the caller's own active
	// organization when asked for one it cannot see).
	second := env.session(t, aUser)
	revoked := env.session(t, aUser)
	if err := env.s.auth.RevokeSession(ctx, a.id, revoked.token); err != nil {
		t.Fatal(err)
	}
	// A token of another mana-auth (other keys, other issuer).
	foreign := newE2E(t, nil).seed(t, "alice@example.com")

	// Organizations: alice's and bob's; bob has a vault, alice none.
	orgOf := func(u *seeded, slug string) string {
		r := env.post(t, "/api/auth/organization/create", `{"name":"`+slug+`","slug":"`+slug+`"}`, "Cookie", u.cookie)
		want(t, "organization create", r, 200, "")
		return str(r.body["id"])
	}
	aOrg, bOrg := orgOf(a, "alice-org"), orgOf(b, "bob-org")
	want(t, "bob's vault", env.post(t, "/api/v1/me/encryption-vault/init", "", bearer(b.jwt)...), 200, "")

	callers := map[string][]string{
		"a.cookie":     {"Cookie", a.cookie},
		"a.jwt":        bearer(a.jwt),
		"a.second":     {"Cookie", second.cookie},
		"b.jwt":        bearer(b.jwt),
		"a.expired":    bearer(env.expiredJWT(t, a)),
		"a.forged":     bearer(forgeJWT(t, a.jwt)),
		"a.tampered":   bearer(withClaims(t, a.jwt, func(m map[string]any) { m["sub"] = b.id })),
		"a.foreign":    bearer(foreign.jwt),
		"a.garbage":    {"Authorization", "Bearer not.a.jwt"},
		"a.basic":      {"Authorization", "Basic YWxpY2U6cGFzc3dvcmQxMjM="},
		"a.revoked":    {"Cookie", revoked.cookie},
		"a.badcookie":  {"Cookie", a.cookie[:len(a.cookie)-4] + "AAAA"},
		"admin.jwt":    bearer(admin.jwt),
		"admin.cookie": {"Cookie", admin.cookie},
		"admin.expire": bearer(env.expiredJWT(t, admin)),
		"ex-admin.jwt": bearer(exAdmin.jwt),
		"gone.jwt":     bearer(gone.jwt),
		"a.revokedjwt": bearer(revoked.jwt),
		"key":          {"X-Service-Key", "internal-service-key-123"},
		"key.wrong":    {"X-Service-Key", "internal-service-key-124"},
	}
	noOrigin := []string{"Origin", ""}
	evilOrigin := []string{"Origin", "https://evil.example"}
	textPlain := []string{"Content-Type", "text/plain"}
	wrap := base64.StdEncoding.EncodeToString(make([]byte, vault.WrappedKeySize))
	iv := base64.StdEncoding.EncodeToString(make([]byte, vault.IVSize))
	long := strings.Repeat("x", 129)
	noMailTo := func(addr string) func(*testing.T, resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			if r.body["success"] != true {
				t.Errorf("body %s, want success", r.raw)
			}
			if m := env.mails(addr); len(m) != 0 {
				t.Errorf("mail sent to %s: %+v", addr, m)
			}
		}
	}
	isMember := func(want bool) func(*testing.T, resp) {
		return func(t *testing.T, r resp) {
			t.Helper()
			if r.body["isMember"] != want || (!want && r.body["role"] != "") {
				t.Errorf("member answer %s, want isMember %v", r.raw, want)
			}
		}
	}

	const (
		v1   = "/api/v1/auth"
		me   = "/api/v1/me"
		adm  = "/api/v1/admin"
		intl = "/api/v1/internal"
		vlt  = "/api/v1/me/encryption-vault"
	)
	cases := []badCase{
		// POST /register
		{desc: "malformed JSON", method: "POST", path: v1 + "/register", body: `{"email":`, status: 400, code: "VALIDATION"},
		{desc: "wrong types", method: "POST", path: v1 + "/register", body: `{"email":1,"password":true}`, status: 400, code: "VALIDATION"},
		{desc: "array body", method: "POST", path: v1 + "/register", body: `[1]`, status: 400, code: "VALIDATION"},
		{desc: "empty object", method: "POST", path: v1 + "/register", body: `{}`, status: 400, code: "VALIDATION"},
		{desc: "invalid email", method: "POST", path: v1 + "/register", body: `{"email":"not-an-email","password":"password123"}`, status: 400, code: "VALIDATION"},
		{desc: "short password", method: "POST", path: v1 + "/register", body: `{"email":"new@example.com","password":"short"}`, status: 400, code: "WEAK_PASSWORD"},
		{desc: "long password", method: "POST", path: v1 + "/register", body: `{"email":"new@example.com","password":"` + long + `"}`, status: 400, code: "WEAK_PASSWORD"},
		{desc: "text/plain", method: "POST", path: v1 + "/register", body: `{"email":"new@example.com","password":"password123"}`, hdr: textPlain, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{desc: "untrusted sourceAppUrl", method: "POST", path: v1 + "/register", body: `{"email":"new@example.com","password":"password123","sourceAppUrl":"https://evil.example/x"}`, status: 403, code: "INVALID_CALLBACK_URL"},
		{desc: "taken email", method: "POST", path: v1 + "/register", body: `{"email":"Alice@example.com","password":"password123"}`, status: 409, code: "EMAIL_ALREADY_REGISTERED"},

		// POST /login
		{desc: "malformed JSON", method: "POST", path: v1 + "/login", body: `{"email":"alice@example.com"`, status: 400, code: "VALIDATION"},
		{desc: "wrong types", method: "POST", path: v1 + "/login", body: `{"email":1,"password":2}`, status: 400, code: "VALIDATION"},
		{desc: "invalid email", method: "POST", path: v1 + "/login", body: `{"email":"alice","password":"password123"}`, status: 400, code: "VALIDATION"},
		{desc: "unknown email", method: "POST", path: v1 + "/login", body: `{"email":"nobody@example.com","password":"password123"}`, status: 401, code: "INVALID_CREDENTIALS"},
		{desc: "wrong password", method: "POST", path: v1 + "/login", body: `{"email":"alice@example.com","password":"wrong-password"}`, status: 401, code: "INVALID_CREDENTIALS"},
		{desc: "text/plain", method: "POST", path: v1 + "/login", body: `{"email":"alice@example.com","password":"password123"}`, hdr: textPlain, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},

		// POST /logout, GET /session, GET /profile
		{desc: "cookie without Origin", method: "POST", path: v1 + "/logout", as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},
		{desc: "cookie from another site", method: "POST", path: v1 + "/logout", as: "a.cookie", hdr: evilOrigin, status: 403, code: "INVALID_ORIGIN"},
		{desc: "bearer JWT is no session", method: "GET", path: v1 + "/session", as: "a.jwt", status: 200, check: nullBody},
		{desc: "badly signed cookie", method: "GET", path: v1 + "/session", as: "a.badcookie", status: 200, check: nullBody},
		{desc: "revoked session", method: "GET", path: v1 + "/session", as: "a.revoked", status: 200, check: nullBody},
		{desc: "bearer JWT is no session", method: "GET", path: v1 + "/profile", as: "a.jwt", status: 200, check: nullBody},
		{desc: "nobody", method: "GET", path: v1 + "/profile", status: 200, check: nullBody},

		// POST /profile
		{desc: "nobody", method: "POST", path: v1 + "/profile", body: `{"name":"X"}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "bearer JWT is no session", method: "POST", path: v1 + "/profile", body: `{"name":"X"}`, as: "a.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "wrong type", method: "POST", path: v1 + "/profile", body: `{"name":123}`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "email is not updatable", method: "POST", path: v1 + "/profile", body: `{"email":"x@example.com"}`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "malformed JSON", method: "POST", path: v1 + "/profile", body: `{"name":`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "array body", method: "POST", path: v1 + "/profile", body: `[1]`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "cookie without Origin", method: "POST", path: v1 + "/profile", body: `{"name":"X"}`, as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},

		// POST /validate (answers 200 {valid:false} by contract)
		{desc: "malformed JSON", method: "POST", path: v1 + "/validate", body: `{"token":`, status: 400, code: "VALIDATION"},
		{desc: "missing token", method: "POST", path: v1 + "/validate", body: `{}`, status: 200, check: invalidToken("MISSING_TOKEN")},
		{desc: "expired", method: "POST", path: v1 + "/validate", body: `{"token":"` + strings.TrimPrefix(callersTok(callers, "a.expired"), "Bearer ") + `"}`, status: 200, check: invalidToken("TOKEN_EXPIRED")},
		{desc: "signed by another key", method: "POST", path: v1 + "/validate", body: `{"token":"` + callersTok(callers, "a.forged") + `"}`, status: 200, check: invalidToken("INVALID_SIGNATURE")},
		{desc: "claims changed", method: "POST", path: v1 + "/validate", body: `{"token":"` + callersTok(callers, "a.tampered") + `"}`, status: 200, check: invalidToken("INVALID_SIGNATURE")},
		{desc: "another server's token", method: "POST", path: v1 + "/validate", body: `{"token":"` + foreign.jwt + `"}`, status: 200, check: invalidToken("")},
		{desc: "garbage", method: "POST", path: v1 + "/validate", body: `{"token":"a.b.c"}`, status: 200, check: invalidToken("")},
		{desc: "session token", method: "POST", path: v1 + "/validate", body: `{"token":"` + a.token + `"}`, status: 200, check: invalidToken("")},

		// POST /refresh, POST /session-to-token
		{desc: "nobody", method: "POST", path: v1 + "/refresh", status: 401, code: "TOKEN_EXPIRED"},
		{desc: "bearer JWT is no session", method: "POST", path: v1 + "/refresh", as: "a.jwt", status: 401, code: "TOKEN_EXPIRED"},
		{desc: "revoked session", method: "POST", path: v1 + "/refresh", as: "a.revoked", status: 401, code: "TOKEN_EXPIRED"},
		{desc: "nobody", method: "POST", path: v1 + "/session-to-token", status: 401, code: "UNAUTHORIZED"},
		{desc: "bearer JWT is no session", method: "POST", path: v1 + "/session-to-token", as: "a.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "cookie from another site", method: "POST", path: v1 + "/session-to-token", as: "a.cookie", hdr: evilOrigin, status: 403, code: "INVALID_ORIGIN"},

		// POST /forgot-password, /reset-password, /resend-verification
		{desc: "malformed JSON", method: "POST", path: v1 + "/forgot-password", body: `{"email":`, status: 400, code: "VALIDATION"},
		{desc: "untrusted redirectTo", method: "POST", path: v1 + "/forgot-password", body: `{"email":"alice@example.com","redirectTo":"https://evil.example/r"}`, status: 403, code: "INVALID_REDIRECT_URL"},
		{desc: "unknown email (same answer, no mail)", method: "POST", path: v1 + "/forgot-password", body: `{"email":"nobody@example.com"}`, status: 200, check: noMailTo("nobody@example.com")},
		{desc: "invalid email (same answer)", method: "POST", path: v1 + "/forgot-password", body: `{"email":"nobody"}`, status: 200, check: noMailTo("nobody")},
		{desc: "unknown token", method: "POST", path: v1 + "/reset-password", body: `{"token":"nope","newPassword":"password456"}`, status: 400, code: "TOKEN_INVALID"},
		{desc: "empty object", method: "POST", path: v1 + "/reset-password", body: `{}`, status: 400, code: "TOKEN_INVALID"},
		{desc: "wrong types", method: "POST", path: v1 + "/reset-password", body: `{"token":1,"newPassword":2}`, status: 400, code: "VALIDATION"},
		{desc: "malformed JSON", method: "POST", path: v1 + "/reset-password", body: `{"token":"x"`, status: 400, code: "VALIDATION"},
		{desc: "malformed JSON", method: "POST", path: v1 + "/resend-verification", body: `{"email":`, status: 400, code: "VALIDATION"},
		{desc: "untrusted sourceAppUrl", method: "POST", path: v1 + "/resend-verification", body: `{"email":"alice@example.com","sourceAppUrl":"https://evil.example"}`, status: 403, code: "INVALID_CALLBACK_URL"},
		{desc: "verified user (same answer, no mail)", method: "POST", path: v1 + "/resend-verification", body: `{"email":"alice@example.com"}`, status: 200, check: noMailTo("alice@example.com")},

		// POST /change-password
		{desc: "nobody", method: "POST", path: v1 + "/change-password", body: `{"currentPassword":"password123","newPassword":"password456"}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "bearer JWT is no session", method: "POST", path: v1 + "/change-password", body: `{"currentPassword":"password123","newPassword":"password456"}`, as: "a.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "wrong current password", method: "POST", path: v1 + "/change-password", body: `{"currentPassword":"wrong-password","newPassword":"password456"}`, as: "a.cookie", status: 401, code: "INVALID_CREDENTIALS"},
		{desc: "weak new password", method: "POST", path: v1 + "/change-password", body: `{"currentPassword":"password123","newPassword":"short"}`, as: "a.cookie", status: 400, code: "WEAK_PASSWORD"},
		{desc: "wrong types", method: "POST", path: v1 + "/change-password", body: `{"currentPassword":1,"newPassword":true}`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "cookie without Origin", method: "POST", path: v1 + "/change-password", body: `{"currentPassword":"password123","newPassword":"password456"}`, as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},

		// POST /change-email
		{desc: "invalid email", method: "POST", path: v1 + "/change-email", body: `{"newEmail":"nope"}`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "same email", method: "POST", path: v1 + "/change-email", body: `{"newEmail":"alice@example.com"}`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "another user's email (same answer, nothing sent)", method: "POST", path: v1 + "/change-email", body: `{"newEmail":"bob@example.com"}`, as: "a.cookie", status: 200,
			check: func(t *testing.T, r resp) {
				if m := env.mails("bob@example.com"); len(m) != 0 {
					t.Errorf("mail to the taken address: %+v", m)
				}
			}},
		{desc: "untrusted callbackURL", method: "POST", path: v1 + "/change-email", body: `{"newEmail":"new@example.com","callbackURL":"https://evil.example"}`, as: "a.cookie", status: 403, code: "INVALID_CALLBACK_URL"},
		{desc: "nobody", method: "POST", path: v1 + "/change-email", body: `{"newEmail":"new@example.com"}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "bearer JWT is no session", method: "POST", path: v1 + "/change-email", body: `{"newEmail":"new@example.com"}`, as: "a.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "wrong types", method: "POST", path: v1 + "/change-email", body: `{"newEmail":["new@example.com"]}`, as: "a.cookie", status: 400, code: "VALIDATION"},

		// DELETE /account
		{desc: "wrong password", method: "DELETE", path: v1 + "/account", body: `{"password":"wrong-password"}`, as: "a.cookie", status: 401, code: "INVALID_CREDENTIALS"},
		{desc: "nobody", method: "DELETE", path: v1 + "/account", body: `{"password":"password123"}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "bearer JWT is no session", method: "DELETE", path: v1 + "/account", body: `{"password":"password123"}`, as: "a.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "malformed JSON", method: "DELETE", path: v1 + "/account", body: `{"password":`, as: "a.cookie", status: 400, code: "VALIDATION"},
		{desc: "cookie without Origin", method: "DELETE", path: v1 + "/account", body: `{"password":"password123"}`, as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},

		// GET /security-events (own)
		{desc: "nobody", method: "GET", path: v1 + "/security-events", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session", method: "GET", path: v1 + "/security-events", as: "a.revoked", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session's JWT", method: "GET", path: v1 + "/security-events", as: "a.revokedjwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "deleted user's JWT", method: "GET", path: v1 + "/security-events", as: "gone.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "expired JWT", method: "GET", path: v1 + "/security-events", as: "a.expired", status: 401, code: "UNAUTHORIZED"},
		{desc: "limit 0", method: "GET", path: v1 + "/security-events?limit=0", as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "limit 201", method: "GET", path: v1 + "/security-events?limit=201", as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "limit not a number", method: "GET", path: v1 + "/security-events?limit=ten", as: "a.cookie", status: 400, code: "VALIDATION"},

		// GET /sessions, DELETE /sessions/{id}
		{desc: "nobody", method: "GET", path: v1 + "/sessions", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session's JWT", method: "GET", path: v1 + "/sessions", as: "a.revokedjwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "deleted user's JWT", method: "GET", path: v1 + "/sessions", as: "gone.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "JWT with another sub", method: "GET", path: v1 + "/sessions", as: "a.tampered", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session", method: "GET", path: v1 + "/sessions", as: "a.revoked", status: 401, code: "UNAUTHORIZED"},
		{desc: "nobody", method: "DELETE", path: v1 + "/sessions/{bSession}", status: 401, code: "UNAUTHORIZED"},
		{desc: "another user's session", method: "DELETE", path: v1 + "/sessions/{bSession}", as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "another user's session by cookie", method: "DELETE", path: v1 + "/sessions/{bSession}", as: "a.cookie", status: 404, code: "NOT_FOUND"},
		{desc: "unknown session", method: "DELETE", path: v1 + "/sessions/no-such-session", as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "revoked session's JWT", method: "DELETE", path: v1 + "/sessions/{aSession}", as: "a.revokedjwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "cookie without Origin", method: "DELETE", path: v1 + "/sessions/{aSession}", as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},

		// /passkeys/* (bob has a passkey, alice none)
		{desc: "a bad bearer and a query are ignored", method: "GET", path: v1 + "/passkeys/capability?x=1", as: "a.garbage", status: 200},
		{desc: "nobody", method: "POST", path: v1 + "/passkeys/register/options", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session's JWT", method: "POST", path: v1 + "/passkeys/register/options", as: "a.revokedjwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "deleted user's JWT", method: "POST", path: v1 + "/passkeys/register/options", as: "gone.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "unknown authenticatorAttachment", method: "POST", path: v1 + "/passkeys/register/options?authenticatorAttachment=usb", as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "name twice", method: "POST", path: v1 + "/passkeys/register/options?name=a&name=b", as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "cookie without Origin", method: "POST", path: v1 + "/passkeys/register/options", as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},
		{desc: "no challenge", method: "POST", path: v1 + "/passkeys/register/verify", body: `{"response":{"id":"x"}}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "no response", method: "POST", path: v1 + "/passkeys/register/verify", body: `{"name":"k"}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "response not an object", method: "POST", path: v1 + "/passkeys/register/verify", body: `{"response":"x"}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "name not a string", method: "POST", path: v1 + "/passkeys/register/verify", body: `{"response":{},"name":1}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "malformed JSON", method: "POST", path: v1 + "/passkeys/register/verify", body: `{"response":`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "nobody", method: "POST", path: v1 + "/passkeys/register/verify", body: `{"response":{"id":"x"}}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "cookie from another site", method: "POST", path: v1 + "/passkeys/authenticate/options", as: "a.cookie", hdr: evilOrigin, status: 403, code: "INVALID_ORIGIN"},
		{desc: "no challenge", method: "POST", path: v1 + "/passkeys/authenticate/verify", body: `{"response":{"id":"x"}}`, status: 400, code: "VALIDATION"},
		{desc: "empty body", method: "POST", path: v1 + "/passkeys/authenticate/verify", status: 400, code: "VALIDATION"},
		{desc: "response an array", method: "POST", path: v1 + "/passkeys/authenticate/verify", body: `{"response":[1]}`, status: 400, code: "VALIDATION"},
		{desc: "malformed JSON", method: "POST", path: v1 + "/passkeys/authenticate/verify", body: `{"response":{`, status: 400, code: "VALIDATION"},
		{desc: "text/plain", method: "POST", path: v1 + "/passkeys/authenticate/verify", body: `{"response":{}}`, hdr: textPlain, status: 415, code: "UNSUPPORTED_MEDIA_TYPE"},
		{desc: "nobody", method: "GET", path: v1 + "/passkeys", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session's JWT", method: "GET", path: v1 + "/passkeys", as: "a.revokedjwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "deleted user's JWT", method: "GET", path: v1 + "/passkeys", as: "gone.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "forged JWT", method: "GET", path: v1 + "/passkeys", as: "a.forged", status: 401, code: "UNAUTHORIZED"},
		{desc: "another user's passkey", method: "DELETE", path: v1 + "/passkeys/{bPasskey}", as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "another user's passkey by cookie", method: "DELETE", path: v1 + "/passkeys/{bPasskey}", as: "a.cookie", status: 404, code: "NOT_FOUND"},
		{desc: "unknown passkey", method: "DELETE", path: v1 + "/passkeys/no-such-passkey", as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "nobody", method: "DELETE", path: v1 + "/passkeys/{bPasskey}", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session's JWT", method: "DELETE", path: v1 + "/passkeys/{bPasskey}", as: "a.revokedjwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "another user's passkey", method: "PATCH", path: v1 + "/passkeys/{bPasskey}", body: `{"friendlyName":"mine"}`, as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "unknown passkey", method: "PATCH", path: v1 + "/passkeys/no-such-passkey", body: `{"friendlyName":"mine"}`, as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "blank name", method: "PATCH", path: v1 + "/passkeys/{bPasskey}", body: `{"friendlyName":"  "}`, as: "b.jwt", status: 400, code: "VALIDATION"},
		{desc: "no name", method: "PATCH", path: v1 + "/passkeys/{bPasskey}", body: `{}`, as: "b.jwt", status: 400, code: "VALIDATION"},
		{desc: "name not a string", method: "PATCH", path: v1 + "/passkeys/{bPasskey}", body: `{"friendlyName":7}`, as: "b.jwt", status: 400, code: "VALIDATION"},
		{desc: "malformed JSON", method: "PATCH", path: v1 + "/passkeys/{bPasskey}", body: `{"friendlyName":`, as: "b.jwt", status: 400, code: "VALIDATION"},
		{desc: "nobody", method: "PATCH", path: v1 + "/passkeys/{bPasskey}", body: `{"friendlyName":"mine"}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "cookie without Origin", method: "PATCH", path: v1 + "/passkeys/{bPasskey}", body: `{"friendlyName":"mine"}`, as: "b.jwt", hdr: []string{"Cookie", "x=y", "Origin", ""}, status: 403, code: "MISSING_OR_NULL_ORIGIN"},

		// /api/v1/me/data
		{desc: "nobody", method: "GET", path: me + "/data", status: 401, code: "UNAUTHORIZED"},
		{desc: "expired JWT", method: "GET", path: me + "/data", as: "a.expired", status: 401, code: "INVALID_TOKEN"},
		{desc: "JWT signed by another key", method: "GET", path: me + "/data", as: "a.forged", status: 401, code: "INVALID_TOKEN"},
		{desc: "JWT with another sub", method: "GET", path: me + "/data", as: "a.tampered", status: 401, code: "INVALID_TOKEN"},
		{desc: "another server's JWT", method: "GET", path: me + "/data", as: "a.foreign", status: 401, code: "INVALID_TOKEN"},
		{desc: "garbage bearer", method: "GET", path: me + "/data", as: "a.garbage", status: 401, code: "INVALID_TOKEN"},
		{desc: "basic auth", method: "GET", path: me + "/data", as: "a.basic", status: 401, code: "UNAUTHORIZED"},
		{desc: "revoked session", method: "GET", path: me + "/data", as: "a.revoked", status: 401, code: "UNAUTHORIZED"},
		{desc: "deleted user", method: "GET", path: me + "/data", as: "gone.jwt", status: 404, code: "USER_NOT_FOUND"},
		{desc: "nobody", method: "GET", path: me + "/data/export", status: 401, code: "UNAUTHORIZED"},
		{desc: "expired JWT", method: "GET", path: me + "/data/export", as: "a.expired", status: 401, code: "INVALID_TOKEN"},
		{desc: "deleted user", method: "GET", path: me + "/data/export", as: "gone.jwt", status: 404, code: "USER_NOT_FOUND"},
		{desc: "expired JWT", method: "DELETE", path: me + "/data", as: "a.expired", status: 401, code: "INVALID_TOKEN"},
		{desc: "JWT signed by another key", method: "DELETE", path: me + "/data", as: "a.forged", status: 401, code: "INVALID_TOKEN"},
		{desc: "another server's JWT", method: "DELETE", path: me + "/data", as: "a.foreign", status: 401, code: "INVALID_TOKEN"},
		{desc: "cookie without Origin", method: "DELETE", path: me + "/data", as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},
		{desc: "deleted user", method: "DELETE", path: me + "/data", as: "gone.jwt", status: 404, code: "USER_NOT_FOUND"},

		// /api/v1/admin/*
		{desc: "nobody", method: "GET", path: adm + "/users", status: 401, code: "UNAUTHORIZED"},
		{desc: "member", method: "GET", path: adm + "/users", as: "a.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "member by cookie", method: "GET", path: adm + "/users", as: "a.cookie", status: 403, code: "FORBIDDEN"},
		{desc: "expired admin JWT", method: "GET", path: adm + "/users", as: "admin.expire", status: 401, code: "INVALID_TOKEN"},
		{desc: "admin role taken back", method: "GET", path: adm + "/users", as: "ex-admin.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "page 0", method: "GET", path: adm + "/users?page=0", as: "admin.jwt", status: 400, code: "VALIDATION"},
		{desc: "limit not a number", method: "GET", path: adm + "/users?limit=abc", as: "admin.jwt", status: 400, code: "VALIDATION"},
		{desc: "unknown tier", method: "GET", path: adm + "/users?tier=emperor", as: "admin.jwt", status: 400, code: "INVALID_TIER"},
		{desc: "search too long", method: "GET", path: adm + "/users?search=" + strings.Repeat("a", 201), as: "admin.jwt", status: 400, code: "VALIDATION"},
		{desc: "member", method: "GET", path: adm + "/users/{b}/data", as: "a.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "unknown user", method: "GET", path: adm + "/users/no-such-user/data", as: "admin.jwt", status: 404, code: "USER_NOT_FOUND"},
		{desc: "nobody", method: "GET", path: adm + "/users/{b}/data", status: 401, code: "UNAUTHORIZED"},
		{desc: "member erasing another user", method: "DELETE", path: adm + "/users/{b}/data", as: "a.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "admin role taken back", method: "DELETE", path: adm + "/users/{b}/data", as: "ex-admin.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "unknown user", method: "DELETE", path: adm + "/users/no-such-user/data", as: "admin.jwt", status: 404, code: "USER_NOT_FOUND"},
		{desc: "admin cookie without Origin", method: "DELETE", path: adm + "/users/{b}/data", as: "admin.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},
		{desc: "member", method: "GET", path: adm + "/users/{b}/tier", as: "a.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "unknown user", method: "GET", path: adm + "/users/no-such-user/tier", as: "admin.jwt", status: 404, code: "USER_NOT_FOUND"},
		{desc: "member raising own tier", method: "PUT", path: adm + "/users/{a}/tier", body: `{"tier":"founder"}`, as: "a.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "unknown tier", method: "PUT", path: adm + "/users/{b}/tier", body: `{"tier":"emperor"}`, as: "admin.jwt", status: 400, code: "INVALID_TIER"},
		{desc: "wrong type", method: "PUT", path: adm + "/users/{b}/tier", body: `{"tier":1}`, as: "admin.jwt", status: 400, code: "VALIDATION"},
		{desc: "malformed JSON", method: "PUT", path: adm + "/users/{b}/tier", body: `{"tier":`, as: "admin.jwt", status: 400, code: "VALIDATION"},
		{desc: "text/plain", method: "PUT", path: adm + "/users/{b}/tier", body: `{"tier":"beta"}`, as: "admin.jwt", hdr: textPlain, status: 415, code: "VALIDATION"},
		{desc: "unknown user", method: "PUT", path: adm + "/users/no-such-user/tier", body: `{"tier":"beta"}`, as: "admin.jwt", status: 404, code: "USER_NOT_FOUND"},
		{desc: "member", method: "GET", path: adm + "/security-events", as: "a.jwt", status: 403, code: "FORBIDDEN"},
		{desc: "member by cookie", method: "GET", path: adm + "/security-events?userId={b}", as: "a.cookie", status: 403, code: "FORBIDDEN"},
		{desc: "nobody", method: "GET", path: adm + "/security-events", status: 401, code: "UNAUTHORIZED"},
		{desc: "limit 0", method: "GET", path: adm + "/security-events?limit=0", as: "admin.jwt", status: 400, code: "VALIDATION"},

		// /api/v1/internal/*
		{desc: "no service key", method: "GET", path: intl + "/org/{aOrg}/member/{a}", status: 401, code: "INVALID_SERVICE_KEY"},
		{desc: "wrong service key", method: "GET", path: intl + "/org/{aOrg}/member/{a}", as: "key.wrong", status: 401, code: "INVALID_SERVICE_KEY"},
		{desc: "admin JWT is no service key", method: "GET", path: intl + "/org/{aOrg}/member/{a}", as: "admin.jwt", status: 401, code: "INVALID_SERVICE_KEY"},
		{desc: "unknown organization", method: "GET", path: intl + "/org/no-such-org/member/{a}", as: "key", status: 200, check: isMember(false)},
		{desc: "another user's organization", method: "GET", path: intl + "/org/{bOrg}/member/{a}", as: "key", status: 200, check: isMember(false)},
		{desc: "no service key", method: "GET", path: intl + "/users/{a}/memberships", status: 401, code: "INVALID_SERVICE_KEY"},
		{desc: "wrong service key", method: "GET", path: intl + "/users/{a}/memberships", as: "key.wrong", status: 401, code: "INVALID_SERVICE_KEY"},
		{desc: "user's own JWT", method: "GET", path: intl + "/users/{a}/memberships", as: "a.jwt", status: 401, code: "INVALID_SERVICE_KEY"},
		{desc: "unknown user", method: "GET", path: intl + "/users/no-such-user/memberships", as: "key", status: 200,
			check: func(t *testing.T, r resp) {
				if ms := arr(r.body["memberships"]); r.body["memberships"] == nil || len(ms) != 0 {
					t.Errorf("memberships of an unknown user: %s", r.raw)
				}
			}},

		// /api/v1/me/encryption-vault/* (alice has no vault, bob has one)
		{desc: "nobody", method: "GET", path: vlt + "/status", status: 401, code: "UNAUTHORIZED"},
		{desc: "expired JWT", method: "GET", path: vlt + "/status", as: "a.expired", status: 401, code: "INVALID_TOKEN"},
		{desc: "nobody", method: "POST", path: vlt + "/init", status: 401, code: "UNAUTHORIZED"},
		{desc: "JWT signed by another key", method: "POST", path: vlt + "/init", as: "a.forged", status: 401, code: "INVALID_TOKEN"},
		{desc: "cookie without Origin", method: "POST", path: vlt + "/init", as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},
		{desc: "no vault yet", method: "GET", path: vlt + "/key", as: "a.jwt", status: 404, code: "VAULT_NOT_INITIALISED"},
		{desc: "another server's JWT", method: "GET", path: vlt + "/key", as: "a.foreign", status: 401, code: "INVALID_TOKEN"},
		{desc: "nobody", method: "POST", path: vlt + "/rotate", status: 401, code: "UNAUTHORIZED"},
		{desc: "cookie from another site", method: "POST", path: vlt + "/rotate", as: "a.cookie", hdr: evilOrigin, status: 403, code: "INVALID_ORIGIN"},
		{desc: "empty object", method: "POST", path: vlt + "/recovery-wrap", body: `{}`, as: "b.jwt", status: 400, code: "BAD_REQUEST"},
		{desc: "malformed JSON", method: "POST", path: vlt + "/recovery-wrap", body: `{"recoveryIv":`, as: "b.jwt", status: 400, code: "BAD_REQUEST"},
		{desc: "wrong types", method: "POST", path: vlt + "/recovery-wrap", body: `{"recoveryWrappedMk":1,"recoveryIv":true}`, as: "b.jwt", status: 400, code: "BAD_REQUEST"},
		{desc: "wrong sizes", method: "POST", path: vlt + "/recovery-wrap", body: `{"recoveryWrappedMk":"AQID","recoveryIv":"AQID"}`, as: "b.jwt", status: 400, code: "BAD_REQUEST"},
		{desc: "no vault", method: "POST", path: vlt + "/recovery-wrap", body: `{"recoveryWrappedMk":"` + wrap + `","recoveryIv":"` + iv + `"}`, as: "a.jwt", status: 404, code: "VAULT_NOT_INITIALISED"},
		{desc: "no vault", method: "DELETE", path: vlt + "/recovery-wrap", as: "a.jwt", status: 404, code: "VAULT_NOT_INITIALISED"},
		{desc: "nobody", method: "DELETE", path: vlt + "/recovery-wrap", status: 401, code: "UNAUTHORIZED"},
		{desc: "enable without a recovery wrap", method: "POST", path: vlt + "/zero-knowledge", body: `{"enable":true}`, as: "b.jwt", status: 400, code: "RECOVERY_WRAP_MISSING"},
		{desc: "enable not a boolean", method: "POST", path: vlt + "/zero-knowledge", body: `{"enable":"yes"}`, as: "b.jwt", status: 400, code: "BAD_REQUEST"},
		{desc: "disable without masterKey", method: "POST", path: vlt + "/zero-knowledge", body: `{"enable":false}`, as: "b.jwt", status: 400, code: "BAD_REQUEST"},
		{desc: "disable with a short masterKey", method: "POST", path: vlt + "/zero-knowledge", body: `{"enable":false,"masterKey":"AQID"}`, as: "b.jwt", status: 400, code: "BAD_REQUEST"},
		{desc: "no vault", method: "POST", path: vlt + "/zero-knowledge", body: `{"enable":true}`, as: "a.jwt", status: 404, code: "VAULT_NOT_INITIALISED"},
		{desc: "nobody", method: "POST", path: vlt + "/zero-knowledge", body: `{"enable":true}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "unknown vault route", method: "GET", path: vlt + "/nope", as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "unknown vault route, nobody", method: "GET", path: vlt + "/nope", status: 401, code: "UNAUTHORIZED"},

		// /api/v1/api-keys
		{desc: "nobody", method: "GET", path: "/api/v1/api-keys", status: 401, code: "UNAUTHORIZED"},
		{desc: "nobody", method: "POST", path: "/api/v1/api-keys", body: `{"name":"k"}`, status: 401, code: "UNAUTHORIZED"},
		{desc: "no name", method: "POST", path: "/api/v1/api-keys", body: `{}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "name not a string", method: "POST", path: "/api/v1/api-keys", body: `{"name":1}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "scopes not a list", method: "POST", path: "/api/v1/api-keys", body: `{"name":"k","scopes":"stt"}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "name too long", method: "POST", path: "/api/v1/api-keys", body: `{"name":"` + strings.Repeat("k", 33) + `"}`, as: "a.jwt", status: 400, code: "VALIDATION"},
		{desc: "NUL in the name", method: "POST", path: "/api/v1/api-keys", body: `{"name":"k\u0000"}`, as: "a.jwt", status: 400},
		{desc: "nobody", method: "DELETE", path: "/api/v1/api-keys/some-key", status: 401, code: "UNAUTHORIZED"},
		{desc: "unknown key", method: "DELETE", path: "/api/v1/api-keys/no-such-key", as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "another user's key", method: "DELETE", path: "/api/v1/api-keys/{bKey}", as: "a.jwt", status: 404, code: "NOT_FOUND"},
		{desc: "malformed JSON", method: "POST", path: "/api/v1/api-keys/validate", body: `{"apiKey":`, status: 400, code: "VALIDATION"},
		{desc: "key not a string", method: "POST", path: "/api/v1/api-keys/validate", body: `{"apiKey":1}`, status: 400, code: "VALIDATION"},
		{desc: "unknown key", method: "POST", path: "/api/v1/api-keys/validate", body: `{"apiKey":"sk_live_nope","scope":"stt"}`, status: 200,
			check: func(t *testing.T, r resp) {
				if r.body["valid"] != false || r.body["userId"] != nil {
					t.Errorf("validate: %s", r.raw)
				}
			}},

		// A representative set of /api/auth routes.
		{desc: "malformed JSON", method: "POST", path: "/api/auth/sign-up/email", body: `{"name":`, status: 400, code: "BAD_REQUEST"},
		{desc: "wrong types", method: "POST", path: "/api/auth/sign-up/email", body: `{"name":1,"email":true,"password":3}`, status: 400, code: "VALIDATION_ERROR"},
		{desc: "taken email", method: "POST", path: "/api/auth/sign-up/email", body: `{"name":"A","email":"alice@example.com","password":"password123"}`, status: 422, code: "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"},
		{desc: "wrong password", method: "POST", path: "/api/auth/sign-in/email", body: `{"email":"alice@example.com","password":"wrong-password"}`, status: 401, code: "INVALID_EMAIL_OR_PASSWORD"},
		{desc: "cookie without Origin", method: "POST", path: "/api/auth/update-user", body: `{"name":"X"}`, as: "a.cookie", hdr: noOrigin, status: 403, code: "MISSING_OR_NULL_ORIGIN"},
		{desc: "email is not updatable", method: "POST", path: "/api/auth/update-user", body: `{"email":"x@example.com"}`, as: "a.cookie", status: 400, code: "EMAIL_CAN_NOT_BE_UPDATED"},
		{desc: "another user's session token", method: "POST", path: "/api/auth/revoke-session", body: `{"token":"` + b.token + `"}`, as: "a.cookie", status: 200},
		{desc: "another user's organization", method: "GET", path: "/api/auth/organization/get-full-organization?organizationId={bOrg}", as: "a.second", status: 403, code: "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"},
		{desc: "deleting another user's organization", method: "POST", path: "/api/auth/organization/delete", body: `{"organizationId":"{bOrg}"}`, as: "a.cookie", status: 400, code: "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"},
		{desc: "renaming another user's organization", method: "POST", path: "/api/auth/organization/update", body: `{"organizationId":"{bOrg}","data":{"name":"Mine"}}`, as: "a.cookie", status: 400, code: "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"},
		{desc: "activating another user's organization", method: "POST", path: "/api/auth/organization/set-active", body: `{"organizationId":"{bOrg}"}`, as: "a.second", status: 403, code: "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION"},
		{desc: "inviting into another user's organization", method: "POST", path: "/api/auth/organization/invite-member", body: `{"email":"eve@example.com","role":"member","organizationId":"{bOrg}"}`, as: "a.cookie", status: 400},
		{desc: "no pending sign-in", method: "POST", path: "/api/auth/two-factor/verify-totp", body: `{"code":"123456"}`, status: 401, code: "INVALID_TWO_FACTOR_COOKIE"},
		{desc: "wrong password", method: "POST", path: "/api/auth/two-factor/enable", body: `{"password":"wrong-password"}`, as: "a.cookie", status: 400, code: "INVALID_PASSWORD"},
		{desc: "nobody", method: "GET", path: "/api/auth/token", status: 401, code: "UNAUTHORIZED"},
		{desc: "bearer JWT is no session", method: "GET", path: "/api/auth/token", as: "a.jwt", status: 401, code: "UNAUTHORIZED"},
		{desc: "bearer JWT is no session", method: "GET", path: "/api/auth/get-session", as: "a.jwt", status: 200, check: nullBody},
	}

	bKey, err := env.s.apikeys.CreateKey(ctx, apikey.CreateInput{UserID: b.id, Prefix: "sk_live_"})
	if err != nil {
		t.Fatal(err)
	}
	bPasskey := plugin.NewID()
	if err := env.s.db.Create(ctx, passkey.TablePasskey, storage.Record{"id": bPasskey, "name": "bob's key",
		"publicKey": "pk", "userId": b.id, "credentialID": "cred-b", "counter": int64(0), "deviceType": "singleDevice",
		"backedUp": false, "createdAt": env.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	ids := strings.NewReplacer("{a}", a.id, "{b}", b.id, "{aOrg}", aOrg, "{bOrg}", bOrg, "{bKey}", bKey.ID,
		"{aSession}", sessionID(t, env, a), "{bSession}", sessionID(t, env, b), "{bPasskey}", bPasskey)
	for _, tc := range cases {
		path, body := ids.Replace(tc.path), ids.Replace(tc.body)
		name := tc.method + " " + strings.SplitN(tc.path, "?", 2)[0] + ": " + tc.desc
		t.Run(name, func(t *testing.T) {
			var hdr []string
			if tc.as != "" {
				h, ok := callers[tc.as]
				if !ok {
					t.Fatalf("unknown caller %q", tc.as)
				}
				hdr = append(hdr, h...)
			}
			hdr = append(hdr, tc.hdr...)
			if key := env.routeKey(httptest.NewRequest(tc.method, path, nil)); key != "" {
				coverage.mark(key, false)
			}
			before := env.snapshot(t)
			r := env.do(t, req{method: tc.method, path: path, body: body, hdr: hdr})
			want(t, name, r, tc.status, tc.code)
			if tc.check != nil {
				tc.check(t, r)
			}
			env.unchanged(t, name, before)
		})
	}
}

// callersTok returns the bearer token of a caller of the table.
func callersTok(callers map[string][]string, who string) string {
	return strings.TrimPrefix(callers[who][1], "Bearer ")
}
