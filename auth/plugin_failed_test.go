package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage/memory"
)

// failWatch observes refused sign-ins through a Failed hook.
type failWatch struct {
	mu    sync.Mutex
	codes []string
	paths []string
}

func (w *failWatch) ID() string { return "fail-watch" }
func (w *failWatch) Hooks() plugin.Hooks {
	return plugin.Hooks{Failed: []plugin.Hook{{
		Match: plugin.PathIs("/sign-in/email"),
		Handler: func(c *plugin.Context) error {
			w.mu.Lock()
			defer w.mu.Unlock()
			var e *auth.Error
			if errors.As(c.Err(), &e) {
				w.codes = append(w.codes, e.Code)
			}
			w.paths = append(w.paths, c.Path()+" "+c.String("email"))
			return errors.New("ignored")
		},
	}}}
}

func TestFailedHooks(t *testing.T) {
	t.Parallel()
	w := &failWatch{}
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: "a-secret-that-is-long-enough-for-tests",
		Hasher: auth.Argon2idHasher{Memory: 64, Time: 1}, RateLimit: auth.RateLimitConfig{Disabled: true}}, memory.New(), w)
	if err != nil {
		t.Fatal(err)
	}
	do := func(path, body string) int {
		req := httptest.NewRequest("POST", "http://localhost:3000/api/auth"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		return rec.Code
	}
	if st := do("/sign-up/email", `{"name":"F","email":"f@example.com","password":"password123"}`); st != http.StatusOK {
		t.Fatalf("sign-up: %d", st)
	}
	if st := do("/sign-in/email", `{"email":"f@example.com","password":"wrong-password"}`); st != 401 {
		t.Fatalf("wrong password: %d", st)
	}
	if st := do("/sign-in/email", `{"email":"f@example.com","password":"password123"}`); st != 200 {
		t.Fatalf("sign-in: %d", st)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.codes) != 1 || w.codes[0] != "INVALID_EMAIL_OR_PASSWORD" || w.paths[0] != "/sign-in/email f@example.com" {
		t.Fatalf("failed hook saw %v %v, want one INVALID_EMAIL_OR_PASSWORD", w.codes, w.paths)
	}
}
