package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// BenchmarkHandler measures the server's own cost per request (the
// middleware chain, routing, the handler and its storage) on the default
// SQLite storage, without the network: the load tool measures the rest.
//
//	go test -run '^$' -bench Handler -benchmem ./server/
func BenchmarkHandler(b *testing.B) {
	ctx := context.Background()
	cfg := Config{
		BaseURL: "http://localhost:3001", Secret: "a-benchmark-secret-of-enough-length!!",
		AutoMigrate: true, JWTAudience: "mana", DataDir: b.TempDir(),
		TrustedProxies: []string{"127.0.0.1"},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(ctx, cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	h := testPasswordHash()
	u := &auth.User{Name: "bench", Email: "bench@example.com", EmailVerified: true}
	if err := s.auth.Host().CreateUser(ctx, u, &plugin.Account{ID: plugin.NewID(), ProviderID: plugin.CredentialProvider, Password: &h}); err != nil {
		b.Fatal(err)
	}
	res, err := s.auth.Host().CreateSession(ctx, u, true)
	if err != nil {
		b.Fatal(err)
	}
	jwt, err := s.jwt.Mint(ctx, &auth.SessionData{Session: res.Session, User: u})
	if err != nil {
		b.Fatal(err)
	}
	handler := s.Handler()
	validate := []byte(`{"token":"` + jwt + `"}`)
	for _, bc := range []struct {
		name, method, path string
		body               []byte
		bearer             bool
		want               string
	}{
		{"ok", "GET", "/api/auth/ok", nil, false, `"ok":true`},
		{"token", "GET", "/api/auth/token", nil, true, `"token":"`},
		{"get-session", "GET", "/api/auth/get-session", nil, true, `"session":{`},
		{"v1-validate", "POST", "/api/v1/auth/validate", validate, false, `"valid":true`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				i := int(benchRequests.Add(1))
				var body io.Reader
				if bc.body != nil {
					body = bytes.NewReader(bc.body)
				}
				r := httptest.NewRequest(bc.method, bc.path, body)
				r.RemoteAddr = "127.0.0.1:40000"
				// A fresh client address every 50 requests (counted
				// over all runs, -count included) keeps the rate
				// limiter working but never refusing.
				r.Header.Set("X-Forwarded-For", "10.0."+itoa(i/50/250%250)+"."+itoa(i/50%250))
				if bc.body != nil {
					r.Header.Set("Content-Type", "application/json")
				}
				if bc.bearer {
					r.Header.Set("Authorization", "Bearer "+res.Token())
				}
				w := httptest.NewRecorder()
				handler.ServeHTTP(w, r)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), bc.want) {
					b.Fatalf("%s: %d %s", bc.name, w.Code, w.Body.String())
				}
			}
		})
	}
}

// benchRequests numbers BenchmarkHandler's requests across its runs.
var benchRequests atomic.Int64

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
