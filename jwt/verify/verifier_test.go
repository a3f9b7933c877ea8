package verify

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/managarten/mana-auth/internal/testkit"
)

var (
	vKey   = testKey(1)
	vKid   = "key-1"
	vNow   = time.Unix(2_000_000_000, 0)
	vIss   = "https://auth.example.com"
	vClaim = map[string]any{"sub": "user-1", "email": "u@example.com", "role": "user", "sid": "sess-1",
		"iat": vNow.Unix(), "exp": vNow.Unix() + 900, "iss": vIss, "aud": vIss}
	vHead = map[string]any{"alg": "EdDSA", "kid": vKid}
)

func claimsWith(kv ...any) map[string]any {
	m := make(map[string]any, len(vClaim))
	for k, v := range vClaim {
		m[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

func staticVerifier(t testing.TB, opts ...Option) *Verifier {
	t.Helper()
	opts = append([]Option{WithNow(func() time.Time { return vNow }), WithIssuer(vIss), WithAudience(vIss)}, opts...)
	v, err := NewStatic(map[string]ed25519.PublicKey{vKid: vKey.Public().(ed25519.PublicKey)}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// hsToken signs with HMAC-SHA256 keyed by the Ed25519 public key bytes, the
// classic algorithm-confusion attack.
func hsToken(t *testing.T) string {
	h := encodeJSONSegment(t, map[string]any{"alg": "HS256", "kid": vKid})
	p := encodeJSONSegment(t, vClaim)
	m := hmac.New(sha256.New, vKey.Public().(ed25519.PublicKey))
	m.Write([]byte(h + "." + p))
	return h + "." + p + "." + b64.EncodeToString(m.Sum(nil))
}

func rsToken(t *testing.T) string {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	h := encodeJSONSegment(t, map[string]any{"alg": "RS256", "kid": vKid})
	p := encodeJSONSegment(t, vClaim)
	d := sha256.Sum256([]byte(h + "." + p))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + p + "." + b64.EncodeToString(sig)
}

// TestVerifyRejects: each bad token fails with its error, never a panic.
func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	good := makeToken(t, vKey, vHead, vClaim)
	parts := strings.Split(good, ".")
	attacker := testKey(99)
	flipSig := []byte(parts[2])
	flipSig[10] ^= 0x01 // 'A'..'z' stay base64url letters
	tamperedPayload := encodeJSONSegment(t, claimsWith("sub", "admin"))

	tests := []struct {
		name  string
		token string
		opts  []Option
		want  error // nil: accepted
	}{
		{"valid", good, nil, nil},
		{"alg Ed25519 (RFC 9864)", makeToken(t, vKey, map[string]any{"alg": "Ed25519", "kid": vKid}, vClaim), nil, nil},
		{"aud array containing ours", makeToken(t, vKey, vHead, claimsWith("aud", []any{"other", vIss})), nil, nil},
		{"exp within leeway", makeToken(t, vKey, vHead, claimsWith("exp", vNow.Unix()-29)), nil, nil},
		{"nbf within leeway", makeToken(t, vKey, vHead, claimsWith("nbf", vNow.Unix()+29)), nil, nil},
		{"no iss/aud expected", makeToken(t, vKey, vHead, claimsWith("iss", nil, "aud", nil)), []Option{WithIssuer(""), WithAudience()}, nil},

		{"alg none", encodeJSONSegment(t, map[string]any{"alg": "none", "kid": vKid}) + "." + parts[1] + ".", nil, ErrBadAlgorithm},
		{"alg none signed", makeToken(t, vKey, map[string]any{"alg": "none", "kid": vKid}, vClaim), nil, ErrBadAlgorithm},
		{"HS256 keyed with the public key", hsToken(t), nil, ErrBadAlgorithm},
		{"RS256", rsToken(t), nil, ErrBadAlgorithm},
		{"ES256", makeToken(t, vKey, map[string]any{"alg": "ES256", "kid": vKid}, vClaim), nil, ErrBadAlgorithm},
		{"alg case variant", makeToken(t, vKey, map[string]any{"alg": "eddsa", "kid": vKid}, vClaim), nil, ErrBadAlgorithm},
		{"ALG member name", makeToken(t, vKey, map[string]any{"ALG": "EdDSA", "kid": vKid}, vClaim), nil, ErrBadAlgorithm},
		{"alg not a string", makeToken(t, vKey, map[string]any{"alg": 1, "kid": vKid}, vClaim), nil, ErrBadAlgorithm},
		{"no alg", makeToken(t, vKey, map[string]any{"kid": vKid}, vClaim), nil, ErrBadAlgorithm},
		{"unknown kid", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": "key-2"}, vClaim), nil, ErrUnknownKey},
		{"kid with path chars", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": "../../../etc/passwd"}, vClaim), nil, ErrUnknownKey},
		{"kid with spaces (SQL)", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": "x' OR '1'='1"}, vClaim), nil, ErrMalformed},
		{"kid with NUL", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": "key-1\x00"}, vClaim), nil, ErrMalformed},
		{"kid too long", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": strings.Repeat("k", 129)}, vClaim), nil, ErrMalformed},
		{"missing kid", makeToken(t, vKey, map[string]any{"alg": "EdDSA"}, vClaim), nil, ErrMissingKeyID},
		{"empty kid", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": ""}, vClaim), nil, ErrMissingKeyID},
		{"kid not a string", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": 7}, vClaim), nil, ErrMissingKeyID},
		{"embedded jwk ignored", makeToken(t, attacker, map[string]any{"alg": "EdDSA", "kid": vKid,
			"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": rawB64.EncodeToString(attacker.Public().(ed25519.PublicKey))}}, vClaim), nil, ErrInvalidSignature},
		{"jku ignored", makeToken(t, attacker, map[string]any{"alg": "EdDSA", "kid": vKid, "jku": "https://evil.example/jwks", "x5u": "https://evil.example/cert"}, vClaim), nil, ErrInvalidSignature},
		{"crit header", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": vKid, "crit": []string{"exp"}, "exp": 1}, vClaim), nil, ErrMalformed},
		{"b64 false", makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": vKid, "b64": false}, vClaim), nil, ErrMalformed},
		{"expired", makeToken(t, vKey, vHead, claimsWith("exp", vNow.Unix()-30)), nil, ErrTokenExpired},
		{"expired long ago", makeToken(t, vKey, vHead, claimsWith("exp", 1)), nil, ErrTokenExpired},
		{"nbf in the future", makeToken(t, vKey, vHead, claimsWith("nbf", vNow.Unix()+31)), nil, ErrTokenNotYetValid},
		{"leeway 0", makeToken(t, vKey, vHead, claimsWith("exp", vNow.Unix())), []Option{WithLeeway(0)}, ErrTokenExpired},
		{"missing exp", makeToken(t, vKey, vHead, claimsWith("exp", nil)), nil, ErrInvalidClaims},
		{"exp a string", makeToken(t, vKey, vHead, claimsWith("exp", "2099-01-01")), nil, ErrInvalidClaims},
		{"exp negative", makeToken(t, vKey, vHead, claimsWith("exp", -5)), nil, ErrInvalidClaims},
		{"exp huge", makeToken(t, vKey, vHead, claimsWith("exp", 1e300)), nil, ErrInvalidClaims},
		{"iat a string", makeToken(t, vKey, vHead, claimsWith("iat", "now")), nil, ErrInvalidClaims},
		{"missing sub", makeToken(t, vKey, vHead, claimsWith("sub", nil)), nil, ErrInvalidClaims},
		{"sub a number", makeToken(t, vKey, vHead, claimsWith("sub", 42)), nil, ErrInvalidClaims},
		{"wrong iss", makeToken(t, vKey, vHead, claimsWith("iss", "https://evil.example")), nil, ErrBadIssuer},
		{"missing iss", makeToken(t, vKey, vHead, claimsWith("iss", nil)), nil, ErrBadIssuer},
		{"wrong aud", makeToken(t, vKey, vHead, claimsWith("aud", "https://other.example")), nil, ErrBadAudience},
		{"missing aud", makeToken(t, vKey, vHead, claimsWith("aud", nil)), nil, ErrBadAudience},
		{"aud a number", makeToken(t, vKey, vHead, claimsWith("aud", 5)), nil, ErrInvalidClaims},
		{"aud array with a number", makeToken(t, vKey, vHead, claimsWith("aud", []any{vIss, 5})), nil, ErrInvalidClaims},
		{"tampered payload", parts[0] + "." + tamperedPayload + "." + parts[2], nil, ErrInvalidSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + string(flipSig), nil, ErrInvalidSignature},
		{"signed by another key", makeToken(t, attacker, vHead, vClaim), nil, ErrInvalidSignature},
		{"truncated signature", good[:len(good)-10], nil, ErrInvalidSignature},
		{"signature padded", good + "==", nil, ErrInvalidSignature},
		{"signature not base64url", parts[0] + "." + parts[1] + "." + strings.Repeat("+", 86), nil, ErrInvalidSignature},
		{"truncated to two parts", parts[0] + "." + parts[1], nil, ErrMalformed},
		{"truncated header", parts[0][:5], nil, ErrMalformed},
		{"four parts", good + ".x", nil, ErrMalformed},
		{"JWE-like five parts", "a.b.c.d.e", nil, ErrMalformed},
		{"empty", "", nil, ErrMalformed},
		{"dots only", "..", nil, ErrMalformed},
		{"header not base64url", "e30+." + parts[1] + "." + parts[2], nil, ErrMalformed},
		{"header not JSON", b64.EncodeToString([]byte("alg=EdDSA")) + "." + parts[1] + "." + parts[2], nil, ErrMalformed},
		{"header JSON array", b64.EncodeToString([]byte(`["EdDSA"]`)) + "." + parts[1] + "." + parts[2], nil, ErrMalformed},
		{"header JSON null", b64.EncodeToString([]byte(`null`)) + "." + parts[1] + "." + parts[2], nil, ErrMalformed},
		{"payload JSON array", makeToken(t, vKey, vHead, []any{1, 2}), nil, ErrMalformed},
		{"payload not JSON", makeToken(t, vKey, vHead, "not json"), nil, ErrMalformed},
		{"payload with trailing data", parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"a"} x`)) + "." + parts[2], nil, ErrInvalidSignature},
		{"oversized token", makeToken(t, vKey, vHead, claimsWith("pad", strings.Repeat("a", 8<<10))), nil, ErrTokenTooLarge},
		{"oversized garbage", strings.Repeat("A", 1<<20), nil, ErrTokenTooLarge},
		{"custom max size", good, []Option{WithMaxTokenSize(64)}, ErrTokenTooLarge},
	}
	// Each case runs on a fresh verifier and on one that has just
	// verified a good token (it then knows that token's header and skips
	// decoding it in tokens that share it): the answers must not differ.
	for _, warm := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s/warm=%v", tc.name, warm), func(t *testing.T) {
				t.Parallel()
				v := staticVerifier(t, tc.opts...)
				if warm {
					if _, err := staticVerifier(t).Verify(context.Background(), good); err != nil {
						t.Fatal(err)
					}
					if _, err := v.Verify(context.Background(), good); err != nil && tc.want == nil {
						t.Fatal(err)
					}
				}
				c, err := v.Verify(context.Background(), tc.token)
				if tc.want == nil {
					if err != nil || c == nil {
						t.Fatalf("Verify: %v", err)
					}
					return
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify: %v, want %v", err, tc.want)
				}
				var je *Error
				if !errors.As(err, &je) || je.Code == "" || je.Message == "" || c != nil {
					t.Errorf("error %#v, claims %v: want an *Error and no claims", err, c)
				}
			})
		}
	}
}

func TestConstructorsRefuse(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "/jwks", "ftp://x/jwks", "http://", "::"} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q): no error", u)
		}
	}
	if _, err := NewStatic(map[string]ed25519.PublicKey{"k": make([]byte, 31)}); err == nil {
		t.Error("NewStatic accepted a short key")
	}
	if _, err := NewKeyFunc(nil); err == nil {
		t.Error("NewKeyFunc accepted a nil KeyFunc")
	}
	var nilV *Verifier
	if _, err := nilV.Verify(context.Background(), "x"); !errors.Is(err, ErrKeySetUnavailable) {
		t.Errorf("nil verifier: %v, want ErrKeySetUnavailable", err)
	}
	if err := nilV.Refresh(context.Background()); err != nil {
		t.Errorf("nil verifier's Refresh: %v", err)
	}
}

// TestKeyFunc: whatever a KeyFunc answers, Verify's error is an *Error
// with a code: its own *Error as is, any other error as
// ErrKeySetUnavailable keeping the cause, no key as ErrUnknownKey, and a
// key of the wrong size (on which ed25519.Verify panics) as
// ErrKeySetUnavailable.
func TestKeyFunc(t *testing.T) {
	t.Parallel()
	good := makeToken(t, vKey, vHead, vClaim)
	cause := errors.New("database down")
	tests := []struct {
		name      string
		key       ed25519.PublicKey
		err       error
		want      error // nil: accepted
		wantCause error
	}{
		{name: "key", key: vPub[vKid]},
		{name: "no key", want: ErrUnknownKey},
		{name: "own verdict", err: ErrUnknownKey.with("gone", nil), want: ErrUnknownKey},
		{name: "wrapped verdict", err: fmt.Errorf("lookup: %w", ErrUnknownKey), want: ErrUnknownKey},
		{name: "plain error", err: cause, want: ErrKeySetUnavailable, wantCause: cause},
		{name: "context error", err: context.Canceled, want: ErrKeySetUnavailable, wantCause: context.Canceled},
		{name: "short key", key: vPub[vKid][:31], want: ErrKeySetUnavailable},
		{name: "private key as public", key: ed25519.PublicKey(vKey), want: ErrKeySetUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var gotKid string
			v, err := NewKeyFunc(func(_ context.Context, kid string) (ed25519.PublicKey, error) {
				gotKid = kid
				return tc.key, tc.err
			}, WithNow(func() time.Time { return vNow }), WithIssuer(vIss), WithAudience(vIss))
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), good)
			if gotKid != vKid {
				t.Errorf("KeyFunc asked for kid %q, want %q", gotKid, vKid)
			}
			if tc.want == nil {
				if err != nil || c == nil || c.Subject != "user-1" {
					t.Fatalf("Verify: %v, %+v", err, c)
				}
				return
			}
			var je *Error
			if !errors.As(err, &je) || !errors.Is(err, tc.want) || je.Code == "" || c != nil {
				t.Fatalf("Verify: %#v, claims %v; want an *Error matching %v and no claims", err, c, tc.want)
			}
			if tc.wantCause != nil && !errors.Is(err, tc.wantCause) {
				t.Errorf("Verify: %v does not keep the cause %v", err, tc.wantCause)
			}
		})
	}
}

// jwksServer serves body (or runs handle) and counts requests.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int64
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body, status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, body []byte) {
	s.mu.Lock()
	s.body, s.status = body, status
	s.mu.Unlock()
}

var vPub = map[string]ed25519.PublicKey{vKid: vKey.Public().(ed25519.PublicKey)}

// TestRemoteJWKS: bad JWKS responses are refused with ErrKeySetUnavailable
// (or yield no keys: ErrUnknownKey), never a panic or a hang.
func TestRemoteJWKS(t *testing.T) {
	t.Parallel()
	good := makeToken(t, vKey, vHead, vClaim)
	x := rawB64.EncodeToString(vKey.Public().(ed25519.PublicKey))
	okp := func(extra string) string {
		return `{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"` + vKid + `"` + extra + `}`
	}
	rsaJWK := `{"kty":"RSA","kid":"` + vKid + `","alg":"RS256","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}`
	ecJWK := `{"kty":"EC","crv":"P-256","kid":"` + vKid + `","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tUfPI6SbR1Rc4F2SdUu5F8vc7A6c"}`
	tests := []struct {
		name   string
		status int
		body   string
		opts   []Option
		want   error
	}{
		{"good", 200, `{"keys":[` + okp("") + `]}`, nil, nil},
		{"mixed key types", 200, `{"keys":[` + rsaJWK + `,` + ecJWK + `,{"kty":"oct","k":"c2VjcmV0"},` + okp(`,"alg":"EdDSA","use":"sig"`) + `]}`, nil, nil},
		{"only non-Ed25519 keys", 200, `{"keys":[` + rsaJWK + `,` + ecJWK + `,{"kty":"OKP","crv":"X25519","x":"` + x + `","kid":"` + vKid + `"}]}`, nil, ErrUnknownKey},
		{"Ed25519 key for encryption", 200, `{"keys":[` + okp(`,"use":"enc"`) + `]}`, nil, ErrUnknownKey},
		{"Ed25519 key with another alg", 200, `{"keys":[` + okp(`,"alg":"RS256"`) + `]}`, nil, ErrUnknownKey},
		{"Ed25519 key with private part", 200, `{"keys":[` + okp(`,"d":"`+rawB64.EncodeToString(vKey.Seed())+`"`) + `]}`, nil, ErrUnknownKey},
		{"low-order point", 200, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + rawB64.EncodeToString(make([]byte, 32)) + `","kid":"` + vKid + `"}]}`, nil, ErrUnknownKey},
		{"short x", 200, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"` + vKid + `"}]}`, nil, ErrUnknownKey},
		{"key without kid", 200, `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `"}]}`, nil, ErrUnknownKey},
		{"entry not an object", 200, `{"keys":[1,"x",null,` + okp("") + `]}`, nil, nil},
		{"malformed JSON", 200, `{"keys":[`, nil, ErrKeySetUnavailable},
		{"not a JWKS", 200, `{"foo":1}`, nil, ErrKeySetUnavailable},
		{"keys not an array", 200, `{"keys":{}}`, nil, ErrKeySetUnavailable},
		{"HTML", 200, `<html>hello</html>`, nil, ErrKeySetUnavailable},
		{"trailing garbage", 200, `{"keys":[]} {}`, nil, ErrKeySetUnavailable},
		{"HTTP 500", 500, `{"keys":[` + okp("") + `]}`, nil, ErrKeySetUnavailable},
		{"HTTP 404", 404, ``, nil, ErrKeySetUnavailable},
		{"huge", 200, `{"keys":[` + okp("") + `],"pad":"` + strings.Repeat("a", DefaultMaxJWKSSize) + `"}`, nil, ErrKeySetUnavailable},
		{"over custom limit", 200, `{"keys":[` + okp("") + `]}`, []Option{WithMaxJWKSSize(50)}, ErrKeySetUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newJWKSServer(t, []byte(tc.body))
			srv.status = tc.status
			v, err := New(srv.URL, append([]Option{WithNow(func() time.Time { return vNow })}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), good)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestRemoteJWKSChunkedHuge: a huge body without Content-Length is cut at
// the limit.
func TestRemoteJWKSChunkedHuge(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"keys":[],"pad":"`))
		chunk := []byte(strings.Repeat("a", 32<<10))
		for i := 0; i < 1024 && r.Context().Err() == nil; i++ { // up to 32 MiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	v, _ := New(srv.URL)
	start := time.Now()
	_, err := v.Verify(context.Background(), makeToken(t, vKey, vHead, vClaim))
	if !errors.Is(err, ErrKeySetUnavailable) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Verify: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestRemoteJWKSSlow: a JWKS endpoint that never answers costs at most the
// fetch timeout, and a caller's context cancels its wait.
func TestRemoteJWKSSlow(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	tok := makeToken(t, vKey, vHead, vClaim)

	v, _ := New(srv.URL, WithFetchTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := v.Verify(context.Background(), tok)
	if !errors.Is(err, ErrKeySetUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("fetch timeout not applied: took %v", d)
	}

	v2, _ := New(srv.URL, WithFetchTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := v2.Verify(ctx, tok); !errors.Is(err, ErrKeySetUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify with a short context: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("context not honoured: took %v", d)
	}
}

// TestRefreshRateLimit: unknown kids trigger at most one JWKS fetch per
// MinRefreshInterval, concurrent ones share a fetch, and a failed fetch
// recovers.
func TestRefreshRateLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testkit.NewClock(vNow)
	srv := newJWKSServer(t, jwksDoc(vPub))
	v, _ := New(srv.URL, WithNow(clk.Now), WithMinRefreshInterval(30*time.Second))
	good := makeToken(t, vKey, vHead, vClaim)
	unknown := func(i int) string {
		return makeToken(t, vKey, map[string]any{"alg": "EdDSA", "kid": fmt.Sprintf("nope-%d", i)}, vClaim)
	}

	if _, err := v.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches after the first Verify", n)
	}
	for i := range 50 {
		if _, err := v.Verify(ctx, unknown(i)); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
		if _, err := v.Verify(ctx, good); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches within MinRefreshInterval, want 1", n)
	}

	clk.Advance(31 * time.Second)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := v.Verify(ctx, unknown(i)); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("unknown kid: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches after 20 concurrent unknown kids, want 2", n)
	}

	// A new key appears: it is learned on the next allowed refresh.
	k2 := testKey(2)
	srv.set(200, jwksDoc(map[string]ed25519.PublicKey{vKid: vPub[vKid], "key-2": k2.Public().(ed25519.PublicKey)}))
	tok2 := makeToken(t, k2, map[string]any{"alg": "EdDSA", "kid": "key-2"}, vClaim)
	if _, err := v.Verify(ctx, tok2); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("new key within MinRefreshInterval: %v", err)
	}
	clk.Advance(31 * time.Second)
	if _, err := v.Verify(ctx, tok2); err != nil {
		t.Errorf("new key after MinRefreshInterval: %v", err)
	}

	// Failure keeps the known keys; the next allowed fetch recovers.
	srv.set(500, nil)
	clk.Advance(31 * time.Second)
	if _, err := v.Verify(ctx, unknown(99)); !errors.Is(err, ErrKeySetUnavailable) {
		t.Errorf("unknown kid while JWKS is down: %v", err)
	}
	if _, err := v.Verify(ctx, good); err != nil {
		t.Errorf("known key while JWKS is down: %v", err)
	}
}

// TestInitialFetchFailure: with no keys yet, a failing JWKS gives
// ErrKeySetUnavailable, retried at most once per MinRefreshInterval.
func TestInitialFetchFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testkit.NewClock(vNow)
	srv := newJWKSServer(t, nil)
	srv.set(503, nil)
	v, _ := New(srv.URL, WithNow(clk.Now))
	good := makeToken(t, vKey, vHead, vClaim)
	for range 5 {
		if _, err := v.Verify(ctx, good); !errors.Is(err, ErrKeySetUnavailable) {
			t.Fatalf("Verify: %v", err)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
	if err := v.Refresh(ctx); err == nil {
		t.Error("Refresh succeeded against a failing JWKS")
	}
	srv.set(200, jwksDoc(vPub))
	clk.Advance(DefaultMinRefreshInterval)
	if _, err := v.Verify(ctx, good); err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

// TestBackgroundRefresh: a cached JWKS older than RefreshInterval is still
// used while a background fetch replaces it; a key removed upstream then
// stops verifying.
func TestBackgroundRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := testkit.NewClock(vNow)
	srv := newJWKSServer(t, jwksDoc(vPub))
	v, _ := New(srv.URL, WithNow(clk.Now), WithRefreshInterval(5*time.Minute), WithLeeway(time.Hour))
	good := makeToken(t, vKey, vHead, vClaim)
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	srv.set(200, []byte(`{"keys":[]}`))
	clk.Advance(6 * time.Minute)
	if _, err := v.Verify(ctx, good); err != nil {
		t.Fatalf("stale key set not used: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := v.Verify(ctx, good); errors.Is(err, ErrUnknownKey) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background refresh did not drop the removed key (%d fetches)", srv.hits.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

func TestParseJWKS(t *testing.T) {
	t.Parallel()
	x := rawB64.EncodeToString(vPub[vKid])
	got, err := ParseJWKS([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + x + `","kid":"a"},{"kty":"OKP","crv":"Ed25519","x":"` +
		rawB64.EncodeToString(testKey(3).Public().(ed25519.PublicKey)) + `","kid":"a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]ed25519.PublicKey{"a": vPub[vKid]}, got); diff != "" {
		t.Errorf("duplicate kid: first wins (-want +got):\n%s", diff)
	}
	for _, bad := range []string{``, `null`, `[]`, `{"keys":null}`, `{"keys":"x"}`} {
		if _, err := ParseJWKS([]byte(bad)); err == nil {
			t.Errorf("ParseJWKS(%q): no error", bad)
		}
	}
}
