package twofactor_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
)

func trustMAC(userID, id string) string {
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(userID + "!" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func TestTrustDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	r := ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0), "trustDevice": true}))
	var trustHeader string
	for _, h := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "better-auth.trust_device=") {
			trustHeader = h
		}
	}
	if !regexp.MustCompile(`^better-auth\.trust_device=[^;]+; Max-Age=2592000; Path=/; HttpOnly; SameSite=Lax$`).MatchString(trustHeader) {
		t.Fatalf("trust_device Set-Cookie %q", trustHeader)
	}
	first := b.cookie("better-auth.trust_device")
	value, valid := plugin.VerifyCookieValue(testSecret, first)
	m := regexp.MustCompile(`^([A-Za-z0-9_-]{43})!(trust-device-[A-Za-z0-9_-]{32})$`).FindStringSubmatch(value)
	if !valid || m == nil || m[1] != trustMAC(u.id, m[2]) {
		t.Fatalf("trust_device value %q (signature ok %v)", value, valid)
	}
	ctx := context.Background()
	v, err := e.a.Host().FindVerification(ctx, m[2])
	if err != nil || v.Value != u.id || !v.ExpiresAt.Equal(e.clock().Add(30*24*time.Hour)) {
		t.Fatalf("trust row %+v %v", v, err)
	}

	// A trusted sign-in skips the second factor and rotates the cookie.
	ok(t, b.post(t, "/sign-out", nil))
	e.advance(time.Hour)
	s := b.signIn(t, u.email)
	if s.body["twoFactorRedirect"] != nil || s.body["token"] == nil {
		t.Fatalf("trusted sign-in = %s", s.raw)
	}
	second := b.cookie("better-auth.trust_device")
	if second == "" || second == first {
		t.Fatal("trust_device cookie not rotated")
	}
	if _, err := e.a.Host().FindVerification(ctx, m[2]); err == nil {
		t.Fatal("old trust record survived the rotation")
	}

	// The old cookie no longer works, and is expired.
	ok(t, b.post(t, "/sign-out", nil))
	b.setCookie("better-auth.trust_device", first)
	p := b.pending(t, u)
	if c := p.cookies["better-auth.trust_device"]; c == nil || c.MaxAge >= 0 {
		t.Fatal("invalid trust_device cookie not expired")
	}

	// The current one expires after 30 days.
	b.setCookie("better-auth.trust_device", second)
	e.advance(30*24*time.Hour + time.Second)
	b.pending(t, u)
}

func TestTrustDeviceTampered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	alice := e.enroll(t, "alice@example.com")
	bob := e.enroll(t, "bob@example.com")
	b := e.browser()
	b.pending(t, alice)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(alice.key, 0), "trustDevice": true}))
	ok(t, b.post(t, "/sign-out", nil))
	good := b.cookie("better-auth.trust_device")
	value, _ := plugin.VerifyCookieValue(testSecret, good)
	mac, id, _ := strings.Cut(value, "!")

	for _, tc := range []struct {
		name, cookie string
		u            user
	}{
		{"alice's cookie for bob", good, bob},
		{"bad signature", strings.Replace(good, "trust-device-", "trust-device-x", 1), alice},
		{"re-signed with a wrong MAC", plugin.SignCookieValue(testSecret, strings.Repeat("A", len(mac))+"!"+id), alice},
		{"re-signed MAC for another id", plugin.SignCookieValue(testSecret, trustMAC(alice.id, "trust-device-forged")+"!trust-device-forged"), alice},
		{"no separator", plugin.SignCookieValue(testSecret, mac+id), alice},
		{"unsigned", url.QueryEscape(value), alice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			b.setCookie("better-auth.trust_device", tc.cookie)
			p := b.pending(t, tc.u)
			if c := p.cookies["better-auth.trust_device"]; c == nil || c.MaxAge >= 0 {
				t.Fatal("invalid trust_device cookie not expired")
			}
		})
	}
	// The genuine cookie still works for alice.
	b = e.browser()
	b.setCookie("better-auth.trust_device", good)
	if s := b.signIn(t, alice.email); s.body["twoFactorRedirect"] != nil {
		t.Fatalf("trusted sign-in = %s", s.raw)
	}
}

func TestRememberMeFalse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	p := ok(t, b.post(t, "/sign-in/email", map[string]any{"email": u.email, "password": password, "rememberMe": false}))
	if p.body["twoFactorRedirect"] != true {
		t.Fatalf("not interrupted: %s", p.raw)
	}
	if c := p.cookies["better-auth.dont_remember"]; c == nil || c.MaxAge != 0 || c.Value == "" {
		t.Fatalf("dont_remember cookie %v", c)
	}
	r := ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
	if c := r.cookies["better-auth.session_token"]; c == nil || c.MaxAge != 0 {
		t.Fatalf("session cookie %v, want a browser-session cookie", c)
	}
	s := ok(t, b.do(t, "GET", "/get-session", nil))
	exp, _ := time.Parse(time.RFC3339, s.body["session"].(map[string]any)["expiresAt"].(string))
	if !exp.Equal(e.clock().Add(24 * time.Hour)) {
		t.Fatalf("session expires %v", exp)
	}

	// Trusting the device drops dont_remember, as Better Auth does.
	ok(t, b.post(t, "/sign-out", nil))
	e.advance(30 * time.Second)
	ok(t, b.post(t, "/sign-in/email", map[string]any{"email": u.email, "password": password, "rememberMe": false}))
	r = ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0), "trustDevice": true}))
	if c := r.cookies["better-auth.dont_remember"]; c == nil || c.MaxAge >= 0 {
		t.Fatalf("dont_remember not expired: %v", c)
	}
}

func TestMagicLinkSignInInterrupted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		page     string
		callback bool
		location string // want, relative to the server
	}{
		{"two-factor page", "/two-factor", true, "/two-factor"},
		{"callback", "", true, "/?twoFactorRedirect=true"},
		{"json", "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{mailer: true, tf: twofactor.Options{TwoFactorPage: tc.page},
				plugins: []auth.Plugin{magiclink.New(magiclink.Options{})}})
			u := e.enroll(t, "jo@example.com")
			e.verifyEmail(t, u.id) // else the link would reset the account
			b := e.browser()
			ok(t, b.post(t, "/sign-in/magic-link", map[string]any{"email": u.email}))
			link := e.box.last(t, plugin.EmailMagicLink).URL
			if !tc.callback {
				lu, _ := url.Parse(link)
				lu.RawQuery = "token=" + lu.Query().Get("token")
				link = lu.String()
			}
			before := e.countRows(t, plugin.TableSession, storage.W("userId", u.id))
			r := b.do(t, "GET", link, nil)
			if tc.location != "" {
				if r.status != 302 || r.header.Get("Location") != e.srv.URL+tc.location {
					t.Fatalf("magic link = %d Location %q", r.status, r.header.Get("Location"))
				}
			} else if diff := cmp.Diff(`{"twoFactorRedirect":true,"twoFactorMethods":["totp"]}`, r.raw); diff != "" {
				// No "otp": the mailbox already was the first factor.
				t.Fatalf("magic link body (-want +got):\n%s", diff)
			}
			if c := r.cookies["better-auth.session_token"]; c != nil && c.Value != "" {
				t.Fatal("session cookie set")
			}
			if n := e.countRows(t, plugin.TableSession, storage.W("userId", u.id)); n != before {
				t.Fatal("a session row was written")
			}
			// An emailed code is no second factor after a magic link.
			want(t, b.post(t, "/two-factor/send-otp", nil), 400, "OTP_NOT_CONFIGURED")
			ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
			ok(t, b.do(t, "GET", "/get-session", nil))
		})
	}
}

func TestEnforceOnAllSignInsOff(t *testing.T) {
	t.Parallel()
	off := false
	e := newEnv(t, envOpts{mailer: true, tf: twofactor.Options{EnforceOnAllSignIns: &off},
		plugins: []auth.Plugin{magiclink.New(magiclink.Options{})}})
	u := e.enroll(t, "jo@example.com")
	e.verifyEmail(t, u.id)
	b := e.browser()
	ok(t, b.post(t, "/sign-in/magic-link", map[string]any{"email": u.email}))
	r := b.do(t, "GET", e.box.last(t, plugin.EmailMagicLink).URL, nil)
	if c := r.cookies["better-auth.session_token"]; r.status != 302 || c == nil || c.Value == "" {
		t.Fatalf("magic link = %d %v, want a session as Better Auth", r.status, r.cookies)
	}
	ok(t, b.post(t, "/sign-out", nil))
	b.pending(t, u) // email and password is still intercepted
}

func TestVerifyEmailAutoSignInInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{mailer: true, cfg: func(c *auth.Config) {
		c.EmailVerification.SendOnSignUp = true
		c.EmailVerification.AutoSignInAfterVerification = true
	}})
	u := e.enroll(t, "jo@example.com")
	link := e.box.last(t, plugin.EmailVerification).URL
	b := e.browser()
	before := e.countRows(t, plugin.TableSession, storage.W("userId", u.id))
	r := ok(t, b.do(t, "GET", link, nil))
	if diff := cmp.Diff(`{"twoFactorRedirect":true,"twoFactorMethods":["totp"]}`, r.raw); diff != "" {
		t.Fatalf("verify-email (-want +got):\n%s", diff)
	}
	if n := e.countRows(t, plugin.TableSession, storage.W("userId", u.id)); n != before {
		t.Fatal("a session row was written")
	}
	if !mustUser(t, e, u.id).EmailVerified {
		t.Fatal("email not verified")
	}
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
}

// The audit's first finding: whoever held a TOTP user's mailbox signed in
// without the authenticator (reset the password, sign in, have a code
// mailed). A user's second factors are the ones they enrolled: a TOTP user
// is offered TOTP only, the one-time-code routes refuse their pending
// sign-in, and they cannot switch to codes by mail.
func TestMailboxAloneCannotPassTOTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts twofactor.Options
		code string // of send-otp and verify-otp on the pending sign-in
	}{
		{"otp on", twofactor.Options{OTP: true}, "OTP_NOT_ENABLED"},
		{"otp off, mailer configured", twofactor.Options{}, "OTP_NOT_CONFIGURED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{mailer: true, tf: tc.opts})
			u := e.enroll(t, "jo@example.com")
			ctx := context.Background()

			b := e.browser() // the attacker, who reads the victim's mail
			ok(t, b.post(t, "/request-password-reset", map[string]any{"email": u.email, "redirectTo": "/"}))
			if err := e.a.Shutdown(ctx); err != nil { // the mail leaves in the background
				t.Fatal(err)
			}
			link, err := url.Parse(e.box.last(t, plugin.EmailPasswordReset).URL)
			if err != nil {
				t.Fatal(err)
			}
			token := link.Path[strings.LastIndex(link.Path, "/")+1:]
			ok(t, b.post(t, "/reset-password", map[string]any{"token": token, "newPassword": "the attacker's password"}))
			r := ok(t, b.post(t, "/sign-in/email", map[string]any{"email": u.email, "password": "the attacker's password"}))
			if diff := cmp.Diff(`{"twoFactorRedirect":true,"twoFactorMethods":["totp"]}`, r.raw); diff != "" {
				t.Fatalf("sign-in (-want +got):\n%s", diff)
			}
			mails, sessions := len(e.box.Sent()), e.countRows(t, plugin.TableSession, storage.W("userId", u.id))
			want(t, b.post(t, "/two-factor/send-otp", nil), 400, tc.code)
			want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": "123456"}), 400, tc.code)
			if n := len(e.box.Sent()); n != mails {
				t.Fatalf("%d mails sent to the mailbox", n-mails)
			}
			if n := e.countRows(t, plugin.TableSession, storage.W("userId", u.id)); n != sessions {
				t.Fatal("a session was created")
			}
			// The Go API refuses alike.
			ch, _ := plugin.VerifyCookieValue(testSecret, b.cookie("better-auth.two_factor"))
			if err := e.p.SendOTP(ctx, twofactor.Attempt{Challenge: ch}); plugin.AsError(err).Code != tc.code {
				t.Fatalf("SendOTP = %v, want %s", err, tc.code)
			}

			// The owner, signed in with the authenticator, cannot add codes
			// by mail next to it (a weaker way around it).
			owner := e.browser()
			ok(t, owner.post(t, "/sign-in/email", map[string]any{"email": u.email, "password": "the attacker's password"}))
			e.advance(30 * time.Second)
			ok(t, owner.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
			wantCode := "TOTP_ALREADY_ENABLED"
			if !tc.opts.OTP {
				wantCode = "OTP_NOT_CONFIGURED"
			}
			want(t, owner.post(t, "/two-factor/enable", map[string]any{"password": "the attacker's password", "method": "otp"}), 400, wantCode)
		})
	}
}

func TestEmailOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{mailer: true, tf: twofactor.Options{OTP: true}})
	u := e.enrollOTP(t, "jo@example.com")
	b := e.browser()
	p := b.pending(t, u)
	if diff := cmp.Diff([]any{"otp"}, p.body["twoFactorMethods"]); diff != "" {
		t.Fatalf("methods (-want +got):\n%s", diff)
	}
	want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": "123456"}), 400, "OTP_HAS_EXPIRED") // none sent yet
	if diff := cmp.Diff(map[string]any{"status": true}, ok(t, b.post(t, "/two-factor/send-otp", nil)).body); diff != "" {
		t.Fatal(diff)
	}
	mail := e.box.last(t, plugin.EmailOTP)
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(mail.Code) || mail.To != u.email {
		t.Fatalf("OTP mail %+v", mail)
	}
	ch, _ := plugin.VerifyCookieValue(testSecret, b.cookie("better-auth.two_factor"))
	v, err := e.a.Host().FindVerification(context.Background(), "2fa-otp-"+ch)
	if err != nil || strings.Contains(v.Value, mail.Code) || !strings.HasSuffix(v.Value, ":0") {
		t.Fatalf("stored code %+v %v", v, err)
	}
	bad := "000000"
	if mail.Code == bad {
		bad = "111111"
	}
	want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": bad}), 401, "INVALID_CODE")
	want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": "12345a"}), 401, "INVALID_CODE")
	r := ok(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": mail.Code}))
	if r.body["token"] == nil {
		t.Fatalf("verify-otp = %s", r.raw)
	}

	// Codes expire after 3 minutes; a new code replaces the old one.
	ok(t, b.post(t, "/sign-out", nil))
	b.pending(t, u)
	ok(t, b.post(t, "/two-factor/send-otp", nil))
	old := e.box.last(t, plugin.EmailOTP).Code
	ok(t, b.post(t, "/two-factor/send-otp", nil))
	cur := e.box.last(t, plugin.EmailOTP).Code
	if old != cur {
		want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": old}), 401, "INVALID_CODE")
	}
	e.advance(3*time.Minute + time.Second)
	want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": cur}), 400, "OTP_HAS_EXPIRED")
}

func TestEnableOTPMethod(t *testing.T) {
	t.Parallel()
	var sent []string
	e := newEnv(t, envOpts{tf: twofactor.Options{SendOTP: func(_ context.Context, u *auth.User, code string) error {
		sent = append(sent, u.Email+" "+code)
		return nil
	}}})
	b := e.browser()
	id := b.signUp(t, "jo@example.com")
	r := ok(t, b.post(t, "/two-factor/enable", map[string]any{"password": password, "method": "otp"}))
	if r.raw != `{"method":"otp"}` || r.cookies["better-auth.session_token"] == nil {
		t.Fatalf("enable otp = %s %v", r.raw, r.cookies)
	}
	if !twofactor.Enabled(mustUser(t, e, id)) {
		t.Fatal("two-factor not on")
	}
	ok(t, b.post(t, "/sign-out", nil))
	p := b.signIn(t, "jo@example.com")
	if p.raw != `{"twoFactorRedirect":true,"twoFactorMethods":["otp"]}` {
		t.Fatalf("sign-in = %s", p.raw)
	}
	ok(t, b.post(t, "/two-factor/send-otp", map[string]any{"trustDevice": true}))
	code := strings.TrimPrefix(sent[len(sent)-1], "jo@example.com ")
	ok(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": code, "trustDevice": true}))
	if b.cookie("better-auth.trust_device") == "" {
		t.Fatal("no trust_device cookie")
	}

	// Inside a session a code survives 5 wrong guesses, then is void.
	ok(t, b.post(t, "/two-factor/send-otp", nil))
	code = strings.TrimPrefix(sent[len(sent)-1], "jo@example.com ")
	bad := "000000"
	if code == bad {
		bad = "111111"
	}
	for range 5 {
		want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": bad}), 401, "INVALID_CODE")
	}
	want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": code}), 400, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE")
	want(t, b.post(t, "/two-factor/verify-otp", map[string]any{"code": code}), 400, "OTP_HAS_EXPIRED")
}

func TestDisable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	f := ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0), "trustDevice": true}))
	r := ok(t, b.post(t, "/two-factor/disable", map[string]any{"password": password}))
	if r.raw != `{"status":true}` {
		t.Fatalf("disable = %s", r.raw)
	}
	if c := r.cookies["better-auth.trust_device"]; c == nil || c.MaxAge >= 0 {
		t.Fatal("trust_device cookie not expired")
	}
	if c := r.cookies["better-auth.session_token"]; c == nil || c.Value == "" {
		t.Fatal("session not rotated")
	}
	if n := e.countRows(t, plugin.TableSession, storage.W("token", f.body["token"].(string))); n != 0 {
		t.Fatal("old session survived")
	}
	if twofactor.Enabled(mustUser(t, e, u.id)) || e.countRows(t, twofactor.TableTwoFactor, storage.W("userId", u.id)) != 0 {
		t.Fatal("two-factor still on")
	}
	if n := e.countRows(t, plugin.TableVerification, storage.Where{Field: "identifier", Op: storage.StartsWith, Value: "trust-device-"}); n != 0 {
		t.Fatalf("%d trusted devices left", n)
	}
	ok(t, b.do(t, "GET", "/get-session", nil))
	ok(t, b.post(t, "/sign-out", nil))
	if s := b.signIn(t, u.email); s.body["token"] == nil {
		t.Fatalf("sign-in after disable = %s", s.raw)
	}
}

func TestGenerateBackupCodesAndURI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{cfg: func(c *auth.Config) { c.AppName = "Mana" }})
	b := e.browser()
	b.signUp(t, "jo@example.com")
	en := ok(t, b.post(t, "/two-factor/enable", map[string]any{"password": password, "issuer": "Custom"}))
	if !strings.HasPrefix(en.body["totpURI"].(string), "otpauth://totp/Custom:") {
		t.Fatalf("enable with issuer = %s", en.raw)
	}
	key := keyFromURI(t, en.body["totpURI"].(string))
	uri := ok(t, b.post(t, "/two-factor/get-totp-uri", map[string]any{"password": password}))
	if got := uri.body["totpURI"].(string); !strings.HasPrefix(got, "otpauth://totp/Mana:") || string(keyFromURI(t, got)) != string(key) {
		t.Fatalf("get-totp-uri = %s", uri.raw)
	}
	// Not enabled until verified.
	want(t, b.post(t, "/two-factor/generate-backup-codes", map[string]any{"password": password}), 400, "TWO_FACTOR_NOT_ENABLED")
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(key, 0)}))
	old := en.body["backupCodes"].([]any)
	g := ok(t, b.post(t, "/two-factor/generate-backup-codes", map[string]any{"password": password}))
	if diff := cmp.Diff([]string{"backupCodes", "status"}, keys(g.body)); diff != "" || len(g.body["backupCodes"].([]any)) != 10 {
		t.Fatalf("generate-backup-codes = %s", g.raw)
	}
	want(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": old[0]}), 401, "INVALID_BACKUP_CODE")
	ok(t, b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": g.body["backupCodes"].([]any)[0]}))
	want(t, b.post(t, "/two-factor/generate-backup-codes", map[string]any{"password": "wrong password!"}), 400, "INVALID_PASSWORD")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{rateLimit: true})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	bad := wrongCode(e, u.key)
	for range 3 {
		want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": bad}), 401, "INVALID_CODE")
	}
	r := b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)})
	if r.status != 429 || r.raw != `{"message":"Too many requests. Please try again later."}` || r.header.Get("X-Retry-After") == "" {
		t.Fatalf("4th request = %d %s", r.status, r.raw)
	}
	e.advance(10 * time.Second)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0)}))
}

func TestDataSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{mailer: true, tf: twofactor.Options{OTP: true}})
	u := e.enroll(t, "jo@example.com")
	other := e.enroll(t, "al@example.com")
	b := e.browser()
	b.pending(t, u)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0), "trustDevice": true}))
	ok(t, b.post(t, "/two-factor/send-otp", nil)) // a code inside the session
	ok(t, b.post(t, "/sign-out", nil))
	b2 := e.browser()
	b2.pending(t, u) // a pending sign-in

	ctx := context.Background()
	all, err := e.a.ExportUser(ctx, u.id)
	if err != nil {
		t.Fatal(err)
	}
	got := all["two-factor"].(twofactor.Export)
	now := e.clock()
	if diff := cmp.Diff(twofactor.Export{Enabled: true,
		Factors:        []twofactor.ExportFactor{{ID: e.twoFactorRow(t, u.id).String("id"), Verified: true, BackupCodesRemaining: 10}},
		TrustedDevices: []twofactor.ExportDevice{{CreatedAt: plugin.FormatTime(now), ExpiresAt: plugin.FormatTime(now.Add(30 * 24 * time.Hour))}},
	}, got); diff != "" {
		t.Fatalf("export (-want +got):\n%s", diff)
	}
	raw, _ := json.Marshal(all)
	row := e.twoFactorRow(t, u.id)
	for _, secret := range append([]string{row.String("secret"), row.String("backupCodes")}, u.codes...) {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("export contains a secret: %s", raw)
		}
	}

	if err := e.a.DeleteUser(ctx, u.id); err != nil {
		t.Fatal(err)
	}
	if n := e.countRows(t, twofactor.TableTwoFactor, storage.W("userId", u.id)); n != 0 {
		t.Fatal("twoFactor row left")
	}
	for _, w := range []storage.Where{storage.W("value", u.id),
		{Field: "identifier", Op: storage.Contains, Value: u.id},
		{Field: "identifier", Op: storage.StartsWith, Value: "2fa-otp-"},
		{Field: "identifier", Op: storage.StartsWith, Value: "2fa-attempts-"}} {
		if n := e.countRows(t, plugin.TableVerification, w); n != 0 {
			t.Fatalf("%d verification rows left matching %+v", n, w)
		}
	}
	// Others are untouched.
	if n := e.countRows(t, twofactor.TableTwoFactor, storage.W("userId", other.id)); n != 1 {
		t.Fatal("another user's row deleted")
	}
}

// Go callers of the sign-in operations get the trust_device cookie of the
// request they serve honoured (plugin.RequestInfo.Request), and the rotated
// cookie in the result, as the routes do.
func TestGoAPITrustedDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 0), "trustDevice": true}))
	trust := b.cookie("better-auth.trust_device")

	ctx := context.Background()
	in := auth.SignInInput{Email: u.email, Password: password}
	_, err := e.a.SignInEmail(ctx, in)
	var intr *plugin.Interruption
	if !errors.As(err, &intr) {
		t.Fatalf("SignInEmail without the request: %v, want an interruption", err)
	}
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Origin", e.srv.URL) // a request with cookies must name its origin (login CSRF)
	r.AddCookie(&http.Cookie{Name: "better-auth.trust_device", Value: trust})
	res, err := e.a.SignInEmail(plugin.WithRequestInfo(ctx, plugin.RequestInfo{Request: r}), in)
	if err != nil || res.Session == nil {
		t.Fatalf("SignInEmail from the trusted device: %v", err)
	}
	var rotated []string
	for _, c := range res.Cookies {
		if c.Name == "better-auth.trust_device" {
			rotated = append(rotated, c.Value)
		}
	}
	if len(rotated) != 1 || rotated[0] == trust || rotated[0] == "" {
		t.Fatalf("trust_device cookies in the result = %q, want one new value", rotated)
	}
}

// Every first-factor method meets the second step (the hook keys on
// plugin.SignInMethod); with EnforceOnAllSignIns false only "email" does.
// The methods offered are the ones the user enrolled, minus a code by mail
// after a first factor that came from the mailbox.
func TestEverySignInMethod(t *testing.T) {
	t.Parallel()
	off := false
	for _, tc := range []struct {
		method      string
		otpUser     bool // enrolled with one-time codes, not TOTP
		enforce     *bool
		interrupted bool
		methods     []string
	}{
		{"email", false, nil, true, []string{"totp"}},
		{"passkey", false, nil, true, []string{"totp"}},
		{"magic-link", false, nil, true, []string{"totp"}},
		{"email-verification", false, nil, true, []string{"totp"}},
		{"sso", false, nil, true, []string{"totp"}},
		{"", false, nil, false, nil}, // not a sign-in (a session rotation, …)
		{"email", false, &off, true, []string{"totp"}},
		{"passkey", false, &off, false, nil},
		{"magic-link", false, &off, false, nil},
		{"email", true, nil, true, []string{"otp"}},
		{"passkey", true, nil, true, []string{"otp"}},
		{"magic-link", true, nil, true, []string{}},
		{"email-verification", true, nil, true, []string{}},
	} {
		name := tc.method
		if name == "" {
			name = "none"
		}
		if tc.otpUser {
			name += "/otp-user"
		}
		if tc.enforce != nil {
			name += "/email-only"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{mailer: true, tf: twofactor.Options{OTP: true, EnforceOnAllSignIns: tc.enforce}})
			u := e.enroll(t, "jo@example.com")
			if tc.otpUser {
				u = e.enrollOTP(t, "al@example.com")
			}
			ctx := plugin.WithSignIn(context.Background(), tc.method)
			res, err := e.a.Host().CreateSession(ctx, mustUser(t, e, u.id), true)
			var intr *plugin.Interruption
			if got := errors.As(err, &intr); got != tc.interrupted {
				t.Fatalf("interrupted = %v (%v), want %v", got, err, tc.interrupted)
			}
			if !tc.interrupted {
				if err != nil || res.Session == nil {
					t.Fatalf("CreateSession: %v", err)
				}
				return
			}
			body, _ := json.Marshal(intr.Body)
			var got struct{ TwoFactorMethods []string }
			_ = json.Unmarshal(body, &got)
			if diff := cmp.Diff(tc.methods, got.TwoFactorMethods); diff != "" {
				t.Fatalf("methods (-want +got):\n%s", diff)
			}
		})
	}
}
