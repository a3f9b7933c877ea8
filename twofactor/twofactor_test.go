package twofactor_test

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
)

// The spec's §8 vector.
const (
	vectorSecret = "Y7y1u1ncu5C9Q0vveS339WyHMj1vbuSI"
	vectorBase32 = "LE3XSMLVGFXGG5JVIM4VCMDWOZSVGMZTHFLXSSCNNIYXMYTVKNEQ"
)

func TestTOTPVector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		step uint64
		want string
	}{{0, "952223"}, {12345, "130523"}} {
		got, err := twofactor.TOTPCode(vectorSecret, time.Unix(int64(tc.step)*30+29, 0))
		if err != nil || got != tc.want {
			t.Errorf("TOTPCode(step %d) = %q, %v; want %q", tc.step, got, err, tc.want)
		}
		if h := hotp([]byte(vectorSecret), tc.step); h != tc.want {
			t.Errorf("reference hotp(step %d) = %q; want %q", tc.step, h, tc.want)
		}
	}
	// URIs as @better-auth/utils createOTP(secret).url(issuer, account) writes them.
	for _, tc := range []struct{ issuer, account, secret, want string }{
		{"Better Auth", "jo@example.com", vectorSecret,
			"otpauth://totp/Better%20Auth:jo%40example.com?secret=" + vectorBase32 + "&issuer=Better+Auth&digits=6&period=30"},
		{"Mana ~*'()!&=+/ä", "a+b c@example.com", vectorSecret,
			"otpauth://totp/Mana%20~*'()!%26%3D%2B%2F%C3%A4:a%2Bb%20c%40example.com?secret=" + vectorBase32 +
				"&issuer=Mana+%7E*%27%28%29%21%26%3D%2B%2F%C3%A4&digits=6&period=30"},
		{"x", "y", "base32:jbswy3dpehpk3pxp", "otpauth://totp/x:y?secret=JBSWY3DPEHPK3PXP&issuer=x&digits=6&period=30"},
	} {
		got, err := twofactor.TOTPURI(tc.issuer, tc.account, tc.secret)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("TOTPURI(%q, %q) (-want +got):\n%s", tc.issuer, tc.account, diff)
		}
	}
}

func TestEnrolmentAndSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{tf: twofactor.Options{Issuer: "Mana"}})
	b := e.browser()
	id := b.signUp(t, "jo@example.com")

	s := ok(t, b.do(t, "GET", "/get-session", nil))
	if got := s.body["user"].(map[string]any)["twoFactorEnabled"]; got != false {
		t.Fatalf("new user twoFactorEnabled = %v, want false", got)
	}
	r := ok(t, b.post(t, "/two-factor/enable", map[string]any{"password": password}))
	if diff := cmp.Diff([]string{"backupCodes", "method", "totpURI"}, keys(r.body)); diff != "" {
		t.Fatalf("enable keys (-want +got):\n%s", diff)
	}
	uri := r.body["totpURI"].(string)
	if !regexp.MustCompile(`^otpauth://totp/Mana:jo%40example\.com\?secret=[A-Z2-7]{52}&issuer=Mana&digits=6&period=30$`).MatchString(uri) {
		t.Fatalf("totpURI = %q", uri)
	}
	codes := r.body["backupCodes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("%d backup codes", len(codes))
	}
	for _, c := range codes {
		if !regexp.MustCompile(`^[a-zA-Z0-9]{5}-[a-zA-Z0-9]{5}$`).MatchString(c.(string)) {
			t.Fatalf("backup code %q", c)
		}
	}
	row := e.twoFactorRow(t, id)
	if row.Bool("verified") {
		t.Fatal("row verified before the first code")
	}
	if !strings.HasPrefix(row.String("backupCodes"), "hashed:v1:") || strings.Contains(row.String("backupCodes"), codes[0].(string)) {
		t.Fatalf("backup codes not stored hashed: %q", row.String("backupCodes"))
	}
	plain, err := keyring.Decrypt(testSecret, row.String("secret"))
	if err != nil || len(plain) != 32 {
		t.Fatalf("secret not stored encrypted: %v", err)
	}
	key := keyFromURI(t, uri)
	if string(key) != plain {
		t.Fatal("URI secret is not the stored secret's bytes")
	}

	// Until the first code, sign-in is not interrupted.
	if got := b.signIn(t, "jo@example.com"); got.body["twoFactorRedirect"] != nil {
		t.Fatalf("interrupted before enrolment finished: %s", got.raw)
	}
	s = ok(t, b.do(t, "GET", "/get-session", nil))
	oldToken := s.body["session"].(map[string]any)["token"].(string)

	// The first code turns two-factor on and replaces the session.
	v := ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(key, 0)}))
	if v.body["user"].(map[string]any)["twoFactorEnabled"] != true || v.body["token"] == oldToken {
		t.Fatalf("verify-totp = %s", v.raw)
	}
	if v.cookies["better-auth.session_token"] == nil {
		t.Fatal("session not rotated")
	}
	if n := e.countRows(t, plugin.TableSession, storage.W("token", oldToken)); n != 0 {
		t.Fatal("old session survived the rotation")
	}
	if !e.twoFactorRow(t, id).Bool("verified") {
		t.Fatal("row not verified")
	}
	ok(t, b.post(t, "/sign-out", nil))
	e.advance(30 * time.Second)

	// Sign-in is interrupted: no session row, cookies expired (stale cache
	// chunks too), two_factor set.
	b.setCookie("better-auth.session_data.0", "stale")
	b.setCookie("better-auth.session_data.1", "stale")
	before := e.countRows(t, plugin.TableSession, storage.W("userId", id))
	p := b.signIn(t, "jo@example.com")
	if diff := cmp.Diff(`{"twoFactorRedirect":true,"twoFactorMethods":["totp"]}`, p.raw); diff != "" {
		t.Fatalf("interrupted sign-in body (-want +got):\n%s", diff)
	}
	if after := e.countRows(t, plugin.TableSession, storage.W("userId", id)); after != before {
		t.Fatalf("sessions %d → %d: a session row was written", before, after)
	}
	var setCookies []string
	for _, h := range p.header.Values("Set-Cookie") {
		setCookies = append(setCookies, regexp.MustCompile(`two_factor=[^;]+`).ReplaceAllString(h, "two_factor=X"))
	}
	if diff := cmp.Diff([]string{
		"better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
		"better-auth.session_data=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
		"better-auth.session_data.0=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
		"better-auth.session_data.1=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
		"better-auth.two_factor=X; Max-Age=600; Path=/; HttpOnly; SameSite=Lax",
		"better-auth.dont_remember=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
	}, setCookies); diff != "" {
		t.Fatalf("Set-Cookie (-want +got):\n%s", diff)
	}
	challenge, valid := plugin.VerifyCookieValue(testSecret, b.cookie("better-auth.two_factor"))
	if !valid || !regexp.MustCompile(`^2fa-[A-Za-z0-9_-]{20}$`).MatchString(challenge) {
		t.Fatalf("two_factor cookie %q", b.cookie("better-auth.two_factor"))
	}
	ctx := context.Background()
	if v, err := e.a.Host().FindVerification(ctx, challenge); err != nil || v.Value != id {
		t.Fatalf("challenge row: %v %v", v, err)
	}
	if v, err := e.a.Host().FindVerification(ctx, "2fa-attempts-"+challenge); err != nil || v.Value != "0" {
		t.Fatalf("attempts row: %v %v", v, err)
	}
	if r := b.do(t, "GET", "/get-session", nil); r.raw != "null" {
		t.Fatalf("signed in before the second factor: %s", r.raw)
	}

	f := ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(key, 0)}))
	if f.body["token"] == nil || f.body["user"].(map[string]any)["id"] != id {
		t.Fatalf("verify-totp = %s", f.raw)
	}
	if c := f.cookies["better-auth.two_factor"]; c == nil || c.MaxAge >= 0 {
		t.Fatal("two_factor cookie not expired")
	}
	s = ok(t, b.do(t, "GET", "/get-session", nil))
	if s.body["session"].(map[string]any)["token"] != f.body["token"] {
		t.Fatalf("get-session = %s", s.raw)
	}
	if _, err := e.a.Host().FindVerification(ctx, challenge); err == nil {
		t.Fatal("challenge not consumed")
	}
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestReplayRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	u := e.enroll(t, "jo@example.com")
	b := e.browser()
	b.pending(t, u)
	c := e.code(u.key, 0)
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": c}))
	ok(t, b.post(t, "/sign-out", nil))

	// The same code, still inside its window, and the previous step's code
	// are refused; the next step's code works.
	b.pending(t, u)
	want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": c}), 401, "INVALID_CODE")
	want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, -1)}), 401, "INVALID_CODE")
	e.advance(10 * time.Second)
	want(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": c}), 401, "INVALID_CODE")
	ok(t, b.post(t, "/two-factor/verify-totp", map[string]any{"code": e.code(u.key, 1)}))
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	type fixture struct {
		e *env
		u user
		b *browser // with a pending sign-in of u
	}
	setup := func(t *testing.T) fixture {
		e := newEnv(t, envOpts{})
		u := e.enroll(t, "jo@example.com")
		b := e.browser()
		b.pending(t, u)
		return fixture{e, u, b}
	}
	verify := func(f fixture, code any) reply {
		return f.b.post(f.e.t, "/two-factor/verify-totp", map[string]any{"code": code})
	}
	for _, tc := range []struct {
		name   string
		run    func(t *testing.T, f fixture) reply
		status int
		code   string
	}{
		{"wrong code", func(t *testing.T, f fixture) reply {
			c := f.e.code(f.u.key, 0)
			w := "000000"
			if c == w {
				w = "111111"
			}
			return verify(f, w)
		}, 401, "INVALID_CODE"},
		{"non-numeric code", func(t *testing.T, f fixture) reply { return verify(f, "12a456") }, 401, "INVALID_CODE"},
		{"short code", func(t *testing.T, f fixture) reply { return verify(f, "12345") }, 401, "INVALID_CODE"},
		{"over-long code", func(t *testing.T, f fixture) reply { return verify(f, strings.Repeat("1", 10000)) }, 401, "INVALID_CODE"},
		{"code with the right prefix", func(t *testing.T, f fixture) reply { return verify(f, f.e.code(f.u.key, 0)+"0") }, 401, "INVALID_CODE"},
		{"expired code", func(t *testing.T, f fixture) reply { return verify(f, f.e.code(f.u.key, -2)) }, 401, "INVALID_CODE"},
		{"future code", func(t *testing.T, f fixture) reply { return verify(f, f.e.code(f.u.key, 2)) }, 401, "INVALID_CODE"},
		{"reused code", func(t *testing.T, f fixture) reply { return verify(f, f.e.code(f.u.key, -1)) }, 401, "INVALID_CODE"},
		{"code not a string", func(t *testing.T, f fixture) reply { return verify(f, 123456) }, 400, "VALIDATION_ERROR"},
		{"code missing", func(t *testing.T, f fixture) reply {
			return f.b.post(t, "/two-factor/verify-totp", map[string]any{})
		}, 400, "VALIDATION_ERROR"},
		{"no pending sign-in", func(t *testing.T, f fixture) reply {
			return f.e.browser().post(t, "/two-factor/verify-totp", map[string]any{"code": f.e.code(f.u.key, 0)})
		}, 401, "INVALID_TWO_FACTOR_COOKIE"},
		{"tampered two_factor cookie", func(t *testing.T, f fixture) reply {
			v := f.b.cookie("better-auth.two_factor")
			f.b.setCookie("better-auth.two_factor", "2fa-AAAAAAAAAAAAAAAAAAAA"+v[strings.LastIndex(v, "."):])
			return verify(f, f.e.code(f.u.key, 0))
		}, 401, "INVALID_TWO_FACTOR_COOKIE"},
		{"two_factor cookie signed with another secret", func(t *testing.T, f fixture) reply {
			ch, _ := plugin.VerifyCookieValue(testSecret, f.b.cookie("better-auth.two_factor"))
			f.b.setCookie("better-auth.two_factor", plugin.SignCookieValue("another-secret-0123456789abcdefghijk", ch))
			return verify(f, f.e.code(f.u.key, 0))
		}, 401, "INVALID_TWO_FACTOR_COOKIE"},
		{"attempt counter as challenge", func(t *testing.T, f fixture) reply {
			ch, _ := plugin.VerifyCookieValue(testSecret, f.b.cookie("better-auth.two_factor"))
			f.b.setCookie("better-auth.two_factor", plugin.SignCookieValue(testSecret, "2fa-attempts-"+ch))
			return verify(f, f.e.code(f.u.key, 0))
		}, 401, "INVALID_TWO_FACTOR_COOKIE"},
		{"expired pending sign-in", func(t *testing.T, f fixture) reply {
			f.e.advance(10*time.Minute + time.Second)
			return verify(f, f.e.code(f.u.key, 0))
		}, 401, "INVALID_TWO_FACTOR_COOKIE"},
		{"wrong backup code", func(t *testing.T, f fixture) reply {
			return f.b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": "AAAAA-BBBBB"})
		}, 401, "INVALID_BACKUP_CODE"},
		{"over-long backup code", func(t *testing.T, f fixture) reply {
			return f.b.post(t, "/two-factor/verify-backup-code", map[string]any{"code": f.u.codes[0] + strings.Repeat("x", 100)})
		}, 401, "INVALID_BACKUP_CODE"},
		{"backup code without pending sign-in", func(t *testing.T, f fixture) reply {
			return f.e.browser().post(t, "/two-factor/verify-backup-code", map[string]any{"code": f.u.codes[0]})
		}, 401, "INVALID_TWO_FACTOR_COOKIE"},
		{"otp not configured", func(t *testing.T, f fixture) reply {
			return f.b.post(t, "/two-factor/send-otp", nil)
		}, 400, "OTP_NOT_CONFIGURED"},
		{"verify-otp, otp not configured", func(t *testing.T, f fixture) reply {
			return f.b.post(t, "/two-factor/verify-otp", map[string]any{"code": "123456"})
		}, 400, "OTP_NOT_CONFIGURED"},
		{"enable without password", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			return b.post(t, "/two-factor/enable", map[string]any{})
		}, 400, "VALIDATION_ERROR"},
		{"enable with wrong password", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			return b.post(t, "/two-factor/enable", map[string]any{"password": "wrong password!"})
		}, 400, "INVALID_PASSWORD"},
		{"enable with empty password", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			return b.post(t, "/two-factor/enable", map[string]any{"password": ""})
		}, 400, "INVALID_PASSWORD"},
		{"enable unknown method", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			return b.post(t, "/two-factor/enable", map[string]any{"password": password, "method": "sms"})
		}, 400, "VALIDATION_ERROR"},
		{"enable otp without OTP", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			return b.post(t, "/two-factor/enable", map[string]any{"password": password, "method": "otp"})
		}, 400, "OTP_NOT_CONFIGURED"},
		{"enable without session", func(t *testing.T, f fixture) reply {
			return f.e.browser().post(t, "/two-factor/enable", map[string]any{"password": password})
		}, 401, "UNAUTHORIZED"},
		{"enable twice", func(t *testing.T, f fixture) reply {
			ok(t, f.b.post(t, "/two-factor/verify-totp", map[string]any{"code": f.e.code(f.u.key, 0)}))
			return f.b.post(t, "/two-factor/enable", map[string]any{"password": password})
		}, 400, "TOTP_ALREADY_ENABLED"},
		{"disable by another user's session", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			r := b.post(t, "/two-factor/disable", map[string]any{"password": "another password"})
			if !twofactor.Enabled(mustUser(t, f.e, f.u.id)) || f.e.countRows(t, twofactor.TableTwoFactor, storage.W("userId", f.u.id)) != 1 {
				t.Fatal("victim's two-factor changed")
			}
			return r
		}, 400, "INVALID_PASSWORD"},
		{"disable without password", func(t *testing.T, f fixture) reply {
			ok(t, f.b.post(t, "/two-factor/verify-totp", map[string]any{"code": f.e.code(f.u.key, 0)}))
			return f.b.post(t, "/two-factor/disable", map[string]any{})
		}, 400, "VALIDATION_ERROR"},
		{"disable with the pending sign-in only", func(t *testing.T, f fixture) reply {
			return f.b.post(t, "/two-factor/disable", map[string]any{"password": password})
		}, 401, "UNAUTHORIZED"},
		{"generate backup codes without two-factor", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			return b.post(t, "/two-factor/generate-backup-codes", map[string]any{"password": password})
		}, 400, "TWO_FACTOR_NOT_ENABLED"},
		{"get-totp-uri without TOTP", func(t *testing.T, f fixture) reply {
			b := f.e.browser()
			b.signUp(t, "al@example.com")
			return b.post(t, "/two-factor/get-totp-uri", map[string]any{"password": password})
		}, 400, "TOTP_NOT_ENABLED"},
		{"get-totp-uri wrong password", func(t *testing.T, f fixture) reply {
			ok(t, f.b.post(t, "/two-factor/verify-totp", map[string]any{"code": f.e.code(f.u.key, 0)}))
			return f.b.post(t, "/two-factor/get-totp-uri", map[string]any{"password": "wrong password!"})
		}, 400, "INVALID_PASSWORD"},
		{"body not JSON", func(t *testing.T, f fixture) reply {
			return f.b.do(t, "POST", "/two-factor/verify-totp", "{code:")
		}, 400, "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.e.t = t
			want(t, tc.run(t, f), tc.status, tc.code)
		})
	}
}

func mustUser(t *testing.T, e *env, id string) *auth.User {
	t.Helper()
	u, err := e.a.Host().FindUserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
