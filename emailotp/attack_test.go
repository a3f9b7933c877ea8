package emailotp_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/emailotp"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

var (
	invalidOTP      = errAnswer(400, "INVALID_OTP", "Invalid OTP")
	tooManyAttempts = errAnswer(403, "TOO_MANY_ATTEMPTS", "Too many attempts")
	otpExpired      = errAnswer(400, "OTP_EXPIRED", "OTP expired")
)

// use is a route that takes a code of typ: path and the body for a code.
type use struct {
	name string
	typ  emailotp.Type
	path string
	body func(email, code string) map[string]any
}

var uses = []use{
	{"sign-in", emailotp.TypeSignIn, "/api/auth/sign-in/email-otp", func(email, code string) map[string]any {
		return map[string]any{"email": email, "otp": code}
	}},
	{"verify-email", emailotp.TypeEmailVerification, "/api/auth/email-otp/verify-email", func(email, code string) map[string]any {
		return map[string]any{"email": email, "otp": code}
	}},
	{"reset-password", emailotp.TypeForgetPassword, "/api/auth/email-otp/reset-password", func(email, code string) map[string]any {
		return map[string]any{"email": email, "otp": code, "password": "a-new-password"}
	}},
	{"check", emailotp.TypeSignIn, "/api/auth/email-otp/check-verification-otp", func(email, code string) map[string]any {
		return map[string]any{"email": email, "otp": code, "type": "sign-in"}
	}},
}

// TestBruteForce: on every route that takes a code, three wrong codes are
// INVALID_OTP, then even the right code is TOO_MANY_ATTEMPTS and the code
// is gone (INVALID_OTP), and nothing was done for the attacker.
func TestBruteForce(t *testing.T) {
	t.Parallel()
	for _, u := range uses {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			victim := e.signUp("ada@example.com", "password123")
			code := e.code("ada@example.com", u.typ)
			attacker := e.anon()
			var got []answer
			for range 3 {
				got = append(got, ans(attacker.do("POST", u.path, u.body("ada@example.com", wrongCode(code)))))
			}
			got = append(got, ans(attacker.do("POST", u.path, u.body("ada@example.com", code))))
			got = append(got, ans(attacker.do("POST", u.path, u.body("ada@example.com", code))))
			want := []answer{invalidOTP, invalidOTP, invalidOTP, tooManyAttempts, invalidOTP}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answers (-want +got):\n%s", diff)
			}
			if n := e.count(plugin.TableSession); n != 1 {
				t.Errorf("%d sessions, want the victim's only", n)
			}
			if r := e.anon().do("POST", "/api/auth/sign-in/email", map[string]any{"email": "ada@example.com", "password": "password123"}); r.status != 200 {
				t.Errorf("the victim's password: %d %s", r.status, r.raw)
			}
			if victim.session() == nil || e.user("ada@example.com").EmailVerified {
				t.Error("the victim's session ended or the address was verified")
			}
		})
	}
}

// TestParallelSignIn: one code used by many requests at once signs in
// exactly once, on every adapter, for an existing user and for a sign-up
// (exactly one user created).
func TestParallelSignIn(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		for _, existing := range []bool{true, false} {
			t.Run(kind+map[bool]string{true: "/existing", false: "/sign-up"}[existing], func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, envOpts{db: kind})
				if existing {
					e.signUp("ada@example.com", "password123")
				}
				code := e.code("ada@example.com", emailotp.TypeSignIn)
				const n = 8
				answers := make([]answer, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					b := e.browser()
					wg.Go(func() {
						r, err := b.try("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "ada@example.com", "otp": code})
						answers[i], errs[i] = ans(r), err
					})
				}
				wg.Wait()
				ok := 0
				for i, a := range answers {
					if errs[i] != nil {
						t.Fatal(errs[i])
					}
					switch {
					case a.Status == 200:
						ok++
					case cmp.Equal(a, invalidOTP):
					default:
						t.Errorf("unexpected answer %+v", a)
					}
				}
				if ok != 1 {
					t.Errorf("%d of %d concurrent sign-ins with one code succeeded, want 1", ok, n)
				}
				u := e.user("ada@example.com")
				if u == nil {
					t.Fatal("no user")
				}
				if got := e.count(plugin.TableSession, storage.W("userId", u.ID)); got != 1 {
					t.Errorf("%d sessions, want 1 (the squatting sign-up's own was dropped)", got)
				}
				if got := e.count(plugin.TableUser); got != 1 {
					t.Errorf("%d users, want 1", got)
				}
			})
		}
	}
}

// TestCodeOfAnotherType: a code is valid for its type and address only;
// trying it elsewhere changes nothing and leaves it valid.
func TestCodeOfAnotherType(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.signUp("ada@example.com", "password123")
	e.signUp("bob@example.com", "password123")
	code := e.code("ada@example.com", emailotp.TypeSignIn)
	for _, tc := range []struct {
		path string
		body map[string]any
	}{
		{"/api/auth/email-otp/verify-email", map[string]any{"email": "ada@example.com", "otp": code}},
		{"/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": code, "password": "a-new-password"}},
		{"/api/auth/email-otp/check-verification-otp", map[string]any{"email": "ada@example.com", "otp": code, "type": "email-verification"}},
		{"/api/auth/email-otp/check-verification-otp", map[string]any{"email": "ada@example.com", "otp": code, "type": "change-email"}},
		{"/api/auth/sign-in/email-otp", map[string]any{"email": "bob@example.com", "otp": code}},
	} {
		if diff := cmp.Diff(invalidOTP, ans(e.anon().do("POST", tc.path, tc.body))); diff != "" {
			t.Errorf("%s %v (-want +got):\n%s", tc.path, tc.body, diff)
		}
	}
	if got := e.row("ada@example.com", emailotp.TypeSignIn); got != code+":0" {
		t.Errorf("the code's row is %q after uses elsewhere, want it untouched", got)
	}
	if e.user("ada@example.com").EmailVerified || e.user("bob@example.com").EmailVerified {
		t.Error("an address was verified")
	}
	if r := e.anon().do("POST", "/api/auth/sign-in/email", map[string]any{"email": "ada@example.com", "password": "password123"}); r.status != 200 {
		t.Errorf("the password changed: %d", r.status)
	}
	if r := e.anon().do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "ada@example.com", "otp": code}); r.status != 200 {
		t.Errorf("the code where it belongs: %d %s", r.status, r.raw)
	}
}

// TestExpiry: a code works until ExpiresIn, then is OTP_EXPIRED (even
// right), then gone.
func TestExpiry(t *testing.T) {
	t.Parallel()
	for _, u := range uses {
		t.Run(u.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{opts: emailotp.Options{ExpiresIn: 2 * time.Minute}})
			e.signUp("ada@example.com", "password123")
			code := e.code("ada@example.com", u.typ)
			e.clock.Advance(2*time.Minute - time.Second)
			if diff := cmp.Diff(invalidOTP, ans(e.anon().do("POST", u.path, u.body("ada@example.com", wrongCode(code))))); diff != "" {
				t.Errorf("wrong code before expiry (-want +got):\n%s", diff)
			}
			e.clock.Advance(time.Second)
			got := []answer{
				ans(e.anon().do("POST", u.path, u.body("ada@example.com", code))),
				ans(e.anon().do("POST", u.path, u.body("ada@example.com", code))),
			}
			if diff := cmp.Diff([]answer{otpExpired, invalidOTP}, got); diff != "" {
				t.Errorf("after expiry (-want +got):\n%s", diff)
			}
			if n := e.count(plugin.TableVerification, storage.W("identifier", string(u.typ)+"-otp-ada@example.com")); n != 0 {
				t.Errorf("%d rows left", n)
			}
		})
	}
}

// blockingMailer holds every mail until released.
type blockingMailer struct {
	release chan struct{}
	mu      sync.Mutex
	sent    []auth.Email
}

func (m *blockingMailer) SendEmail(ctx context.Context, e auth.Email) error {
	select {
	case <-m.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	m.sent = append(m.sent, e)
	m.mu.Unlock()
	return nil
}

// TestUnknownEmailAnswersAlike: where an unknown email gets no code, the
// answer is the same as for a user's (status, body, headers), after the
// same statements, the mail leaves after the answer (a mailer that never
// answers does not delay it), both addresses have a code row alike (only
// the user's is mailed), and guessing at either meets the same answers.
func TestUnknownEmailAnswersAlike(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		typ        emailotp.Type
		opts       emailotp.Options
	}{
		{"email-verification", "/api/auth/email-otp/send-verification-otp", map[string]any{"type": "email-verification"}, emailotp.TypeEmailVerification, emailotp.Options{}},
		{"forget-password", "/api/auth/email-otp/send-verification-otp", map[string]any{"type": "forget-password"}, emailotp.TypeForgetPassword, emailotp.Options{}},
		{"sign-in, sign-up off", "/api/auth/email-otp/send-verification-otp", map[string]any{"type": "sign-in"}, emailotp.TypeSignIn, emailotp.Options{DisableSignUp: true}},
		{"request-password-reset", "/api/auth/email-otp/request-password-reset", map[string]any{}, emailotp.TypeForgetPassword, emailotp.Options{}},
		{"forget-password alias", "/api/auth/forget-password/email-otp", map[string]any{}, emailotp.TypeForgetPassword, emailotp.Options{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mailer := &blockingMailer{release: make(chan struct{})}
			e := newEnv(t, envOpts{opts: tc.opts, authCfg: func(c *auth.Config) { c.Mailer = mailer }})
			if err := e.a.Host().CreateUser(context.Background(), &plugin.User{Email: "ada@example.com", Name: "Ada"}, nil); err != nil {
				t.Fatal(err)
			}
			send := func(email string) (reply, []string) {
				body := map[string]any{"email": email}
				for k, v := range tc.body {
					body[k] = v
				}
				e.db.take()
				type result struct {
					r   reply
					err error
				}
				done := make(chan result, 1)
				b := e.anon()
				go func() {
					r, err := b.try("POST", tc.path, body)
					done <- result{r, err}
				}()
				select {
				case res := <-done:
					if res.err != nil {
						t.Fatal(res.err)
					}
					return res.r, e.db.take()
				case <-time.After(10 * time.Second):
					t.Fatal("the answer waited for the mail")
				}
				return reply{}, nil
			}
			known, knownOps := send("ada@example.com")
			unknown, unknownOps := send("nobody@example.com")
			if diff := cmp.Diff(ans(known), ans(unknown)); diff != "" {
				t.Errorf("answers differ (-known +unknown):\n%s", diff)
			}
			if diff := cmp.Diff(successAnswer, ans(known)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			for _, h := range []string{"Set-Cookie", "Content-Type", "Content-Length"} {
				if known.header.Get(h) != unknown.header.Get(h) {
					t.Errorf("header %s: %q for a user, %q for an unknown email", h, known.header.Get(h), unknown.header.Get(h))
				}
			}
			if diff := cmp.Diff(knownOps, unknownOps); diff != "" {
				t.Errorf("statements (-user +unknown):\n%s", diff)
			}
			rowShape := func(email string) string {
				v := e.row(email, tc.typ)
				return strings.Map(func(r rune) rune {
					if r >= '0' && r <= '9' {
						return 'd'
					}
					return r
				}, v)
			}
			if rowShape("ada@example.com") != "dddddd:d" || rowShape("nobody@example.com") != rowShape("ada@example.com") {
				t.Errorf("rows: user %q, unknown %q, want alike", e.row("ada@example.com", tc.typ), e.row("nobody@example.com", tc.typ))
			}
			// Guessing: three wrong codes, then the right one is refused,
			// whoever the address is.
			guess := func(email string) []answer {
				stored, _, _ := strings.Cut(e.row(email, tc.typ), ":")
				var out []answer
				for range 4 {
					out = append(out, ans(e.anon().do("POST", "/api/auth/email-otp/check-verification-otp",
						map[string]any{"email": email, "type": string(tc.typ), "otp": wrongCode(stored)})))
				}
				return out
			}
			if diff := cmp.Diff(guess("ada@example.com"), guess("nobody@example.com")); diff != "" {
				t.Errorf("guesses (-user +unknown):\n%s", diff)
			}
			close(mailer.release)
			e.flush()
			mailer.mu.Lock()
			defer mailer.mu.Unlock()
			if len(mailer.sent) != 1 || mailer.sent[0].To != "ada@example.com" || mailer.sent[0].Data["type"] != string(tc.typ) {
				t.Errorf("mails %+v, want one code to the user", mailer.sent)
			}
		})
	}
}

// TestSquatterLosesAccount: whoever signed a victim's address up with
// their own password loses it, and their session, when the victim signs
// in with a code; the account is then verified, on every adapter.
func TestSquatterLosesAccount(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: kind})
			squatter := e.signUp("victim@example.com", "squatter-password")
			if squatter.session() == nil {
				t.Fatal("the squatter has no session")
			}
			code := e.code("victim@example.com", emailotp.TypeSignIn)
			victim := e.browser()
			r := victim.do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "victim@example.com", "otp": code})
			if r.status != 200 {
				t.Fatalf("victim's sign-in: %d %s", r.status, r.raw)
			}
			if squatter.session() != nil {
				t.Error("the squatter's session survived")
			}
			if r := e.anon().do("POST", "/api/auth/sign-in/email", map[string]any{"email": "victim@example.com", "password": "squatter-password"}); r.status != 401 || r.code() != "INVALID_EMAIL_OR_PASSWORD" {
				t.Errorf("the squatter's password: %d %s, want 401 INVALID_EMAIL_OR_PASSWORD", r.status, r.raw)
			}
			u := e.user("victim@example.com")
			if !u.EmailVerified || e.count(plugin.TableAccount, storage.W("userId", u.ID)) != 0 {
				t.Errorf("verified %v, %d accounts, want verified and none", u.EmailVerified, e.count(plugin.TableAccount, storage.W("userId", u.ID)))
			}
			if victim.session() == nil {
				t.Error("the victim has no session")
			}
		})
	}
}

// TestResetPassword: a wrong code changes nothing; a password of the
// wrong length is refused and the code stays valid; the right code sets
// the password, ends the sessions and works once.
func TestResetPassword(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: kind})
			b := e.signUp("ada@example.com", "password123")
			code := e.code("ada@example.com", emailotp.TypeForgetPassword)
			reset := func(code, password string) answer {
				return ans(e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": code, "password": password}))
			}
			signIn := func(password string) int {
				return e.anon().do("POST", "/api/auth/sign-in/email", map[string]any{"email": "ada@example.com", "password": password}).status
			}
			if diff := cmp.Diff(invalidOTP, reset(wrongCode(code), "a-new-password")); diff != "" {
				t.Errorf("wrong code (-want +got):\n%s", diff)
			}
			if signIn("password123") != 200 || signIn("a-new-password") != 401 || b.session() == nil {
				t.Fatal("a wrong code changed the password or ended the session")
			}
			if diff := cmp.Diff(errAnswer(400, "PASSWORD_TOO_SHORT", "Password too short"), reset(code, "short")); diff != "" {
				t.Errorf("short password (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(errAnswer(400, "PASSWORD_TOO_LONG", "Password too long"), reset(code, strings.Repeat("x", 129))); diff != "" {
				t.Errorf("long password (-want +got):\n%s", diff)
			}
			if got := e.row("ada@example.com", emailotp.TypeForgetPassword); got != code+":1" {
				t.Errorf("after refused passwords the row is %q, want the code with its one failed attempt", got)
			}
			if diff := cmp.Diff(successAnswer, reset(code, "a-new-password")); diff != "" {
				t.Errorf("reset (-want +got):\n%s", diff)
			}
			if signIn("password123") != 401 || signIn("a-new-password") != 200 {
				t.Error("the password was not replaced")
			}
			if b.session() != nil {
				t.Error("the session survived the reset")
			}
			if !e.user("ada@example.com").EmailVerified {
				t.Error("a reset by code did not verify the address")
			}
			if diff := cmp.Diff(invalidOTP, reset(code, "another-password")); diff != "" {
				t.Errorf("the code again (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResetPasswordEdges: an unknown email gets no mail and no reset;
// KeepSessionsOnPasswordReset keeps the sessions of a verified user; a
// squatter's sessions end whatever the option, since the reset hands the
// unverified account to the mailbox.
func TestResetPasswordEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: emailotp.Options{KeepSessionsOnPasswordReset: true}})
	if r := e.anon().do("POST", "/api/auth/email-otp/request-password-reset", map[string]any{"email": "nobody@example.com"}); r.status != 200 {
		t.Fatalf("request: %d", r.status)
	}
	if m := e.mails("nobody@example.com", ""); len(m) != 0 {
		t.Errorf("%d mails to an unknown email", len(m))
	}
	stored, _, _ := strings.Cut(e.row("nobody@example.com", emailotp.TypeForgetPassword), ":")
	if diff := cmp.Diff(invalidOTP, ans(e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "nobody@example.com", "otp": wrongCode(stored), "password": "a-new-password"}))); diff != "" {
		t.Errorf("reset for an unknown email (-want +got):\n%s", diff)
	}
	// The code kept for it (mailed to nobody) sets no password for nobody.
	if diff := cmp.Diff(errAnswer(400, "USER_NOT_FOUND", "User not found"), ans(e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "nobody@example.com", "otp": stored, "password": "a-new-password"}))); diff != "" {
		t.Errorf("reset for an unknown email with its unsent code (-want +got):\n%s", diff)
	}
	if e.user("nobody@example.com") != nil || e.count(plugin.TableAccount) != 0 {
		t.Error("a reset for an unknown email wrote something")
	}

	squatter := e.signUp("victim@example.com", "squatter-password")
	code := e.code("victim@example.com", emailotp.TypeForgetPassword)
	if r := e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "victim@example.com", "otp": code, "password": "victims-password"}); r.status != 200 {
		t.Fatalf("victim's reset: %d %s", r.status, r.raw)
	}
	if squatter.session() != nil {
		t.Error("the squatter's session survived the owner's reset")
	}
	owner := e.browser()
	if r := owner.do("POST", "/api/auth/sign-in/email", map[string]any{"email": "victim@example.com", "password": "victims-password"}); r.status != 200 {
		t.Fatalf("sign-in: %d", r.status)
	}
	code = e.code("victim@example.com", emailotp.TypeForgetPassword)
	if r := e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "victim@example.com", "otp": code, "password": "another-password"}); r.status != 200 {
		t.Fatalf("second reset: %d %s", r.status, r.raw)
	}
	if owner.session() == nil {
		t.Error("KeepSessionsOnPasswordReset: the verified user's session ended")
	}
}

// TestBadInput: text no database stores (NUL) and oversized values are a
// 4xx on every route, on SQLite and PostgreSQL, and a refusal before the
// code is used leaves it valid.
func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: kind})
			e.signUp("ada@example.com", "password123")
			code := e.code("new@example.com", emailotp.TypeSignIn)
			nul := "a\x00b"
			for _, tc := range []struct {
				name, path string
				body       map[string]any
				want       string
			}{
				{"send, NUL email", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada\x00@example.com", "type": "sign-in"}, "INVALID_EMAIL"},
				{"send, NUL type", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ada@example.com", "type": "sign-in\x00"}, "VALIDATION_ERROR"},
				{"send, replacement character", "/api/auth/email-otp/send-verification-otp", map[string]any{"email": "ad\ufffd@example.com", "type": "sign-in"}, "INVALID_EMAIL"},
				{"reset request, NUL", "/api/auth/email-otp/request-password-reset", map[string]any{"email": nul}, "INVALID_EMAIL"},
				{"alias, NUL", "/api/auth/forget-password/email-otp", map[string]any{"email": nul}, "INVALID_EMAIL"},
				{"check, NUL email", "/api/auth/email-otp/check-verification-otp", map[string]any{"email": nul, "type": "sign-in", "otp": code}, "INVALID_EMAIL"},
				{"check, NUL code", "/api/auth/email-otp/check-verification-otp", map[string]any{"email": "ada@example.com", "type": "sign-in", "otp": nul}, "INVALID_OTP"},
				{"sign-in, NUL email", "/api/auth/sign-in/email-otp", map[string]any{"email": "new\x00@example.com", "otp": code}, "INVALID_OTP"},
				{"sign-in, NUL name", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code, "name": nul}, "INVALID_NAME"},
				{"sign-in, NUL image", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code, "image": "https://x/" + nul}, "INVALID_IMAGE"},
				{"sign-in, long image", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code, "image": "https://x/" + strings.Repeat("a", 2048)}, "INVALID_IMAGE"},
				{"sign-in, long name", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code, "name": strings.Repeat("n", 300)}, "INVALID_NAME"},
				{"sign-in, name not a string", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code, "name": 7}, "VALIDATION_ERROR"},
				{"sign-in, code not a string", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": 123456}, "VALIDATION_ERROR"},
				{"verify-email, NUL email", "/api/auth/email-otp/verify-email", map[string]any{"email": nul, "otp": "123456"}, "INVALID_EMAIL"},
				{"reset, NUL email", "/api/auth/email-otp/reset-password", map[string]any{"email": nul, "otp": "123456", "password": "a-new-password"}, "INVALID_OTP"},
				{"reset, huge code", "/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": strings.Repeat("9", 10000), "password": "a-new-password"}, "INVALID_OTP"},
				{"change-email, NUL", "/api/auth/email-otp/change-email", map[string]any{"newEmail": nul, "otp": nul}, "UNAUTHORIZED"},
			} {
				r := e.anon().do("POST", tc.path, tc.body)
				if r.status < 400 || r.status >= 500 || r.code() != tc.want {
					t.Errorf("%s: %d %s, want a 4xx %s", tc.name, r.status, r.raw, tc.want)
				}
			}
			// Go callers can pass what JSON cannot carry: invalid UTF-8.
			ctx := context.Background()
			bad := "\xff\xfe"
			img := "https://x/" + bad
			for _, tc := range []struct {
				name string
				err  error
				want string
			}{
				{"SignIn, email", func() error {
					_, err := e.p.SignIn(ctx, emailotp.SignInInput{Email: bad + "@example.com", OTP: code})
					return err
				}(), "INVALID_OTP"},
				{"SignIn, name", func() error {
					_, err := e.p.SignIn(ctx, emailotp.SignInInput{Email: "new@example.com", OTP: code, Name: bad})
					return err
				}(), "INVALID_NAME"},
				{"SignIn, image", func() error {
					_, err := e.p.SignIn(ctx, emailotp.SignInInput{Email: "new@example.com", OTP: code, Image: &img})
					return err
				}(), "INVALID_IMAGE"},
				{"SendVerificationOTP, type", e.p.SendVerificationOTP(ctx, "ada@example.com", emailotp.Type("sign-in\x00")), ""},
				{"CheckVerificationOTP, code", e.p.CheckVerificationOTP(ctx, "ada@example.com", emailotp.TypeSignIn, bad), "INVALID_OTP"},
				{"VerifyEmail, email", func() error { _, err := e.p.VerifyEmail(ctx, bad, "123456", nil); return err }(), "INVALID_EMAIL"},
				{"ResetPassword, email", e.p.ResetPassword(ctx, "\x00@example.com", "123456", "a-new-password"), "INVALID_OTP"},
				{"RequestPasswordReset, email", e.p.RequestPasswordReset(ctx, bad), "INVALID_EMAIL"},
			} {
				ae := plugin.AsError(tc.err)
				if ae == nil || ae.Status != 400 || ae.Code != tc.want {
					t.Errorf("%s: %v, want a 400 %s", tc.name, tc.err, tc.want)
				}
			}
			if got := e.row("new@example.com", emailotp.TypeSignIn); got != code+":0" {
				t.Errorf("the code's row is %q after refused input, want it untouched", got)
			}
			if n := e.count(plugin.TableUser); n != 1 {
				t.Errorf("%d users, want 1", n)
			}
			if r := e.anon().do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "new@example.com", "otp": code, "name": "Nova"}); r.status != 200 {
				t.Errorf("the code after refused input: %d %s", r.status, r.raw)
			}
		})
	}
}

// TestLoginCSRF: the routes that sign in (or send a sign-in code) refuse
// a cross-site navigation and a foreign origin, as Better Auth's sign-in
// routes do.
func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, path := range []string{"/api/auth/email-otp/send-verification-otp", "/api/auth/sign-in/email-otp", "/api/auth/email-otp/verify-email"} {
		body := map[string]any{"email": "ada@example.com", "type": "sign-in", "otp": "123456"}
		b := e.anon()
		b.hdr.Set("Sec-Fetch-Site", "cross-site")
		b.hdr.Set("Sec-Fetch-Mode", "navigate")
		if r := b.do("POST", path, body); r.status != 403 || r.code() != "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED" {
			t.Errorf("%s, cross-site navigation: %d %s", path, r.status, r.raw)
		}
		b = e.anon()
		b.hdr.Set("Origin", "https://evil.example.com")
		if r := b.do("POST", path, body); r.status != 403 || r.code() != "INVALID_ORIGIN" {
			t.Errorf("%s, foreign origin: %d %s", path, r.status, r.raw)
		}
	}
	if m := e.mails("ada@example.com", ""); len(m) != 0 {
		t.Errorf("%d codes sent for refused requests", len(m))
	}
}

// TestRateLimit: each route allows 3 requests per minute per client.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{authCfg: func(c *auth.Config) { c.RateLimit.Disabled = false }})
	for _, path := range []string{"/api/auth/email-otp/send-verification-otp", "/api/auth/sign-in/email-otp", "/api/auth/email-otp/reset-password"} {
		var got []int
		for range 4 {
			got = append(got, e.anon().do("POST", path, map[string]any{"email": "ada@example.com", "type": "sign-in", "otp": "1", "password": "p"}).status)
		}
		if got[3] != http.StatusTooManyRequests || got[2] == http.StatusTooManyRequests {
			t.Errorf("%s: statuses %v, want the 4th refused", path, got)
		}
		e.clock.Advance(time.Minute)
		if s := e.anon().do("POST", path, map[string]any{"email": "ada@example.com", "type": "sign-in", "otp": "1", "password": "p"}).status; s == http.StatusTooManyRequests {
			t.Errorf("%s: still refused after a minute", path)
		}
	}
	want := map[string]bool{}
	for path, r := range e.p.RateLimits() {
		if r.Window != time.Minute || r.Max != 3 {
			t.Errorf("%s: %+v", path, r)
		}
		want[path] = true
	}
	if len(want) != 9 {
		t.Errorf("%d rules, want one per route (9)", len(want))
	}
}

// interrupter is a second-factor stand-in: it interrupts every sign-in by
// code.
type interrupter struct{}

func (interrupter) ID() string { return "interrupter" }
func (interrupter) Hooks() plugin.Hooks {
	return plugin.Hooks{BeforeSessionCreate: func(ctx context.Context, _ *plugin.Session, _ *plugin.User) error {
		if plugin.SignInMethod(ctx) == "email-otp" {
			return &plugin.Interruption{Reason: "two-factor", Body: map[string]any{"twoFactorRedirect": true}}
		}
		return nil
	}}
}

// TestSecondFactor: a sign-in by code (and the auto sign-in after
// verify-email) meets the second factor: no session, the interruption's
// answer; the code is used.
func TestSecondFactor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{plugins: []auth.Plugin{interrupter{}}, opts: emailotp.Options{AutoSignInAfterVerification: true}})
	if err := e.a.Host().CreateUser(context.Background(), &plugin.User{Email: "ada@example.com", EmailVerified: true}, nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range uses[:2] {
		code := e.code("ada@example.com", u.typ)
		r := e.anon().do("POST", u.path, u.body("ada@example.com", code))
		if diff := cmp.Diff(answer{200, map[string]any{"twoFactorRedirect": true}}, ans(r)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", u.name, diff)
		}
		if strings.Contains(r.header.Get("Set-Cookie"), "session_token=") {
			t.Errorf("%s: a session cookie was set", u.name)
		}
		if diff := cmp.Diff(invalidOTP, ans(e.anon().do("POST", u.path, u.body("ada@example.com", code)))); diff != "" {
			t.Errorf("%s, the code again (-want +got):\n%s", u.name, diff)
		}
	}
	if n := e.count(plugin.TableSession); n != 0 {
		t.Errorf("%d sessions, want none", n)
	}
}

// TestStoreOTP: hashed and encrypted codes never sit in the database as
// they were mailed, and work.
func TestStoreOTP(t *testing.T) {
	t.Parallel()
	for _, s := range []emailotp.Options{{StoreOTP: emailotp.StoreHashed}, {StoreOTP: emailotp.StoreEncrypted, OTPLength: 8}} {
		t.Run(string(s.StoreOTP), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{opts: s})
			code := e.code("ada@example.com", emailotp.TypeSignIn)
			if row := e.row("ada@example.com", emailotp.TypeSignIn); strings.Contains(row, code) || !strings.HasSuffix(row, ":0") {
				t.Errorf("row %q holds the code %s", row, code)
			}
			if len(code) != max(s.OTPLength, 6) {
				t.Errorf("code %q", code)
			}
			if r := e.anon().do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": "ada@example.com", "otp": code}); r.status != 200 {
				t.Errorf("sign-in: %d %s", r.status, r.raw)
			}
		})
	}
}

// TestBetterAuthRows: codes a Better Auth server wrote (plain,
// "<code>:<attempts>") are honoured with their attempts.
func TestBetterAuthRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	h := e.a.Host()
	ctx := context.Background()
	if err := h.CreateVerification(ctx, "sign-in-otp-ada@example.com", "482913:1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := h.CreateVerification(ctx, "sign-in-otp-bob@example.com", "570142:2", time.Minute); err != nil {
		t.Fatal(err)
	}
	signIn := func(email, code string) answer {
		return ans(e.anon().do("POST", "/api/auth/sign-in/email-otp", map[string]any{"email": email, "otp": code}))
	}
	if r := signIn("ada@example.com", "482913"); r.Status != 200 {
		t.Errorf("ada: %+v", r)
	}
	got := []answer{signIn("bob@example.com", "000000"), signIn("bob@example.com", "570142")}
	if diff := cmp.Diff([]answer{invalidOTP, tooManyAttempts}, got); diff != "" {
		t.Errorf("bob (-want +got):\n%s", diff)
	}
}

// TestDataSource: the export lists a user's pending codes (never the
// codes); deleting the user deletes them.
func TestDataSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: emailotp.Options{SendVerificationOnSignUp: true}, authCfg: func(c *auth.Config) { c.User.DeleteEnabled = true }})
	e.signUp("ada@example.com", "password123")
	code := e.code("ada@example.com", emailotp.TypeForgetPassword)
	e.anon().do("POST", "/api/auth/email-otp/reset-password", map[string]any{"email": "ada@example.com", "otp": wrongCode(code), "password": "a-new-password"})
	u := e.user("ada@example.com")
	out, err := e.a.ExportUser(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	exp := e.clock.Now().Add(5 * time.Minute)
	want := emailotp.Export{PendingCodes: []emailotp.ExportCode{
		{Type: emailotp.TypeEmailVerification, ExpiresAt: plugin.FormatTime(exp)},
		{Type: emailotp.TypeForgetPassword, ExpiresAt: plugin.FormatTime(exp), FailedAttempts: 1},
	}}
	if diff := cmp.Diff(want, out["email-otp"]); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
	if err := e.a.DeleteUser(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.count(plugin.TableVerification, storage.Where{Field: "identifier", Op: storage.Contains, Value: "ada@example.com"}); n != 0 {
		t.Errorf("%d rows of the deleted user's address left", n)
	}
}
