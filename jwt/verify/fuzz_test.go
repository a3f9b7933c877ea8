package verify

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary strings to the parser and verifier. Seeds are
// the committed corpus in testdata/fuzz/FuzzVerify (run as ordinary tests)
// plus a few generated here; run `go test -fuzz FuzzVerify ./jwt/verify` to
// explore. Properties: no panic; failures are *Error without claims; a
// success is backed by a real signature over the token by the test key,
// with the claims the verifier requires.
func FuzzVerify(f *testing.F) {
	good := makeToken(f, vKey, vHead, vClaim)
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(makeToken(f, vKey, map[string]any{"alg": "none", "kid": vKid}, vClaim))
	f.Add(makeToken(f, vKey, vHead, claimsWith("aud", []any{"x", vIss}, "nbf", 1.5)))
	f.Add("")
	f.Add("..")

	v := staticVerifier(f)
	pub := vKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			var je *Error
			if !errors.As(err, &je) || je.Code == "" || c != nil {
				t.Fatalf("error %#v with claims %v", err, c)
			}
			return
		}
		i := strings.LastIndexByte(token, '.')
		sig, derr := b64.DecodeString(token[i+1:])
		if derr != nil || !ed25519.Verify(pub, []byte(token[:i]), sig) {
			t.Fatalf("accepted a token without a valid signature: %q", token)
		}
		if c == nil || c.Subject == "" || c.ExpiresAt.IsZero() || c.Issuer != vIss || c.KeyID != vKid {
			t.Fatalf("accepted token with claims %+v", c)
		}
	})
}

// FuzzParseJWKS: the JWKS parser never panics, and every key it returns is
// a 32-byte Ed25519 key with a printable kid.
func FuzzParseJWKS(f *testing.F) {
	f.Add(string(jwksDoc(vPub)))
	f.Add(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`)
	f.Add(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + rawB64.EncodeToString(make([]byte, 32)) + `","kid":"z"}]}`)
	f.Add(`{"keys":null}`)
	f.Fuzz(func(t *testing.T, doc string) {
		keys, err := ParseJWKS([]byte(doc))
		if err != nil {
			return
		}
		for kid, k := range keys {
			if len(k) != ed25519.PublicKeySize || !validKeyID(kid) || kid == "" {
				t.Fatalf("ParseJWKS returned kid %q key %x", kid, k)
			}
		}
	})
}
