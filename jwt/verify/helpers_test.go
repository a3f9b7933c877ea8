package verify

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"testing"
)

var rawB64 = base64.RawURLEncoding

// testKey is a deterministic Ed25519 key for tests that need stable tokens.
func testKey(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed + byte(i)
	}
	return ed25519.NewKeyFromSeed(s)
}

// makeToken signs header and claims (marshalled as given) with key.
func makeToken(t testing.TB, key ed25519.PrivateKey, header, claims any) string {
	t.Helper()
	h := encodeJSONSegment(t, header)
	p := encodeJSONSegment(t, claims)
	sig := ed25519.Sign(key, []byte(h+"."+p))
	return h + "." + p + "." + b64.EncodeToString(sig)
}

func encodeJSONSegment(t testing.TB, v any) string {
	t.Helper()
	if s, ok := v.(string); ok {
		return b64.EncodeToString([]byte(s))
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

// jwksDoc renders public keys as a JWKS document.
func jwksDoc(keys map[string]ed25519.PublicKey) []byte {
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	doc.Keys = []jwk{}
	for kid, k := range keys {
		doc.Keys = append(doc.Keys, jwk{"OKP", "Ed25519", rawB64.EncodeToString(k), kid, "EdDSA"})
	}
	b, _ := json.Marshal(doc)
	return b
}
