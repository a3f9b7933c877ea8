package jwt

import (
	"context"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage/memory"
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
	return &benchFixture{p: p, sd: sd, token: tok, priv: p.cache.Load().signer.priv, input: []byte(tok[:i])}
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
