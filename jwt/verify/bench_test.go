package verify

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Benchmarks: raw Ed25519 against Verify and Middleware over the same
// token (the jwt plugin's default claims). Goal: Verify within 1.3x of
// ed25519.Verify. The go-jose one shows what the compact-JWS fast path
// saves.
//
//	go test -run x -bench . -benchmem ./jwt/verify/

type benchFixture struct {
	token string
	pub   ed25519.PublicKey
	input []byte // the token's signing input
	sig   []byte
	jwks  []byte
}

const benchIssuer = "https://auth.example.com"

func newBenchFixture(b *testing.B) *benchFixture {
	b.Helper()
	key := testKey(7)
	kid := "kDmTfBWOUqmQsWVyjFhwWAvh7uRp1TPX" // an id as the plugin makes them
	now := time.Now().Unix()
	// The plugin's default payload, in its order.
	claims := `{"sub":"MNU0Wt2qHaDdmBoGvTTSmiPzhXBSYB0S","email":"jay@example.com","role":"user",` +
		`"sid":"d1jKK6dO2mJUwNPw2RcUL3VbHA3oLbKJ","iat":` + strconv.FormatInt(now, 10) + `,"exp":` + strconv.FormatInt(now+900, 10) +
		`,"iss":"` + benchIssuer + `","aud":"` + benchIssuer + `"}`
	tok := makeToken(b, key, map[string]any{"alg": "EdDSA", "kid": kid}, claims)
	i := strings.LastIndexByte(tok, '.')
	sig, _ := b64.DecodeString(tok[i+1:])
	pub := key.Public().(ed25519.PublicKey)
	return &benchFixture{token: tok, pub: pub, input: []byte(tok[:i]), sig: sig,
		jwks: jwksDoc(map[string]ed25519.PublicKey{kid: pub})}
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
	v, err := New(srv.URL, WithIssuer(benchIssuer), WithAudience(benchIssuer))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), f.token); err != nil {
		b.Fatal(err)
	}
	return v
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
