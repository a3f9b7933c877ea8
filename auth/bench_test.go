package auth_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
)

// BenchmarkGetSession: GET /get-session with a valid cookie, memory
// adapter, the handler called directly.
// BenchmarkGetSession: GET /get-session with the session cookies, read
// from the database (memory adapter) or answered from the cookie cache.
func BenchmarkGetSession(b *testing.B) {
	for _, bc := range []struct {
		name     string
		strategy auth.CookieCacheStrategy // "" is the cache off
	}{
		{"db", ""},
		{"cache-compact", auth.CookieCacheCompact},
		{"cache-jwt", auth.CookieCacheJWT},
		{"cache-jwe", auth.CookieCacheJWE},
	} {
		b.Run(bc.name, func(b *testing.B) {
			a := newAuth(b, func(c *auth.Config) {
				if bc.strategy != "" {
					c.Session.CookieCache = auth.CookieCacheConfig{Enabled: true, Strategy: bc.strategy}
				}
			})
			res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "B", Email: "bench@example.com", Password: "password-123"})
			if err != nil {
				b.Fatal(err)
			}
			cookie := cookieHeader(res.Cookies)
			if want := bc.strategy != ""; strings.Contains(cookie, "session_data=") != want {
				b.Fatalf("cookies %q: want the cache cookie: %v", cookie, want)
			}
			h := a.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r := httptest.NewRequest("GET", "/api/auth/get-session", nil)
				r.Header.Set("Cookie", cookie)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 || w.Body.Len() < 100 {
					b.Fatalf("get-session: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkSignIn: POST /sign-in/email with the real scrypt hasher; the
// hash dominates.
func BenchmarkSignIn(b *testing.B) {
	a := newAuth(b, func(c *auth.Config) { c.Hasher = auth.ScryptHasher{} })
	if _, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "B", Email: "bench@example.com", Password: "password-123"}); err != nil {
		b.Fatal(err)
	}
	h := a.Handler()
	const body = `{"email":"bench@example.com","password":"password-123"}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("POST", "/api/auth/sign-in/email", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("sign-in: %d %s", w.Code, w.Body)
		}
	}
}

// slowMailer takes as long as a real SMTP exchange (the audit measured
// about 100 ms) and keeps nothing.
type slowMailer struct{}

func (slowMailer) SendEmail(ctx context.Context, _ auth.Email) error {
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
	return nil
}

// BenchmarkSignUpTakenOrNew: POST /sign-up/email with email verification
// required, the real scrypt hasher and a mailer as slow as SMTP, for a new
// address and for a taken one. The two should cost the same: the mail
// leaves in the background and a taken address runs the same statements.
func BenchmarkSignUpTakenOrNew(b *testing.B) {
	for _, taken := range []bool{false, true} {
		name := "new"
		if taken {
			name = "taken"
		}
		b.Run(name, func(b *testing.B) {
			a := newAuth(b, func(c *auth.Config) {
				c.Hasher = auth.ScryptHasher{}
				c.Mailer = slowMailer{}
				c.EmailPassword.RequireEmailVerification = true
			})
			if taken {
				if _, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "B", Email: "taken@example.com", Password: "password-123"}); err != nil {
					b.Fatal(err)
				}
			}
			h := a.Handler()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				email := fmt.Sprintf("new-%d@example.com", i)
				if taken {
					email = "taken@example.com"
				}
				r := httptest.NewRequest("POST", "/api/auth/sign-up/email",
					strings.NewReader(`{"name":"B","email":"`+email+`","password":"password-123"}`))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("sign-up: %d %s", w.Code, w.Body)
				}
			}
			b.StopTimer()
			_ = a.Shutdown(context.Background())
		})
	}
}
