// Package bench_test measures the auth HTTP handler over each storage
// adapter (SQLite on a file, PostgreSQL; memory as a baseline for reads),
// calling the handler directly with httptest.NewRecorder:
//
//	BenchmarkGetSession     GET /api/auth/get-session with a valid cookie
//	BenchmarkSignUp         POST /api/auth/sign-up/email with the real
//	                        ScryptHasher (what a user waits for; the hash
//	                        dominates)
//	BenchmarkSignUpDBOnly   the same with a trivial Hasher, so that the
//	                        storage cost (user + account + session in one
//	                        transaction and the lookups before) is visible
//
// Rate limiting is off (it would refuse the loop, and it is not storage).
// PostgreSQL runs in a throwaway schema at TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable); without a server
// the PostgreSQL cases skip, unless CI=true.
//
//	go test -run x -bench . -benchmem -benchtime=2s ./tests/bench/
package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

const (
	benchSecret   = "mana-auth-bench-secret-0123456789abcdef"
	benchBaseURL  = "http://localhost:3000"
	benchPassword = "bench-password-123"
)

// plainHasher is a trivial auth.Hasher: it isolates the storage cost of a
// sign-up from scrypt. Never use anything like it outside a benchmark.
type plainHasher struct{}

func (plainHasher) Hash(password string) (string, error) { return "plain:" + password, nil }

func (plainHasher) Verify(hash, password string) (bool, error) {
	if !strings.HasPrefix(hash, "plain:") {
		return false, auth.ErrUnsupportedHash
	}
	return hash == "plain:"+password, nil
}

var _ auth.Hasher = plainHasher{}

// ---------------------------------------------------------------- adapters

// adapters are the storage backends measured; open returns a fresh, empty
// database that is removed when tb ends.
var adapters = []struct {
	name string
	open func(tb testing.TB) storage.Adapter
}{
	{"memory", func(tb testing.TB) storage.Adapter { return memory.New() }},
	{"sqlite", func(tb testing.TB) storage.Adapter {
		db, err := sqlite.Open(context.Background(), sqlite.Options{
			Path: filepath.Join(tb.TempDir(), "bench.db"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = db.Close() })
		return db
	}},
	{"postgres", func(tb testing.TB) storage.Adapter {
		schema := testpg.SchemaName(tb, "bench_")
		db, err := postgres.Open(context.Background(), postgres.Options{
			URL: testpg.URL(), Schema: schema, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = db.Close() }) // before the schema is dropped
		return db
	}},
}

// newAuth builds a migrated Auth over db with hasher (nil: ScryptHasher).
func newAuth(tb testing.TB, db storage.Adapter, hasher auth.Hasher) http.Handler {
	tb.Helper()
	a, err := auth.New(auth.Config{
		BaseURL:   benchBaseURL,
		Secret:    benchSecret,
		Hasher:    hasher,
		RateLimit: auth.RateLimitConfig{Disabled: true},
		Logger:    slog.New(slog.DiscardHandler),
	}, db)
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return a.Handler()
}

// ---------------------------------------------------------------- requests

var emailSeq atomic.Int64

func nextEmail() string { return fmt.Sprintf("bench-%d-%d@example.com", os.Getpid(), emailSeq.Add(1)) }

func signUpRequest(email string) *http.Request {
	body, _ := json.Marshal(map[string]string{"email": email, "password": benchPassword, "name": "Bench"})
	req := httptest.NewRequest(http.MethodPost, benchBaseURL+"/api/auth/sign-up/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", benchBaseURL)
	return req
}

// signUp signs a new user up and returns the session cookie.
func signUp(tb testing.TB, h http.Handler) (email, cookie string) {
	tb.Helper()
	email = nextEmail()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signUpRequest(email))
	if rec.Code != http.StatusOK {
		tb.Fatalf("sign-up: %d %s", rec.Code, rec.Body.String())
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "better-auth.session_token" {
			return email, c.Name + "=" + c.Value
		}
	}
	tb.Fatalf("sign-up set no session cookie: %v", rec.Result().Header["Set-Cookie"])
	return "", ""
}

func getSessionRequest(cookie string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, benchBaseURL+"/api/auth/get-session", nil)
	req.Header.Set("Cookie", cookie)
	return req
}

// TestBenchSetup runs each benchmark's set-up and one iteration as a test,
// so that `go test` (without -bench) checks that the benchmarks measure
// what they claim: a session that is found, sign-ups that succeed and store
// what the hasher made.
func TestBenchSetup(t *testing.T) {
	hashers := []struct {
		name   string
		hasher auth.Hasher
		prefix string
	}{
		{"scrypt", nil, ""},
		{"plain", plainHasher{}, "plain:"},
	}
	for _, ad := range adapters {
		for _, hs := range hashers {
			t.Run(ad.name+"/"+hs.name, func(t *testing.T) {
				db := ad.open(t)
				h := newAuth(t, db, hs.hasher)
				email, cookie := signUp(t, h)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, getSessionRequest(cookie))
				var got struct {
					User struct {
						Email string `json:"email"`
					} `json:"user"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
					t.Fatalf("get-session: %d %s (%v)", rec.Code, rec.Body.String(), err)
				}
				if diff := cmp.Diff(email, got.User.Email); diff != "" {
					t.Errorf("get-session user (-want +got):\n%s", diff)
				}
				u, err := db.FindOne(context.Background(), plugin.TableUser, storage.W("email", email))
				if err != nil {
					t.Fatal(err)
				}
				acc, err := db.FindOne(context.Background(), plugin.TableAccount, storage.W("userId", u.String("id")))
				if err != nil {
					t.Fatal(err)
				}
				pw := acc.String("password")
				if hs.prefix != "" && pw != hs.prefix+benchPassword {
					t.Errorf("stored hash %q, want the plain hasher's", pw)
				}
				if hs.prefix == "" && (strings.HasPrefix(pw, "plain:") || len(pw) != 32+1+128) {
					t.Errorf("stored hash %q, want scrypt's <saltHex>:<keyHex>", pw)
				}
			})
		}
	}
}

// ---------------------------------------------------------------- benchmarks

func BenchmarkGetSession(b *testing.B) {
	for _, ad := range adapters {
		b.Run(ad.name, func(b *testing.B) {
			h := newAuth(b, ad.open(b), plainHasher{})
			_, cookie := signUp(b, h)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, getSessionRequest(cookie))
				if rec.Code != http.StatusOK || rec.Body.Len() < 10 {
					b.Fatalf("get-session: %d %s", rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// benchSignUp signs a new user up per iteration. The memory adapter is left
// out: its writes copy the table (atomic statements), so its cost per
// sign-up grows with the number of users already signed up and ns/op would
// depend on b.N.
func benchSignUp(b *testing.B, hasher auth.Hasher) {
	for _, ad := range adapters {
		if ad.name == "memory" {
			continue
		}
		b.Run(ad.name, func(b *testing.B) {
			h := newAuth(b, ad.open(b), hasher)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, signUpRequest(nextEmail()))
				if rec.Code != http.StatusOK {
					b.Fatalf("sign-up: %d %s", rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// BenchmarkSignUp is a sign-up as users see it: scrypt (N=16384, r=16) plus
// the writes.
func BenchmarkSignUp(b *testing.B) { benchSignUp(b, nil) }

// BenchmarkSignUpDBOnly is a sign-up with a trivial Hasher: the storage
// cost alone (plus routing, JSON and cookie signing).
func BenchmarkSignUpDBOnly(b *testing.B) { benchSignUp(b, plainHasher{}) }
