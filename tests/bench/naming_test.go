package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
)

// BenchmarkNaming measures get-session and sign-in (with the trivial
// hasher, so that the storage cost shows) on one adapter with Better
// Auth's default names ("default"), under a storage.Naming ("named":
// plural tables, every column in snake_case) and, on PostgreSQL, under
// that naming with the admin plugin's user.role in an enum column
// ("enum": written cast to it, read as text), in the same run, twice each
// in turn, so that a drift of the machine during the run does not favour
// one mode. The admin plugin is installed in both, so that the
// tables differ only in their names.
//
//	go test -run x -bench Naming -benchmem -count 6 ./tests/bench/
func BenchmarkNaming(b *testing.B) {
	for _, ad := range adapters {
		if ad.name == "memory" {
			continue // names do not reach it
		}
		for _, mode := range []string{"default", "named", "enum", "default", "named", "enum"} {
			if mode == "enum" && ad.name != "postgres" {
				continue
			}
			b.Run(ad.name+"/"+mode, func(b *testing.B) {
				db := ad.open(b)
				h := newNamedAuth(b, db, mode)
				email, cookie := signUp(b, h)
				b.Run("GetSession", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, getSessionRequest(cookie))
						if rec.Code != http.StatusOK || rec.Body.Len() < 10 {
							b.Fatalf("get-session: %d %s", rec.Code, rec.Body.String())
						}
					}
				})
				b.Run("SignIn", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						rec := httptest.NewRecorder()
						h.ServeHTTP(rec, signInRequest(email))
						if rec.Code != http.StatusOK {
							b.Fatalf("sign-in: %d %s", rec.Code, rec.Body.String())
						}
					}
				})
			})
		}
	}
}

// TestNamingBenchSetup checks what BenchmarkNaming measures: the named
// database holds the mapped tables, and both answer alike.
func TestNamingBenchSetup(t *testing.T) {
	for _, ad := range adapters {
		if ad.name == "memory" {
			continue
		}
		t.Run(ad.name, func(t *testing.T) {
			db := ad.open(t)
			h := newNamedAuth(t, db, "enum")
			email, cookie := signUp(t, h)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, getSessionRequest(cookie))
			var got struct {
				User struct {
					Email string  `json:"email"`
					Role  *string `json:"role"`
				} `json:"user"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.User.Email != email || got.User.Role == nil || *got.User.Role != "user" {
				t.Fatalf("get-session: %d %s", rec.Code, rec.Body.String())
			}
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, signInRequest(email))
			if rec.Code != http.StatusOK {
				t.Fatalf("sign-in: %d %s", rec.Code, rec.Body.String())
			}
			if pg, ok := db.(*postgres.Adapter); ok {
				var typ string
				if err := testpg.Conn(t).QueryRow(context.Background(), `SELECT format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = $1::regclass AND attname = 'role'`, `"`+pg.SchemaName()+`"."users"`).Scan(&typ); err != nil || typ != pg.SchemaName()+".user_role" {
					t.Errorf("users.role is %q, %v", typ, err)
				}
			}
		})
	}
}

// newNamedAuth builds a migrated Auth with the admin plugin over db, with
// the default names, under the benchmark's naming ("named") or under it
// with user.role in an enum column on PostgreSQL ("enum").
func newNamedAuth(tb testing.TB, db storage.Adapter, mode string) http.Handler {
	tb.Helper()
	ad, err := admin.New(admin.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := auth.Config{
		BaseURL:   benchBaseURL,
		Secret:    benchSecret,
		Hasher:    plainHasher{},
		RateLimit: auth.RateLimitConfig{Disabled: true},
		Logger:    slog.New(slog.DiscardHandler),
	}
	if mode != "default" {
		probe, err := auth.New(cfg, memory.New(), ad)
		if err != nil {
			tb.Fatal(err)
		}
		n := storage.Naming{Plural: true, Fields: map[string]map[string]string{}}
		for _, t := range probe.Schema().Tables {
			n.Fields[t.Name] = map[string]string{}
			for _, f := range t.Fields {
				n.Fields[t.Name][f.Name] = storage.SnakeCase(f.Name)
			}
		}
		if pg, ok := db.(*postgres.Adapter); ok && mode == "enum" {
			sch := pg.SchemaName()
			if _, err := pg.Pool().Exec(context.Background(), `CREATE SCHEMA IF NOT EXISTS "`+sch+`";
CREATE TYPE "`+sch+`".user_role AS ENUM ('user', 'admin')`); err != nil {
				tb.Fatal(err)
			}
			n.Types = map[string]map[string]string{"user": {"role": sch + ".user_role"}}
		}
		cfg.Naming = n
	}
	a, err := auth.New(cfg, db, ad)
	if err != nil {
		tb.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if err := a.CheckSchema(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return a.Handler()
}

func signInRequest(email string) *http.Request {
	body, _ := json.Marshal(map[string]string{"email": email, "password": benchPassword})
	req := httptest.NewRequest(http.MethodPost, benchBaseURL+"/api/auth/sign-in/email", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", benchBaseURL)
	return req
}
