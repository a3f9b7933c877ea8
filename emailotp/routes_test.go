package emailotp_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/emailotp"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// answer is the part of a reply the wire contract fixes.
type answer struct {
	Status int
	Body   map[string]any
}

func ans(r reply) answer { return answer{r.status, r.body} }

func errAnswer(status int, code, msg string) answer {
	b := map[string]any{"message": msg}
	if code != "" {
		b["code"] = code
	}
	return answer{status, b}
}

var successAnswer = answer{200, map[string]any{"success": true}}

const typeOptions = `[body.type] Invalid option: expected one of "email-verification"|"sign-in"|"forget-password"|"change-email"`

// TestRequestAnswers: the answers of the routes that request or check a
// code, for good and bad input, as Better Auth answers them.
func TestRequestAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.signUp("ada@example.com", "password123")
	for _, tc := range []struct {
		name, path string
		body       any
		want       answer
	}{
		{"sign-in code", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada@example.com", "type": "sign-in"}, successAnswer},
		{"upper-case email", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ADA@Example.com", "type": "email-verification"}, successAnswer},
		{"reset code", "/api/auth/email-otp/request-password-reset", map[string]any{"email": "ada@example.com"}, successAnswer},
		{"deprecated alias", "/api/auth/forget-password/email-otp", map[string]any{"email": "ada@example.com"}, successAnswer},
		{"not an email", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada", "type": "sign-in"}, errAnswer(400, "INVALID_EMAIL", "Invalid email")},
		{"reset, not an email", "/api/auth/email-otp/request-password-reset", map[string]any{"email": "ada@"}, errAnswer(400, "INVALID_EMAIL", "Invalid email")},
		{"unknown type", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada@example.com", "type": "login"}, errAnswer(400, "VALIDATION_ERROR", typeOptions)},
		{"no type", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada@example.com"}, errAnswer(400, "VALIDATION_ERROR", typeOptions)},
		{"type not a string", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada@example.com", "type": 1}, errAnswer(400, "VALIDATION_ERROR", typeOptions)},
		{"change-email type", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada@example.com", "type": "change-email"}, errAnswer(400, "", "Invalid OTP type")},
		{"no email", "/api/auth/email-otp/send-verification-otp", map[string]any{"type": "sign-in"}, errAnswer(400, "VALIDATION_ERROR", "[body.email] Invalid input: expected string, received undefined")},
		{"email not a string", "/api/auth/email-otp/request-password-reset", map[string]any{"email": true}, errAnswer(400, "VALIDATION_ERROR", "[body.email] Invalid input: expected string, received boolean")},
		{"check, unknown code", "/api/auth/email-otp/check-verification-otp", map[string]any{"email": "ada@example.com", "type": "forget-password", "otp": "123456"}, errAnswer(400, "INVALID_OTP", "Invalid OTP")},
		{"check, not an email", "/api/auth/email-otp/check-verification-otp", map[string]any{"email": "x", "type": "sign-in", "otp": "123456"}, errAnswer(400, "INVALID_EMAIL", "Invalid email")},
		{"check, no otp", "/api/auth/email-otp/check-verification-otp", map[string]any{"email": "ada@example.com", "type": "sign-in"}, errAnswer(400, "VALIDATION_ERROR", "[body.otp] Invalid input: expected string, received undefined")},
		{"sign-in, no code sent", "/api/auth/sign-in/email-otp", map[string]any{"email": "nobody@example.com", "otp": "123456"}, errAnswer(400, "INVALID_OTP", "Invalid OTP")},
		{"sign-in, not an email", "/api/auth/sign-in/email-otp", map[string]any{"email": "nobody", "otp": "123456"}, errAnswer(400, "INVALID_OTP", "Invalid OTP")},
		{"verify-email, not an email", "/api/auth/email-otp/verify-email", map[string]any{"email": "nobody", "otp": "123456"}, errAnswer(400, "INVALID_EMAIL", "Invalid email")},
		{"reset, no password", "/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": "123456"}, errAnswer(400, "VALIDATION_ERROR", "[body.password] Invalid input: expected string, received undefined")},
		{"change-email, no session", "/api/auth/email-otp/change-email", map[string]any{"newEmail": "b@example.com", "otp": "123456"}, errAnswer(401, "UNAUTHORIZED", "Unauthorized")},
		{"request-email-change, no session", "/api/auth/email-otp/request-email-change", map[string]any{"newEmail": "b@example.com"}, errAnswer(401, "UNAUTHORIZED", "Unauthorized")},
		{"body not an object", "/api/auth/email-otp/send-verification-otp", `[1]`, errAnswer(400, "VALIDATION_ERROR", "[body] Invalid input: expected object, received array")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, ans(e.anon().do("POST", tc.path, tc.body))); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

// TestChangeEmailDisabled: the change-email routes answer Better Auth's
// disabled message (no code) to a signed-in user.
func TestChangeEmailDisabled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	b := e.signUp("ada@example.com", "password123")
	for _, tc := range []struct {
		path string
		body map[string]any
	}{
		{"/api/auth/email-otp/request-email-change", map[string]any{"newEmail": "new@example.com"}},
		{"/api/auth/email-otp/change-email", map[string]any{"newEmail": "new@example.com", "otp": "123456"}},
	} {
		if diff := cmp.Diff(errAnswer(400, "", "Change email with OTP is disabled"), ans(b.do("POST", tc.path, tc.body))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.path, diff)
		}
	}
	if u := e.user("ada@example.com"); u == nil || u.Email != "ada@example.com" {
		t.Errorf("the address changed: %+v", u)
	}
}

// TestSignInFlows: a sign-in code signs a new user up (verified, with the
// name and image given, no account row) and signs an existing user in,
// answering {token, user} with the session cookie, on every adapter.
func TestSignInFlows(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: kind})
			code := e.code("new@example.com", emailotp.TypeSignIn)
			if got := e.row("new@example.com", emailotp.TypeSignIn); got != code+":0" {
				t.Errorf("row %q, want Better Auth's %q", got, code+":0")
			}
			b := e.browser()
			r := b.do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "New@Example.com", "otp": code,
				"name": "Nova", "image": "https://img.example.com/n.png"})
			if r.status != 200 {
				t.Fatalf("sign-in: %d %s", r.status, r.raw)
			}
			if diff := cmp.Diff([]string{"token", "user"}, slices.Sorted(maps.Keys(r.body))); diff != "" {
				t.Errorf("answer keys (-want +got):\n%s", diff)
			}
			user, _ := r.body["user"].(map[string]any)
			if user["email"] != "new@example.com" || user["emailVerified"] != true || user["name"] != "Nova" || user["image"] != "https://img.example.com/n.png" {
				t.Errorf("user %v", user)
			}
			sess := b.session()
			if sess == nil || r.str("token") == "" {
				t.Fatalf("no session after sign-in: %v", sess)
			}
			if tok := sess["session"].(map[string]any)["token"]; tok != r.str("token") {
				t.Errorf("session token %v, answer's %q", tok, r.str("token"))
			}
			u := e.user("new@example.com")
			if n := e.count(plugin.TableAccount, storage.W("userId", u.ID)); n != 0 {
				t.Errorf("%d account rows for a user signed up by code, want 0 (as Better Auth)", n)
			}
			if e.row("new@example.com", emailotp.TypeSignIn) != "" {
				t.Error("the code is still stored after use")
			}
			// Again, as an existing user: a session, the name given ignored.
			code = e.code("new@example.com", emailotp.TypeSignIn)
			r = e.browser().do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code, "name": "Other"})
			if r.status != 200 || r.body["user"].(map[string]any)["name"] != "Nova" {
				t.Errorf("second sign-in: %d %s", r.status, r.raw)
			}
			if n := e.count(plugin.TableSession, storage.W("userId", u.ID)); n != 2 {
				t.Errorf("%d sessions, want 2", n)
			}
		})
	}
}

// TestDisableSignUp: no sign-in code goes to an unknown email (the answer
// is the same) and a sign-in for one is INVALID_OTP.
func TestDisableSignUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: emailotp.Options{DisableSignUp: true}})
	r := e.anon().do("POST", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "new@example.com", "type": "sign-in"})
	if diff := cmp.Diff(successAnswer, ans(r)); diff != "" {
		t.Errorf("send (-want +got):\n%s", diff)
	}
	if m := e.mails("new@example.com", ""); len(m) != 0 {
		t.Errorf("%d codes mailed to an unknown email with sign-up off", len(m))
	}
	// A code made by the app (server-only) still signs nobody up.
	code, err := e.p.CreateVerificationOTP(context.Background(), "new@example.com", emailotp.TypeSignIn)
	if err != nil {
		t.Fatal(err)
	}
	r = e.anon().do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code})
	if diff := cmp.Diff(errAnswer(400, "INVALID_OTP", "Invalid OTP"), ans(r)); diff != "" {
		t.Errorf("sign-in (-want +got):\n%s", diff)
	}
	if e.user("new@example.com") != nil {
		t.Error("a user was created with sign-up off")
	}
	// A known user still gets codes and signs in.
	e.signUp("ada@example.com", "password123")
	code = e.code("ada@example.com", emailotp.TypeSignIn)
	if r := e.anon().do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "ada@example.com", "otp": code}); r.status != 200 {
		t.Errorf("known user: %d %s", r.status, r.raw)
	}
}

// TestCheckVerificationOTP: a right code is checked without being used, a
// wrong one counts, and a right code for an email without a user is
// USER_NOT_FOUND.
func TestCheckVerificationOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.signUp("ada@example.com", "password123")
	code := e.code("ada@example.com", emailotp.TypeForgetPassword)
	check := func(email, typ, otp string) answer {
		return ans(e.anon().do("POST", "/api/auth/email-otp/check-verification-otp", map[string]any{"email": email, "type": typ, "otp": otp}))
	}
	for i, tc := range []struct {
		email, typ, otp string
		want            answer
	}{
		{"ada@example.com", "forget-password", code, successAnswer},
		{"ada@example.com", "forget-password", code, successAnswer}, // still valid
		{"ada@example.com", "sign-in", code, errAnswer(400, "INVALID_OTP", "Invalid OTP")},
		{"ada@example.com", "forget-password", wrongCode(code), errAnswer(400, "INVALID_OTP", "Invalid OTP")},
	} {
		if diff := cmp.Diff(tc.want, check(tc.email, tc.typ, tc.otp)); diff != "" {
			t.Errorf("check %d (-want +got):\n%s", i, diff)
		}
	}
	if got := e.row("ada@example.com", emailotp.TypeForgetPassword); got != code+":1" {
		t.Errorf("row %q, want the code with one failed attempt", got)
	}
	r := e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": code, "password": "a-new-password"})
	if diff := cmp.Diff(successAnswer, ans(r)); diff != "" {
		t.Errorf("reset with the checked code (-want +got):\n%s", diff)
	}
	// A sign-in code for an unknown email (sign-up): right, but no user.
	code = e.code("new@example.com", emailotp.TypeSignIn)
	if diff := cmp.Diff(errAnswer(400, "USER_NOT_FOUND", "User not found"), check("new@example.com", "sign-in", code)); diff != "" {
		t.Errorf("check for an unknown email (-want +got):\n%s", diff)
	}
}

func wrongCode(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// TestVerifyEmail: an email-verification code verifies the address; the
// answer is {status, token:null, user} and, with a session of the user,
// its cookie cache shows the verified address; with
// AutoSignInAfterVerification a new session comes with it.
func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	for _, auto := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "auto sign-in"}[auto], func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{opts: emailotp.Options{AutoSignInAfterVerification: auto},
				authCfg: func(c *auth.Config) { c.Session.CookieCache.Enabled = true }})
			b := e.signUp("ada@example.com", "password123")
			code := e.code("ada@example.com", emailotp.TypeEmailVerification)
			r := b.do("POST", "/api/auth/email-otp/verify-email", map[string]any{"email": "ada@example.com", "otp": code})
			if r.status != 200 || r.body["status"] != true {
				t.Fatalf("verify-email: %d %s", r.status, r.raw)
			}
			if u, _ := r.body["user"].(map[string]any); u["emailVerified"] != true {
				t.Errorf("user %v", u)
			}
			tok, hasTok := r.body["token"]
			if !hasTok || auto != (tok != nil) {
				t.Errorf("token %v (present %v), want one only with auto sign-in", tok, hasTok)
			}
			if sess := b.session(); sess == nil || sess["user"].(map[string]any)["emailVerified"] != true {
				t.Errorf("the session does not show the verified address: %v", sess)
			}
			// The code was for the browser's own account: its password stays.
			if r := e.anon().do("POST", "/api/auth/sign-in/email", map[string]any{"email": "ada@example.com", "password": "password123"}); r.status != 200 {
				t.Errorf("password after verification: %d %s", r.status, r.raw)
			}
			if diff := cmp.Diff(errAnswer(400, "INVALID_OTP", "Invalid OTP"), ans(b.do("POST", "/api/auth/email-otp/verify-email", map[string]any{"email": "ada@example.com", "otp": code}))); diff != "" {
				t.Errorf("the code again (-want +got):\n%s", diff)
			}
			// A right code for an address without a user.
			code, err := e.p.CreateVerificationOTP(context.Background(), "ghost@example.com", emailotp.TypeEmailVerification)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(errAnswer(400, "USER_NOT_FOUND", "User not found"), ans(e.anon().do("POST", "/api/auth/email-otp/verify-email", map[string]any{"email": "ghost@example.com", "otp": code}))); diff != "" {
				t.Errorf("no user (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSendVerificationOnSignUp: a sign-up mails an email-verification
// code; entered without a session (sign-up needing verification), it
// keeps the password the sign-up set. A code asked for by anyone else
// does not vouch for the password: the account goes to the mailbox.
func TestSendVerificationOnSignUp(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"memory", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: kind, opts: emailotp.Options{SendVerificationOnSignUp: true},
				authCfg: func(c *auth.Config) { c.EmailPassword.RequireEmailVerification = true }})
			e.signUp("ada@example.com", "password123")
			m := e.mails("ada@example.com", emailotp.TypeEmailVerification)
			if len(m) != 1 {
				t.Fatalf("%d codes after sign-up, want 1", len(m))
			}
			r := e.anon().do("POST", "/api/auth/email-otp/verify-email", map[string]any{"email": "ada@example.com", "otp": m[0].Code})
			if r.status != 200 {
				t.Fatalf("verify-email: %d %s", r.status, r.raw)
			}
			if r := e.anon().do("POST", "/api/auth/sign-in/email", map[string]any{"email": "ada@example.com", "password": "password123"}); r.status != 200 {
				t.Errorf("the sign-up's password after verifying with its code: %d %s", r.status, r.raw)
			}

			// A squatter signs up bob's address; bob asks for a code himself.
			e.signUp("bob@example.com", "squatter-password")
			code := e.code("bob@example.com", emailotp.TypeEmailVerification)
			if r := e.anon().do("POST", "/api/auth/email-otp/verify-email", map[string]any{"email": "bob@example.com", "otp": code}); r.status != 200 {
				t.Fatalf("verify-email: %d %s", r.status, r.raw)
			}
			if r := e.anon().do("POST", "/api/auth/sign-in/email", map[string]any{"email": "bob@example.com", "password": "squatter-password"}); r.status != 401 {
				t.Errorf("the squatter's password after the owner verified: %d %s, want 401", r.status, r.raw)
			}

			// A sign-up of a taken address mails its owner a code too (the
			// answer tells nothing), which vouches for nothing.
			before := len(e.mails("ada@example.com", emailotp.TypeEmailVerification))
			if r := e.anon().do("POST", "/api/auth/sign-up/email", map[string]any{"email": "ada@example.com", "password": "password456", "name": "X"}); r.status != 200 {
				t.Fatalf("sign-up of a taken address: %d %s", r.status, r.raw)
			}
			if n := len(e.mails("ada@example.com", emailotp.TypeEmailVerification)); n != before+1 {
				t.Errorf("%d codes to the owner after a sign-up of the taken address, want %d", n, before+1)
			}
		})
	}
}

// TestSendHook: Options.SendVerificationOTP replaces the mail.
func TestSendHook(t *testing.T) {
	t.Parallel()
	type sent struct {
		Email, Code string
		Type        emailotp.Type
	}
	got := make(chan sent, 4)
	e := newEnv(t, envOpts{opts: emailotp.Options{SendVerificationOTP: func(_ context.Context, email, code string, typ emailotp.Type) error {
		got <- sent{email, code, typ}
		return nil
	}}, authCfg: func(c *auth.Config) { c.Mailer = nil }})
	r := e.anon().do("POST", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "Ada@Example.com", "type": "sign-in"})
	if diff := cmp.Diff(successAnswer, ans(r)); diff != "" {
		t.Fatalf("send (-want +got):\n%s", diff)
	}
	e.flush()
	select {
	case s := <-got:
		if s.Email != "ada@example.com" || s.Type != emailotp.TypeSignIn || e.row("ada@example.com", emailotp.TypeSignIn) != s.Code+":0" {
			t.Errorf("hook got %+v; row %q", s, e.row("ada@example.com", emailotp.TypeSignIn))
		}
	default:
		t.Fatal("the hook was not called")
	}
	if len(e.box.Sent()) != 0 {
		t.Error("a mail was sent besides the hook")
	}
}

// TestNew refuses bad options and a plugin with no way to send codes.
func TestNew(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    emailotp.Options
		want string
	}{
		{emailotp.Options{OTPLength: 3}, "OTPLength"},
		{emailotp.Options{OTPLength: 33}, "OTPLength"},
		{emailotp.Options{ExpiresIn: -time.Second}, "ExpiresIn"},
		{emailotp.Options{AllowedAttempts: -1}, "AllowedAttempts"},
		{emailotp.Options{StoreOTP: "base64"}, "base64"},
	} {
		if _, err := emailotp.New(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error naming %s", tc.o, err, tc.want)
		}
	}
	p, err := emailotp.New(emailotp.Options{OTPLength: 8, StoreOTP: emailotp.StoreEncrypted})
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.New(auth.Config{BaseURL: "http://localhost", Secret: testSecret}, memory.New(), p)
	if err == nil || !strings.Contains(err.Error(), "Mailer") {
		t.Errorf("auth.New without a Mailer: %v, want an error naming the Mailer", err)
	}
}
