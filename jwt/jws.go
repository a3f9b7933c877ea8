package jwt

import (
	"crypto/ed25519"
	"encoding/json"
)

// Tokens are signed here, not with go-jose: a compact EdDSA JWS is small
// enough to build precisely, and go-jose's generic path costs more than the
// signature itself. jwt/verify parses and checks them the same way.

// signJWS returns the compact JWS of payload under the pre-encoded header.
func signJWS(key ed25519.PrivateKey, headerB64 string, payload []byte) string {
	plen := rawB64.EncodedLen(len(payload))
	slen := rawB64.EncodedLen(ed25519.SignatureSize)
	buf := make([]byte, len(headerB64)+1+plen, len(headerB64)+1+plen+1+slen)
	n := copy(buf, headerB64)
	buf[n] = '.'
	rawB64.Encode(buf[n+1:], payload)
	sig := ed25519.Sign(key, buf)
	buf = append(buf, '.')
	buf = rawB64.AppendEncode(buf, sig)
	return string(buf)
}

// headerFor returns the base64url protected header {"alg":"EdDSA","kid":…}.
func headerFor(kid string) string {
	b, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}{"EdDSA", kid})
	return rawB64.EncodeToString(b)
}
