package jwt

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/memory"
)

// Benchmarks: raw Ed25519 against our Mint / Verify / Middleware over the
// same token (default claims). Goal: Mint within 1.3x of ed25519.Sign and
// Verify within 1.3x of ed25519.Verify. The go-jose ones show what the
// compact-JWS fast path saves.
//
//	go test -run x -bench . -benchmem ./jwt/

type benchFixture struct {
	p     *Plugin
	sd    *auth.SessionData
	token string
	priv  ed25519.PrivateKey
	pub   ed25519.PublicKey
	input []byte // the token's signing input
	sig   []byte
	jwks  []byte
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
		Session: &auth.Session{ID: auth.NewID(), Token: auth.NewID(), UserID: "u", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)},
		User:    &auth.User{ID: auth.NewID(), Name: "Jay Doe", Email: "jay@example.com", CreatedAt: now, UpdatedAt: now},
	}
	ctx := context.Background()
	tok, err := p.Mint(ctx, sd)
	if err != nil {
		b.Fatal(err)
	}
	jwks, err := p.JWKS(ctx)
	if err != nil {
		b.Fatal(err)
	}
	c := p.cache.Load()
	i := strings.LastIndexByte(tok, '.')
	sig, _ := b64.DecodeString(tok[i+1:])
	return &benchFixture{p: p, sd: sd, token: tok, priv: c.signer.priv, pub: c.signer.priv.Public().(ed25519.PublicKey),
		input: []byte(tok[:i]), sig: sig, jwks: jwks}
}

// remoteVerifier returns a Verifier over an httptest JWKS server, with the
// key set already fetched (the steady state).
func (f *benchFixture) remoteVerifier(b *testing.B) *Verifier {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(f.jwks)
	}))
	b.Cleanup(srv.Close)
	v, err := NewVerifier(srv.URL, WithIssuer("https://auth.example.com"), WithAudience("https://auth.example.com"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), f.token); err != nil {
		b.Fatal(err)
	}
	return v
}

func BenchmarkEd25519Sign(b *testing.B) {
	f := newBenchFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		ed25519.Sign(f.priv, f.input)
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	f := newBenchFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(f.pub, f.input, f.sig) {
			b.Fatal("bad signature")
		}
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

func BenchmarkVerify(b *testing.B) {
	f := newBenchFixture(b)
	v := f.remoteVerifier(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, f.token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMiddleware(b *testing.B) {
	f := newBenchFixture(b)
	h := Middleware(f.remoteVerifier(b), MiddlewareOptions{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ClaimsFrom(r.Context()) == nil {
			b.Fatal("no claims")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatal(rec.Code)
		}
	}
}

// For comparison: the same work through go-jose's generic JWS API.
func BenchmarkGoJoseSign(b *testing.B) {
	f := newBenchFixture(b)
	payload, _ := b64.DecodeString(strings.Split(f.token, ".")[1])
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

func BenchmarkGoJoseVerify(b *testing.B) {
	f := newBenchFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		o, err := jose.ParseSignedCompact(f.token, []jose.SignatureAlgorithm{jose.EdDSA})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := o.Verify(f.pub); err != nil {
			b.Fatal(err)
		}
	}
}
