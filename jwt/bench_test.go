package jwt

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// Benchmarks: raw Ed25519 against Mint over the same token (default
// claims). Goal: Mint within 1.3x of ed25519.Sign. The go-jose one shows
// what the compact-JWS fast path saves. Verification is benchmarked in
// jwt/verify.
//
//	go test -run x -bench . -benchmem ./jwt/ ./jwt/verify/

type benchFixture struct {
	p     *Plugin
	sd    *auth.SessionData
	token string
	priv  ed25519.PrivateKey
	input []byte // the token's signing input
}

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	p := New(Options{})
	_, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: testSecret,
		RateLimit: auth.RateLimitConfig{Disabled: true}}, memory.New(), p)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	sd := &auth.SessionData{
		Session: &auth.Session{ID: plugin.NewID(), Token: plugin.NewID(), UserID: "u", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)},
		User:    &auth.User{ID: plugin.NewID(), Name: "Jay Doe", Email: "jay@example.com", CreatedAt: now, UpdatedAt: now},
	}
	tok, err := p.Mint(context.Background(), sd)
	if err != nil {
		b.Fatal(err)
	}
	i := strings.LastIndexByte(tok, '.')
	return &benchFixture{p: p, sd: sd, token: tok, priv: p.cache.Load().signerAt(time.Now()).priv, input: []byte(tok[:i])}
}

func BenchmarkEd25519Sign(b *testing.B) {
	f := newBenchFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(f.priv, f.input)
	}
}

func BenchmarkMint(b *testing.B) {
	f := newBenchFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.p.Mint(ctx, f.sd); err != nil {
			b.Fatal(err)
		}
	}
}

// For comparison: the same work through go-jose's generic JWS API.
func BenchmarkGoJoseSign(b *testing.B) {
	f := newBenchFixture(b)
	payload, _ := rawB64.DecodeString(strings.Split(f.token, ".")[1])
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: f.priv},
		(&jose.SignerOptions{}).WithHeader("kid", "k"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		o, err := signer.Sign(payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := o.CompactSerialize(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWKS: GET /jwks, as Plugin.JWKS and through the HTTP handler,
// over the memory adapter, SQLite (a file, as the server uses it) and
// PostgreSQL (TEST_DATABASE_URL; skipped when none answers).
func BenchmarkJWKS(b *testing.B) {
	for _, backend := range []string{"memory", "sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var db storage.Adapter = memory.New()
			switch backend {
			case "sqlite":
				s, err := sqlite.Open(b.Context(), sqlite.Options{Path: filepath.Join(b.TempDir(), "auth.db"),
					Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = s.Close() })
				db = s
			case "postgres":
				url, schema := testpg.Schema(b, "jwt_bench_")
				pg, err := postgres.Open(b.Context(), postgres.Options{URL: url, Schema: schema, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = pg.Close() })
				db = pg
			}
			p := New(Options{})
			a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: testSecret,
				RateLimit: auth.RateLimitConfig{Disabled: true}, Logger: slog.New(slog.DiscardHandler)}, db, p)
			if err != nil {
				b.Fatal(err)
			}
			if err := a.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := p.RotateKeys(ctx); err != nil { // a retired key and a current one
				b.Fatal(err)
			}
			b.Run("method", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.JWKS(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("http", func(b *testing.B) {
				h := a.Handler()
				req := httptest.NewRequest("GET", "https://auth.example.com/api/auth/jwks", nil)
				b.ReportAllocs()
				for b.Loop() {
					w := httptest.NewRecorder()
					h.ServeHTTP(w, req)
					if w.Code != 200 {
						b.Fatalf("%d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
