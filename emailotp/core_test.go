package emailotp_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/emailotp"
)

// TestResetPasswordLengthFirst: reset-password checks the password
// against the host's bounds (here 10 to 20) before anything else, as
// Better Auth does: a password of the wrong length is refused whatever
// the code and the email, and the code's attempts are not counted.
func TestResetPasswordLengthFirst(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: kind, authCfg: func(c *auth.Config) {
				c.EmailPassword.MinPasswordLength, c.EmailPassword.MaxPasswordLength = 10, 20
			}})
			e.signUp("ada@example.com", "password-123")
			code := e.code("ada@example.com", emailotp.TypeForgetPassword)
			tooShort, tooLong := errAnswer(400, "PASSWORD_TOO_SHORT", "Password too short"), errAnswer(400, "PASSWORD_TOO_LONG", "Password too long")
			cases := []struct {
				name                 string
				email, otp, password string
				want                 answer
			}{
				{"short, right code", "ada@example.com", code, "123456789", tooShort},
				{"short, wrong code", "ada@example.com", wrongCode(code), "123456789", tooShort},
				{"long, wrong code", "ada@example.com", wrongCode(code), strings.Repeat("x", 21), tooLong},
				{"short, unknown email", "nobody@example.com", code, "short", tooShort},
				{"short, not an email", "not-an-email", code, "short", tooShort},
				{"long, not an email", "not-an-email", code, strings.Repeat("x", 21), tooLong},
				{"right length, not an email", "not-an-email", code, "long-enough", invalidOTP},
			}
			for _, tc := range cases {
				r := e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": tc.email, "otp": tc.otp, "password": tc.password})
				if d := cmp.Diff(tc.want, ans(r)); d != "" {
					t.Errorf("%s (-want +got):\n%s", tc.name, d)
				}
			}
			if got := e.row("ada@example.com", emailotp.TypeForgetPassword); got != code+":0" {
				t.Errorf("after refused passwords the row is %q, want the code with no attempt counted", got)
			}
			r := e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": code, "password": strings.Repeat("y", 20)})
			if d := cmp.Diff(successAnswer, ans(r)); d != "" {
				t.Errorf("reset with the longest password (-want +got):\n%s", d)
			}
		})
	}
}

// TestHostSettings: without the plugin's options, verify-email signs in
// when the host's AutoSignInAfterVerification is on, and a reset by code
// keeps the sessions when the host's KeepSessionsOnPasswordReset is.
func TestHostSettings(t *testing.T) {
	t.Parallel()
	for _, host := range []bool{false, true} {
		e := newEnv(t, envOpts{authCfg: func(c *auth.Config) {
			c.EmailVerification.AutoSignInAfterVerification = host
			c.EmailPassword.KeepSessionsOnPasswordReset = host
		}})
		b := e.signUp("ada@example.com", "password-123")
		code := e.code("ada@example.com", emailotp.TypeEmailVerification)
		// Verified from the account's session: its password and sessions stay.
		r := b.do("POST", "/api/auth/email-otp/verify-email", map[string]any{"email": "ada@example.com", "otp": code})
		if tok, _ := r.body["token"].(string); r.status != 200 || (tok != "") != host {
			t.Errorf("host setting %v: verify-email %d %s, want a token only with the setting", host, r.status, r.raw)
		}
		code = e.code("ada@example.com", emailotp.TypeForgetPassword)
		r = e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": code, "password": "a-new-password"})
		if r.status != 200 {
			t.Fatalf("reset: %d %s", r.status, r.raw)
		}
		if kept := b.session() != nil; kept != host {
			t.Errorf("host setting %v: the session after a reset kept %v", host, kept)
		}
	}
}
