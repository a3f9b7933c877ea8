package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/storage/memory"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent logging.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Origin mistakes are loud: a refused CORS preflight and a request refused
// with INVALID_ORIGIN are logged at WARN with the origin and the trusted
// list; a browser script may read the Retry-After of a 429.
func TestOriginMistakesAreLoud(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	cfg := Config{BaseURL: "http://localhost:3001", Secret: "a-server-test-secret-of-enough-length", AutoMigrate: true,
		JWTAudience: "mana", DataDir: t.TempDir(), TrustedOrigins: []string{"http://localhost:5173"}}
	s, err := NewWithStorage(context.Background(), cfg, memory.New(), Deps{Mailer: &outbox{}},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	h := s.Handler()
	do := func(method, path, origin string, hdr ...string) http.Header {
		r, _ := http.NewRequest(method, path, strings.NewReader(`{}`))
		r.Header.Set("Origin", origin)
		r.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Result().Header
	}

	do("OPTIONS", "/api/auth/sign-in/email", "http://127.0.0.1:5173", "Access-Control-Request-Method", "POST")
	do("POST", "/api/auth/sign-out", "http://127.0.0.1:5173", "Cookie", "mana.session_token=x")
	out := logs.String()
	for _, want := range []string{
		`level=WARN msg="CORS preflight refused`, `origin=http://127.0.0.1:5173`,
		`level=WARN msg="auth: request refused: its origin is not trusted`,
		`http://localhost:5173`, // the trusted list
	} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}

	exposed := do("OPTIONS", "/api/auth/sign-in/email", "http://localhost:5173", "Access-Control-Request-Method", "POST").Get("Access-Control-Expose-Headers")
	for _, name := range []string{"set-auth-token", "Retry-After", "X-Retry-After"} {
		if !strings.Contains(exposed, name) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
		}
	}
}
