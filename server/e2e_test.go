package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pquerna/otp/totp"

	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
	"github.com/managarten/mana-auth/vault"
)

// End-to-end tests of the full reference server over HTTP: the happy
// paths of every /api/v1 route and a representative set of /api/auth
// routes. badinput_test.go has the refusals.

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func arr(v any) []any          { a, _ := v.([]any); return a }
func str(v any) string         { s, _ := v.(string); return s }

// eventTypes returns the security event types of userID, oldest first.
func (env *e2e) eventTypes(t *testing.T, userID string) []string {
	t.Helper()
	recs, err := env.s.db.FindMany(context.Background(), TableSecurityEvent, storage.Query{
		Where: []storage.Where{storage.W("userId", userID)}, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.String("eventType"))
	}
	return out
}

// verifyOffline checks an access token against the server's published
// JWKS, as a downstream service does.
func (env *e2e) verifyOffline(t *testing.T, tok string) *verify.Claims {
	t.Helper()
	r := env.get(t, "/api/v1/auth/jwks")
	want(t, "jwks", r, 200, "")
	keys, err := verify.ParseJWKS([]byte(r.raw))
	if err != nil || len(keys) == 0 {
		t.Fatalf("jwks %s: %v", r.raw, err)
	}
	v, err := verify.NewStatic(keys, verify.WithIssuer(env.s.cfg.BaseURL), verify.WithAudience("mana"), verify.WithNow(env.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	return c
}

func TestE2ERegisterAndSignupCap(t *testing.T) {
	t.Parallel()
	env := newE2E(t, func(c *Config) { c.MaxDailySignups = 3 })
	ctx := context.Background()
	now := env.clock.Now()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).Add(24 * time.Hour)
	status := func(open bool, left, total int) map[string]any {
		return map[string]any{"registrationOpen": open, "spotsRemaining": float64(left), "totalToday": float64(total),
			"limit": float64(3), "resetsAt": plugin.FormatTime(midnight)}
	}
	r := env.get(t, "/api/v1/auth/signup-status")
	if d := cmp.Diff(status(true, 3, 0), r.body); r.status != 200 || d != "" {
		t.Fatalf("signup-status: %d (-want +got)\n%s", r.status, d)
	}
	// Two sign-ups happened earlier today.
	env.s.sec.record(ctx, securityEvent{Type: EventRegister})
	env.s.sec.record(ctx, securityEvent{Type: EventRegister})

	r = env.post(t, "/api/v1/auth/register", `{"email":"New.User@Example.com","password":"password123","sourceAppUrl":"https://app.mana.how/welcome"}`)
	want(t, "register", r, 200, "")
	u := obj(r.body["user"])
	if u["email"] != "new.user@example.com" || u["name"] != "new.user" || u["accessTier"] != "public" || u["role"] != "user" ||
		u["emailVerified"] != false || str(r.body["token"]) == "" {
		t.Fatalf("register body: %s", r.raw)
	}
	if cookieOf(r, "mana.session_token") == "" {
		t.Errorf("register set no session cookie: %v", r.header["Set-Cookie"])
	}
	uid := str(u["id"])
	if got := env.eventTypes(t, uid); !slices.Contains(got, EventRegister) {
		t.Errorf("events of the new user = %v, want REGISTER", got)
	}
	// The credits calls run in the background: wait for them, so that
	// the snapshot below is stable.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rec, err := env.s.db.FindOne(ctx, TableCreditsSync, storage.W("userId", uid))
		if err == nil && rec["initializedAt"] != nil && rec["giftsRedeemedAt"] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("credits init and gift redemption never finished: %v %v", rec, err)
		}
	}
	mails := env.mails("new.user@example.com")
	if len(mails) != 1 || mails[0].Kind != plugin.EmailVerification || !strings.Contains(mails[0].URL, "callbackURL="+url.QueryEscape("https://app.mana.how/welcome")) {
		t.Errorf("verification mail = %+v", mails)
	}

	r = env.get(t, "/api/v1/auth/signup-status")
	if d := cmp.Diff(status(false, 0, 3), r.body); d != "" {
		t.Fatalf("signup-status at the cap (-want +got)\n%s", d)
	}
	before := env.snapshot(t)
	r = env.post(t, "/api/v1/auth/register", `{"email":"late@example.com","password":"password123"}`)
	want(t, "register over the cap", r, 429, "SIGNUP_LIMIT_REACHED")
	if r.header.Get("Retry-After") == "" || r.body["retryAfterSec"] == nil || r.body["status"] != float64(429) {
		t.Errorf("429 without retry information: %v %s", r.header, r.raw)
	}
	env.unchanged(t, "register over the cap", before)
	if _, err := env.s.auth.Host().FindUserByEmail(ctx, "late@example.com"); err == nil {
		t.Error("a user was created over the cap")
	}

	// The next UTC day opens registration again.
	env.clock.Set(midnight.Add(time.Minute))
	midnight = midnight.Add(24 * time.Hour)
	r = env.get(t, "/api/v1/auth/signup-status")
	if d := cmp.Diff(status(true, 3, 0), r.body); d != "" {
		t.Fatalf("signup-status the next day (-want +got)\n%s", d)
	}
}

func TestE2ESignupStatusWithoutCap(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	r := env.get(t, "/api/v1/auth/signup-status")
	wantBody := map[string]any{"registrationOpen": true, "spotsRemaining": nil, "totalToday": float64(0), "limit": float64(0), "resetsAt": ""}
	if d := cmp.Diff(wantBody, r.body); r.status != 200 || d != "" {
		t.Fatalf("signup-status: %d (-want +got)\n%s", r.status, d)
	}
}

func TestE2ELoginSessionAndTokens(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	u := env.seed(t, "login@example.com")
	other := env.seed(t, "other@example.com")
	env.s.sec.record(ctx, securityEvent{Type: EventLoginSuccess, UserID: other.id})

	r := env.post(t, "/api/v1/auth/login", `{"email":"Login@Example.com","password":"password123","deviceId":"ignored"}`)
	want(t, "login", r, 200, "")
	token, access := str(r.body["token"]), str(r.body["accessToken"])
	if r.body["redirect"] != false || token == "" || r.body["refreshToken"] != token || obj(r.body["user"])["id"] != u.id {
		t.Fatalf("login body: %s", r.raw)
	}
	cookie := cookieOf(r, "mana.session_token")
	if cookie == "" {
		t.Fatalf("login set no session cookie: %v", r.header["Set-Cookie"])
	}
	c := env.verifyOffline(t, access)
	sd, err := env.s.auth.GetSession(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != u.id || c.Email != "login@example.com" || c.Role != "user" || c.SessionID != sd.Session.ID {
		t.Errorf("claims = %+v", c)
	}

	r = env.post(t, "/api/v1/auth/validate", `{"token":"`+access+`"}`)
	if r.status != 200 || r.body["valid"] != true || obj(r.body["payload"])["sub"] != u.id {
		t.Fatalf("validate: %d %s", r.status, r.raw)
	}

	r = env.get(t, "/api/v1/auth/session", "Cookie", cookie)
	if r.status != 200 || obj(r.body["session"])["token"] != token || obj(r.body["user"])["email"] != "login@example.com" {
		t.Fatalf("session by cookie: %d %s", r.status, r.raw)
	}
	if r.header.Get("set-auth-jwt") == "" {
		t.Error("session answer has no set-auth-jwt header")
	}
	r = env.get(t, "/api/v1/auth/profile", bearer(token)...)
	if r.status != 200 || obj(r.body["user"])["id"] != u.id {
		t.Fatalf("profile by bearer session token: %d %s", r.status, r.raw)
	}

	r = env.post(t, "/api/v1/auth/profile", `{"name":"Renamed User"}`, "Cookie", cookie)
	if r.status != 200 || r.body["status"] != true {
		t.Fatalf("profile update: %d %s", r.status, r.raw)
	}
	if got, _ := env.s.auth.Host().FindUserByID(ctx, u.id); got.Name != "Renamed User" {
		t.Errorf("name after update = %q", got.Name)
	}

	for _, path := range []string{"/api/v1/auth/refresh", "/api/v1/auth/session-to-token"} {
		for _, h := range [][]string{{"Cookie", cookie}, bearer(token)} {
			r = env.post(t, path, "", h...)
			if r.status != 200 || r.body["refreshToken"] != token {
				t.Fatalf("%s with %s: %d %s", path, h[0], r.status, r.raw)
			}
			if c := env.verifyOffline(t, str(r.body["accessToken"])); c.Subject != u.id || c.SessionID != sd.Session.ID {
				t.Errorf("%s: claims %+v", path, c)
			}
		}
	}

	r = env.get(t, "/api/v1/auth/security-events", "Cookie", cookie)
	want(t, "own security events", r, 200, "")
	var types []string
	var events []map[string]any // a JSON array, as upstream's client reads it
	decodeRaw(t, r, &events)
	for _, e := range events {
		if e["userId"] != u.id {
			t.Errorf("someone else's event in the list: %v", e)
		}
		types = append(types, str(e["eventType"]))
	}
	for _, w := range []string{EventLoginSuccess, EventProfileUpdated} {
		if !slices.Contains(types, w) {
			t.Errorf("own events %v lack %s", types, w)
		}
	}
	// One profile update, one event (the v1 route goes through /update-user,
	// whose success the security log records).
	if n := len(slices.DeleteFunc(slices.Clone(types), func(e string) bool { return e != EventProfileUpdated })); n != 1 {
		t.Errorf("%d %s events for one profile update, want 1 (events %v)", n, EventProfileUpdated, types)
	}

	r = env.post(t, "/api/v1/auth/logout", "", "Cookie", cookie)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("logout: %d %s", r.status, r.raw)
	}
	if _, err := env.s.auth.GetSession(ctx, token); err == nil {
		t.Error("the session survived logout")
	}
	if r = env.get(t, "/api/v1/auth/session", "Cookie", cookie); r.raw != "null" {
		t.Errorf("session after logout: %s", r.raw)
	}
	want(t, "refresh after logout", env.post(t, "/api/v1/auth/refresh", "", "Cookie", cookie), 401, "TOKEN_EXPIRED")
	if got := env.eventTypes(t, u.id); !slices.Contains(got, EventLogout) {
		t.Errorf("events %v lack LOGOUT", got)
	}
}

// With REQUIRE_EMAIL_VERIFICATION a new account has no session until the
// mailed link is followed; signing in before is 403 EMAIL_NOT_VERIFIED
// and counts nothing towards the lockout.
func TestE2EEmailVerificationRequired(t *testing.T) {
	t.Parallel()
	env := newE2E(t, func(c *Config) { c.RequireEmailVerification = true })
	ctx := context.Background()
	r := env.post(t, "/api/v1/auth/register", `{"email":"unverified@example.com","password":"password123","name":"Una"}`)
	want(t, "register", r, 200, "")
	if r.body["token"] != nil || obj(r.body["user"])["emailVerified"] != false || cookieOf(r, "mana.session_token") != "" {
		t.Fatalf("register under required verification: %s %v", r.raw, r.header["Set-Cookie"])
	}
	uid := str(obj(r.body["user"])["id"])

	r = env.post(t, "/api/v1/auth/login", `{"email":"unverified@example.com","password":"password123"}`)
	want(t, "login unverified", r, 403, "EMAIL_NOT_VERIFIED")
	if d := cmp.Diff(map[string]any{"error": "EMAIL_NOT_VERIFIED", "message": "Email not verified", "status": float64(403)}, r.body); d != "" {
		t.Errorf("body (-want +got)\n%s", d)
	}
	if cookieOf(r, "mana.session_token") != "" {
		t.Error("a session cookie for an unverified login")
	}
	if n := env.count(t, TableLoginAttempt); n != 0 {
		t.Errorf("%d lockout rows for an unverified login, want 0", n)
	}
	if n := env.count(t, plugin.TableSession, storage.W("userId", uid)); n != 0 {
		t.Errorf("%d sessions for an unverified user", n)
	}

	sent := len(env.mails("unverified@example.com"))
	r = env.post(t, "/api/v1/auth/resend-verification", `{"email":"unverified@example.com","sourceAppUrl":"https://app.mana.how/hi"}`)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("resend-verification: %d %s", r.status, r.raw)
	}
	mails := env.waitMails("unverified@example.com", sent+1)
	if len(mails) != sent+1 || mails[len(mails)-1].Kind != plugin.EmailVerification {
		t.Fatalf("no new verification mail: %+v", mails)
	}
	link, _ := url.Parse(mails[len(mails)-1].URL)
	if link.Query().Get("callbackURL") != "https://app.mana.how/hi" {
		t.Errorf("verification link %s does not carry the sourceAppUrl", link)
	}
	r = env.get(t, link.RequestURI())
	if r.status != 302 {
		t.Fatalf("following the verification link: %d %s", r.status, r.raw)
	}
	if u, _ := env.s.auth.Host().FindUserByID(ctx, uid); !u.EmailVerified {
		t.Fatal("email not verified after following the link")
	}
	if cookieOf(r, "mana.session_token") == "" {
		t.Error("verification did not sign in (AutoSignInAfterVerification)")
	}
}

// Forgot/reset, change password, change email and account deletion, with
// the links from the captured mail.
func TestE2EPasswordEmailAndAccount(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	u := env.seed(t, "pw@example.com")
	user, _ := env.s.auth.Host().FindUserByID(ctx, u.id)
	second := env.session(t, user) // another device

	r := env.post(t, "/api/v1/auth/forgot-password", `{"email":"PW@example.com","redirectTo":"https://app.mana.how/reset"}`)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("forgot-password: %d %s", r.status, r.raw)
	}
	mails := env.waitMails("pw@example.com", 1)
	if len(mails) != 1 || mails[0].Kind != plugin.EmailPasswordReset || !strings.Contains(mails[0].URL, "/api/auth/reset-password/") ||
		!strings.Contains(mails[0].URL, "callbackURL="+url.QueryEscape("https://app.mana.how/reset")) {
		t.Fatalf("reset mail = %+v", mails)
	}
	resetToken := tokenFromURL(t, mails[0].URL)
	want(t, "reset with a weak password", env.post(t, "/api/v1/auth/reset-password", `{"token":"`+resetToken+`","newPassword":"short"}`), 400, "WEAK_PASSWORD")
	r = env.post(t, "/api/v1/auth/reset-password", `{"token":"`+resetToken+`","newPassword":"new-password-1"}`)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("reset-password: %d %s", r.status, r.raw)
	}
	want(t, "reset token used twice", env.post(t, "/api/v1/auth/reset-password", `{"token":"`+resetToken+`","newPassword":"new-password-2"}`), 400, "TOKEN_INVALID")
	// A reset signs every device out (whoever knew the old password).
	for _, s := range []*seeded{u, second} {
		if _, err := env.s.auth.GetSession(ctx, s.token); err == nil {
			t.Error("a session from before the reset is still valid")
		}
	}

	// The reset password is the current one now.
	r = env.post(t, "/api/v1/auth/login", `{"email":"pw@example.com","password":"new-password-1"}`)
	want(t, "login with the reset password", r, 200, "")
	u.cookie = cookieOf(r, "mana.session_token")
	second = env.session(t, user) // another device again
	r = env.post(t, "/api/v1/auth/change-password", `{"currentPassword":"new-password-1","newPassword":"password456","revokeOtherSessions":true}`, "Cookie", u.cookie)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("change-password: %d %s", r.status, r.raw)
	}
	newCookie := cookieOf(r, "mana.session_token")
	if newCookie == "" {
		t.Fatal("change-password with revokeOtherSessions set no new session cookie")
	}
	if _, err := env.s.auth.GetSession(ctx, second.token); err == nil {
		t.Error("revokeOtherSessions left the other device signed in")
	}

	r = env.post(t, "/api/v1/auth/change-email", `{"newEmail":"Moved@Example.com","callbackURL":"https://app.mana.how/moved"}`, "Cookie", newCookie)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("change-email: %d %s", r.status, r.raw)
	}
	mails = env.waitMails("pw@example.com", len(mails)+1)
	confirm := mails[len(mails)-1]
	if confirm.Kind != plugin.EmailChangeEmail {
		t.Fatalf("no confirmation to the old address: %+v", confirm)
	}
	if got, _ := env.s.auth.Host().FindUserByID(ctx, u.id); got.Email != "pw@example.com" {
		t.Fatalf("email changed before confirmation: %s", got.Email)
	}
	link, _ := url.Parse(confirm.URL)
	if r = env.get(t, link.RequestURI(), "Cookie", newCookie); r.status != 302 {
		t.Fatalf("confirming from the old address: %d %s", r.status, r.raw)
	}
	verify := env.waitMails("moved@example.com", 1)
	if len(verify) != 1 {
		t.Fatalf("no verification to the new address: %+v", verify)
	}
	link, _ = url.Parse(verify[0].URL)
	if r = env.get(t, link.RequestURI(), "Cookie", newCookie); r.status != 302 {
		t.Fatalf("verifying the new address: %d %s", r.status, r.raw)
	}
	if got, _ := env.s.auth.Host().FindUserByID(ctx, u.id); got.Email != "moved@example.com" || !got.EmailVerified {
		t.Fatalf("after both links: %s verified=%v", got.Email, got.EmailVerified)
	}

	r = env.do(t, req{method: "DELETE", path: "/api/v1/auth/account", body: `{"password":"password456"}`, hdr: []string{"Cookie", newCookie}})
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("delete account: %d %s", r.status, r.raw)
	}
	if !cookieDeleted(r, "mana.session_token") {
		t.Errorf("delete account did not expire the session cookie: %v", r.header["Set-Cookie"])
	}
	if _, err := env.s.auth.Host().FindUserByID(ctx, u.id); err == nil {
		t.Fatal("account still there")
	}
	for _, tb := range []string{plugin.TableSession, plugin.TableAccount, TableSecurityEvent} {
		if n := env.count(t, tb, storage.W("userId", u.id)); n != 0 {
			t.Errorf("%d %s rows left", n, tb)
		}
	}
	env.credits.mu.Lock()
	deleted := env.credits.deleted[u.id]
	env.credits.mu.Unlock()
	if !deleted {
		t.Error("mana-credits was not asked to erase the user")
	}
}

// The second factor: enabled through the SDK routes, /login then answers
// twoFactorRedirect with the two_factor cookie, and verify-totp finishes
// the sign-in. The same user then owns an organization (internal
// membership routes) and a vault; the GDPR erase removes every plugin's
// rows.
func TestE2ETwoFactorOrgVaultAndErase(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	u := env.seed(t, "tf@example.com")
	bob := env.seed(t, "bob@example.com")
	key := []string{"X-Service-Key", "internal-service-key-123"}

	r := env.post(t, "/api/auth/two-factor/enable", `{"password":"password123"}`, "Cookie", u.cookie)
	want(t, "two-factor enable", r, 200, "")
	totpURI, _ := url.Parse(str(r.body["totpURI"]))
	secret := totpURI.Query().Get("secret")
	if secret == "" || totpURI.Query().Get("issuer") != "Mana" || len(arr(r.body["backupCodes"])) != 10 {
		t.Fatalf("enable: %s", r.raw)
	}
	code := func() string {
		c, err := totp.GenerateCode(secret, env.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	r = env.post(t, "/api/auth/two-factor/verify-totp", `{"code":"`+code()+`"}`, "Cookie", u.cookie)
	want(t, "verify-totp to turn two-factor on", r, 200, "")
	if got, _ := env.s.auth.Host().FindUserByID(ctx, u.id); !twofactor.Enabled(got) {
		t.Fatal("two-factor not enabled")
	}

	r = env.post(t, "/api/v1/auth/login", `{"email":"tf@example.com","password":"password123"}`)
	want(t, "login with two-factor", r, 200, "")
	if d := cmp.Diff(map[string]any{"twoFactorRedirect": true, "twoFactorMethods": []any{"totp"}}, r.body); d != "" {
		t.Errorf("login body (-want +got)\n%s", d)
	}
	pending := cookieOf(r, "mana.two_factor")
	if pending == "" || cookieOf(r, "mana.session_token") != "" || r.body["accessToken"] != nil {
		t.Fatalf("login with two-factor: cookies %v body %s", r.header["Set-Cookie"], r.raw)
	}
	env.clock.Advance(30 * time.Second) // each TOTP step is accepted once
	r = env.post(t, "/api/auth/two-factor/verify-totp", `{"code":"`+code()+`"}`, "Cookie", pending)
	want(t, "verify-totp after /login", r, 200, "")
	cookie := cookieOf(r, "mana.session_token")
	if cookie == "" || obj(r.body["user"])["id"] != u.id {
		t.Fatalf("second factor gave no session: %v %s", r.header["Set-Cookie"], r.raw)
	}
	r = env.post(t, "/api/v1/auth/session-to-token", "", "Cookie", cookie)
	want(t, "session-to-token after two-factor", r, 200, "")
	access := str(r.body["accessToken"])

	// An organization through the org plugin, seen by the internal routes.
	r = env.post(t, "/api/auth/organization/create", `{"name":"Acme","slug":"acme-tf"}`, "Cookie", cookie)
	want(t, "organization create", r, 200, "")
	orgID := str(r.body["id"])
	r = env.get(t, "/api/v1/internal/org/"+orgID+"/member/"+u.id, key...)
	if d := cmp.Diff(map[string]any{"isMember": true, "role": "owner"}, r.body); r.status != 200 || d != "" {
		t.Fatalf("internal member: %d (-want +got)\n%s", r.status, d)
	}
	r = env.get(t, "/api/v1/internal/org/"+orgID+"/member/"+bob.id, key...)
	if d := cmp.Diff(map[string]any{"isMember": false, "role": ""}, r.body); r.status != 200 || d != "" {
		t.Fatalf("internal non-member: %d (-want +got)\n%s", r.status, d)
	}
	r = env.get(t, "/api/v1/internal/users/"+u.id+"/memberships", key...)
	wantMs := map[string]any{"userId": u.id, "memberships": []any{map[string]any{"organizationId": orgID, "role": "owner"}}}
	if d := cmp.Diff(wantMs, r.body); r.status != 200 || d != "" {
		t.Fatalf("internal memberships: %d (-want +got)\n%s", r.status, d)
	}
	// An invitation for bob (so the erase has invitations to remove too).
	want(t, "invite", env.post(t, "/api/auth/organization/invite-member", `{"email":"bob@example.com","role":"member","organizationId":"`+orgID+`"}`, "Cookie", cookie), 200, "")

	// The vault, through every route.
	vaultFlow(t, env, access, cookie)

	r = env.get(t, "/api/v1/me/data", bearer(access)...)
	want(t, "me/data", r, 200, "")
	if obj(r.body["auth"])["has2FA"] != true {
		t.Errorf("me/data auth = %v", r.body["auth"])
	}
	plugins := obj(r.body["plugins"])
	for _, p := range []string{"organization", "vault", "two-factor", "mana"} {
		if _, ok := plugins[p]; !ok {
			t.Errorf("me/data plugins lack %q: %v", p, keys(plugins))
		}
	}
	r = env.get(t, "/api/v1/me/data/export", "Cookie", cookie)
	if r.status != 200 || r.body["exportVersion"] != "2.0" || obj(r.body["details"])["organization"] == nil {
		t.Fatalf("export: %d %s", r.status, short(r.raw))
	}

	before := map[string]int64{}
	userTables := userRows(u.id, orgID)
	for _, q := range userTables {
		before[q.name] = env.count(t, q.table, q.where...)
	}
	for _, name := range []string{"twoFactor", "member", "organization", "invitation", "vault", "vault audit", "session", "account"} {
		if before[name] == 0 {
			t.Errorf("before the erase the user has no %s rows: the test proves nothing", name)
		}
	}
	r = env.do(t, req{method: "DELETE", path: "/api/v1/me/data", hdr: bearer(access)})
	want(t, "erase", r, 200, "")
	if r.body["success"] != true || obj(r.body["deletedFromAuth"])["user"] != true {
		t.Fatalf("erase body: %s", r.raw)
	}
	for _, q := range userTables {
		if n := env.count(t, q.table, q.where...); n != 0 {
			t.Errorf("after the erase: %d %s rows of the user", n, q.name)
		}
	}
	r = env.get(t, "/api/v1/internal/users/"+u.id+"/memberships", key...)
	if r.status != 200 || len(arr(r.body["memberships"])) != 0 {
		t.Errorf("memberships after the erase: %s", r.raw)
	}
	// Bob is untouched.
	if _, err := env.s.auth.Host().FindUserByID(ctx, bob.id); err != nil {
		t.Errorf("bob went too: %v", err)
	}
}

// cookieDeleted reports whether r deletes the cookie named name.
func cookieDeleted(r resp, name string) bool {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type tableQuery struct {
	name, table string
	where       []storage.Where
}

// userRows are the queries for every row that belongs to a user (or to
// the organization only the user was in).
func userRows(uid, orgID string) []tableQuery {
	w := storage.W
	return []tableQuery{
		{"user", plugin.TableUser, []storage.Where{w("id", uid)}},
		{"session", plugin.TableSession, []storage.Where{w("userId", uid)}},
		{"account", plugin.TableAccount, []storage.Where{w("userId", uid)}},
		{"twoFactor", twofactor.TableTwoFactor, []storage.Where{w("userId", uid)}},
		{"member", org.TableMember, []storage.Where{w("userId", uid)}},
		{"organization", org.TableOrganization, []storage.Where{w("id", orgID)}},
		{"invitation", org.TableInvitation, []storage.Where{w("organizationId", orgID)}},
		{"vault", vault.TableVaults, []storage.Where{w("userId", uid)}},
		{"vault audit", vault.TableAudit, []storage.Where{w("userId", uid)}},
		{"passkey", passkey.TablePasskey, []storage.Where{w("userId", uid)}},
		{"security event", TableSecurityEvent, []storage.Where{w("userId", uid)}},
		{"credits sync", TableCreditsSync, []storage.Where{w("userId", uid)}},
	}
}

// vaultFlow runs every vault route for the caller, by JWT and by cookie.
func vaultFlow(t *testing.T, env *e2e, access, cookie string) {
	t.Helper()
	const p = "/api/v1/me/encryption-vault"
	jh, ch := bearer(access), []string{"Cookie", cookie}
	r := env.get(t, p+"/status", jh...)
	if d := cmp.Diff(map[string]any{"vaultExists": false, "hasRecoveryWrap": false, "zeroKnowledge": false, "recoverySetAt": nil}, r.body); r.status != 200 || d != "" {
		t.Fatalf("status before init: %d (-want +got)\n%s", r.status, d)
	}
	r = env.post(t, p+"/init", "", jh...)
	want(t, "vault init", r, 200, "")
	mk := str(r.body["masterKey"])
	if len(mk) != 44 || r.body["kekId"] != "env-v1" || r.body["formatVersion"] != float64(1) {
		t.Fatalf("init: %s", r.raw)
	}
	if r = env.post(t, p+"/init", "", ch...); r.body["masterKey"] != mk {
		t.Fatalf("second init (cookie) gave another key: %s", r.raw)
	}
	if r = env.get(t, p+"/key", ch...); r.status != 200 || r.body["masterKey"] != mk {
		t.Fatalf("key: %d %s", r.status, r.raw)
	}
	r = env.post(t, p+"/rotate", "", jh...)
	if r.status != 200 || str(r.body["masterKey"]) == mk || len(str(r.body["masterKey"])) != 44 {
		t.Fatalf("rotate: %d %s", r.status, r.raw)
	}
	mk = str(r.body["masterKey"])
	wrap := base64.StdEncoding.EncodeToString(make([]byte, vault.WrappedKeySize))
	iv := base64.StdEncoding.EncodeToString(make([]byte, vault.IVSize))
	r = env.post(t, p+"/recovery-wrap", `{"recoveryWrappedMk":"`+wrap+`","recoveryIv":"`+iv+`"}`, ch...)
	if r.status != 200 || r.body["ok"] != true {
		t.Fatalf("recovery-wrap: %d %s", r.status, r.raw)
	}
	r = env.post(t, p+"/zero-knowledge", `{"enable":true}`, jh...)
	if d := cmp.Diff(map[string]any{"ok": true, "zeroKnowledge": true}, r.body); r.status != 200 || d != "" {
		t.Fatalf("zero-knowledge on: %d (-want +got)\n%s", r.status, d)
	}
	r = env.get(t, p+"/key", jh...)
	if r.status != 200 || r.body["requiresRecoveryCode"] != true || r.body["recoveryWrappedMk"] != wrap || r.body["masterKey"] != nil {
		t.Fatalf("key in zero-knowledge mode: %d %s", r.status, r.raw)
	}
	r = env.post(t, p+"/zero-knowledge", `{"enable":false,"masterKey":"`+mk+`"}`, jh...)
	if d := cmp.Diff(map[string]any{"ok": true, "zeroKnowledge": false}, r.body); r.status != 200 || d != "" {
		t.Fatalf("zero-knowledge off: %d (-want +got)\n%s", r.status, d)
	}
	r = env.do(t, req{method: "DELETE", path: p + "/recovery-wrap", hdr: ch})
	if r.status != 200 || r.body["ok"] != true {
		t.Fatalf("delete recovery-wrap: %d %s", r.status, r.raw)
	}
	r = env.get(t, p+"/status", ch...)
	if r.body["vaultExists"] != true || r.body["hasRecoveryWrap"] != false || r.body["zeroKnowledge"] != false {
		t.Fatalf("status at the end: %s", r.raw)
	}
	if r = env.get(t, p+"/key", jh...); r.body["masterKey"] != mk {
		t.Fatalf("key after zero-knowledge off: %s", r.raw)
	}
}

func TestE2EAdmin(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	admin := env.seed(t, "admin@example.com")
	member := env.seed(t, "member@example.com")
	target := env.seed(t, "Target.Person@example.com")
	env.s.sec.record(ctx, securityEvent{Type: EventLoginSuccess, UserID: target.id})
	env.s.sec.record(ctx, securityEvent{Type: EventLoginSuccess, UserID: member.id})
	ah := bearer(admin.jwt)

	r := env.get(t, "/api/v1/admin/users?page=1&limit=2", ah...)
	want(t, "admin users", r, 200, "")
	if r.body["total"] != float64(3) || r.body["page"] != float64(1) || r.body["limit"] != float64(2) || len(arr(r.body["users"])) != 2 {
		t.Fatalf("admin users: %s", r.raw)
	}
	r = env.get(t, "/api/v1/admin/users?search=target", ah...)
	if us := arr(r.body["users"]); r.body["total"] != float64(1) || len(us) != 1 || obj(us[0])["id"] != target.id || obj(us[0])["lastActiveAt"] == nil {
		t.Fatalf("admin search: %s", r.raw)
	}
	r = env.get(t, "/api/v1/admin/users/"+target.id+"/data", ah...)
	if r.status != 200 || obj(r.body["user"])["email"] != "target.person@example.com" {
		t.Fatalf("admin user data: %d %s", r.status, short(r.raw))
	}
	r = env.get(t, "/api/v1/admin/users/"+target.id+"/tier", ah...)
	if d := cmp.Diff(map[string]any{"id": target.id, "email": "target.person@example.com", "accessTier": "public"}, r.body); d != "" {
		t.Fatalf("get tier (-want +got)\n%s", d)
	}
	r = env.do(t, req{method: "PUT", path: "/api/v1/admin/users/" + target.id + "/tier", body: `{"tier":"founder"}`, hdr: ah})
	wantTier := map[string]any{"success": true, "user": map[string]any{"id": target.id, "email": "target.person@example.com", "accessTier": "founder"}}
	if d := cmp.Diff(wantTier, r.body); r.status != 200 || d != "" {
		t.Fatalf("set tier: %d (-want +got)\n%s", r.status, d)
	}
	// The tier reaches the next token.
	u, _ := env.s.auth.Host().FindUserByID(ctx, target.id)
	if got := userTier(u); got != "founder" {
		t.Errorf("stored tier = %q", got)
	}
	r = env.get(t, "/api/v1/admin/users?tier=founder", ah...)
	if r.body["total"] != float64(1) {
		t.Errorf("tier filter: %s", r.raw)
	}

	r = env.get(t, "/api/v1/admin/security-events?userId="+target.id+"&limit=50", ah...)
	want(t, "admin security events", r, 200, "")
	evs := arr(r.body["events"])
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	for _, e := range evs {
		if obj(e)["userId"] != target.id {
			t.Errorf("userId filter let through %v", e)
		}
	}
	r = env.get(t, "/api/v1/admin/security-events", "Cookie", admin.cookie)
	if r.status != 200 || len(arr(r.body["events"])) < 3 {
		t.Fatalf("all security events (admin by cookie): %d %s", r.status, short(r.raw))
	}

	r = env.do(t, req{method: "DELETE", path: "/api/v1/admin/users/" + target.id + "/data", hdr: ah})
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("admin erase: %d %s", r.status, r.raw)
	}
	if _, err := env.s.auth.Host().FindUserByID(ctx, target.id); err == nil {
		t.Fatal("target still there")
	}
	// Every admin action is audited under the admin's id.
	var actions []string
	recs, _ := env.s.db.FindMany(ctx, TableSecurityEvent, storage.Query{Where: []storage.Where{storage.W("eventType", EventAdminAction)}})
	for _, rec := range recs {
		if rec.String("userId") != admin.id {
			t.Errorf("admin action under %q", rec.String("userId"))
		}
		actions = append(actions, rec.String("metadata"))
	}
	for _, a := range []string{"list-users", "view-user-data", "set-tier:founder", "read-security-log", "delete-user-data"} {
		if !slices.ContainsFunc(actions, func(m string) bool { return strings.Contains(m, `"action":"`+a+`"`) }) {
			t.Errorf("no audit row for %s in %v", a, actions)
		}
	}
}

// A representative set of Better Auth routes through the full server.
func TestE2EAPIAuthRoutes(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	ctx := context.Background()
	r := env.post(t, "/api/auth/sign-up/email", `{"name":"Sam","email":"sam@example.com","password":"password123"}`)
	want(t, "sign-up", r, 200, "")
	cookie := cookieOf(r, "mana.session_token")
	uid := str(obj(r.body["user"])["id"])
	if cookie == "" || obj(r.body["user"])["accessTier"] != "public" {
		t.Fatalf("sign-up: %v %s", r.header["Set-Cookie"], r.raw)
	}
	r = env.get(t, "/api/auth/get-session", "Cookie", cookie)
	if r.status != 200 || obj(r.body["user"])["id"] != uid || r.header.Get("set-auth-jwt") == "" {
		t.Fatalf("get-session: %d %s", r.status, r.raw)
	}
	if c := env.verifyOffline(t, r.header.Get("set-auth-jwt")); c.Subject != uid {
		t.Errorf("set-auth-jwt claims %+v", c)
	}
	r = env.post(t, "/api/auth/update-user", `{"name":"Samuel"}`, "Cookie", cookie)
	if r.status != 200 || r.body["status"] != true {
		t.Fatalf("update-user: %d %s", r.status, r.raw)
	}
	r = env.get(t, "/api/auth/token", "Cookie", cookie)
	if r.status != 200 || env.verifyOffline(t, str(r.body["token"])).Subject != uid {
		t.Fatalf("token: %d %s", r.status, r.raw)
	}
	r = env.post(t, "/api/auth/sign-in/email", `{"email":"sam@example.com","password":"password123"}`)
	want(t, "sign-in", r, 200, "")
	second := str(r.body["token"])
	r = env.get(t, "/api/auth/list-sessions", "Cookie", cookie)
	if r.status != 200 {
		t.Fatalf("list-sessions: %d %s", r.status, r.raw)
	}
	var raw []any
	_ = json.Unmarshal([]byte(r.raw), &raw)
	if len(raw) != 2 {
		t.Fatalf("list-sessions: %s", r.raw)
	}
	r = env.post(t, "/api/auth/revoke-session", `{"token":"`+second+`"}`, "Cookie", cookie)
	if r.status != 200 || r.body["status"] != true {
		t.Fatalf("revoke-session: %d %s", r.status, r.raw)
	}
	if _, err := env.s.auth.GetSession(ctx, second); err == nil {
		t.Error("revoked session still valid")
	}
	r = env.post(t, "/api/auth/request-password-reset", `{"email":"sam@example.com","redirectTo":"/reset"}`)
	if r.status != 200 || len(env.waitMails("sam@example.com", 1)) == 0 {
		t.Fatalf("request-password-reset: %d %s", r.status, r.raw)
	}
	r = env.post(t, "/api/auth/sign-out", "", "Cookie", cookie)
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("sign-out: %d %s", r.status, r.raw)
	}
	if r = env.get(t, "/api/auth/get-session", "Cookie", cookie); r.raw != "null" {
		t.Errorf("get-session after sign-out: %s", r.raw)
	}
	// The SDK's sign-ins reach the security log too.
	if got := env.eventTypes(t, uid); !slices.Contains(got, EventLoginSuccess) || !slices.Contains(got, EventLogout) {
		t.Errorf("events %v", got)
	}
}
