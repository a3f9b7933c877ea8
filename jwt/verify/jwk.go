package verify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// ParseJWKS returns the usable verification keys of a JWKS document
// ({"keys":[…]}), by kid: Ed25519 public keys (kty "OKP", crv "Ed25519")
// with a kid, whose alg (if given) is EdDSA or Ed25519 and whose use (if
// given) is "sig". Every other entry (RSA, EC, symmetric, keys carrying
// private material, invalid or low-order points, duplicates of an earlier
// kid) is skipped. It fails only when data is not a JWKS document.
func ParseJWKS(data []byte) (map[string]ed25519.PublicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("jwt: JWKS is not valid JSON: %w", err)
	}
	if len(bytes.TrimSpace(data[d.InputOffset():])) != 0 {
		return nil, errors.New("jwt: JWKS has trailing data")
	}
	if doc.Keys == nil {
		return nil, errors.New(`jwt: JWKS has no "keys" array`)
	}
	keys := make(map[string]ed25519.PublicKey, len(doc.Keys))
	for _, raw := range doc.Keys {
		kid, pub, err := parsePublicJWK(raw)
		if err != nil || kid == "" {
			continue
		}
		if _, dup := keys[kid]; !dup {
			keys[kid] = pub
		}
	}
	return keys, nil
}

// ParseJWK returns the Ed25519 public key of one JWK, under the rules of
// [ParseJWKS] except that a kid is not required: kty "OKP", crv "Ed25519",
// no private part, alg (if given) EdDSA or Ed25519, use (if given) "sig",
// key_ops (if given) including "verify", and a valid point.
func ParseJWK(data []byte) (ed25519.PublicKey, error) {
	_, pub, err := parsePublicJWK(data)
	return pub, err
}

// publicJWK is the part of a JWK the filter looks at.
type publicJWK struct {
	Kty    string          `json:"kty"`
	Crv    string          `json:"crv"`
	X      string          `json:"x"`
	Kid    string          `json:"kid"`
	Alg    string          `json:"alg"`
	Use    string          `json:"use"`
	D      json.RawMessage `json:"d"`
	KeyOps []string        `json:"key_ops"`
}

var errNotEd25519 = errors.New("jwt: not an Ed25519 verification key")

// parsePublicJWK returns the kid and Ed25519 public key of one JWK, or an
// error when it is not a usable Ed25519 verification key. Only kty, crv and
// x reach go-jose, so certificate chains and URLs in the JWK are never
// parsed.
func parsePublicJWK(raw []byte) (string, ed25519.PublicKey, error) {
	var j publicJWK
	if err := json.Unmarshal(raw, &j); err != nil {
		return "", nil, err
	}
	if j.Kty != "OKP" || j.Crv != "Ed25519" || j.D != nil ||
		(j.Alg != "" && j.Alg != "EdDSA" && j.Alg != "Ed25519") || (j.Use != "" && j.Use != "sig") {
		return "", nil, errNotEd25519
	}
	if j.KeyOps != nil {
		ok := false
		for _, op := range j.KeyOps {
			ok = ok || op == "verify"
		}
		if !ok {
			return "", nil, errNotEd25519
		}
	}
	if !validKeyID(j.Kid) {
		j.Kid = ""
	}
	clean, _ := json.Marshal(map[string]string{"kty": "OKP", "crv": "Ed25519", "x": j.X})
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(clean); err != nil {
		return "", nil, err
	}
	pub, ok := k.Key.(ed25519.PublicKey)
	if !ok {
		return "", nil, errNotEd25519
	}
	return j.Kid, pub, nil
}
