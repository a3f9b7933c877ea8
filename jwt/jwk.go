package jwt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
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

// parsePrivateJWK parses the private Ed25519 JWK Better Auth stores
// ({"crv":"Ed25519","d":…,"x":…,"kty":"OKP"}); go-jose checks that x
// matches d.
func parsePrivateJWK(s string) (ed25519.PrivateKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(s)); err != nil {
		return nil, err
	}
	priv, ok := k.Key.(ed25519.PrivateKey)
	if !ok {
		return nil, errNotEd25519
	}
	return priv, nil
}

var rawB64 = base64.RawURLEncoding

// publicJWKJSON and privateJWKJSON render keys as jose's exportJWK does
// (member order crv, [d,] x, kty), the text Better Auth stores.
func publicJWKJSON(pub ed25519.PublicKey) string {
	return `{"crv":"Ed25519","x":"` + rawB64.EncodeToString(pub) + `","kty":"OKP"}`
}

func privateJWKJSON(priv ed25519.PrivateKey) string {
	pub := priv.Public().(ed25519.PublicKey)
	return `{"crv":"Ed25519","d":"` + rawB64.EncodeToString(priv.Seed()) +
		`","x":"` + rawB64.EncodeToString(pub) + `","kty":"OKP"}`
}

// orderedObject is a JSON object that keeps member order, for rendering
// JWKS entries exactly as Better Auth does ({alg, crv, ...publicKey, kid}).
type orderedObject struct {
	keys []string
	vals []json.RawMessage
}

func (o *orderedObject) set(k string, v json.RawMessage) {
	for i, kk := range o.keys {
		if kk == k {
			o.vals[i] = v
			return
		}
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
}

// merge sets every member of the JSON object data, in order.
func (o *orderedObject) merge(data []byte) error {
	d := json.NewDecoder(bytes.NewReader(data))
	tok, err := d.Token()
	if err != nil || tok != json.Delim('{') {
		return errors.New("jwt: not a JSON object")
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return err
		}
		o.set(k, v)
	}
	if _, err := d.Token(); err != nil {
		return err
	}
	return nil
}

func (o *orderedObject) appendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	for i, k := range o.keys {
		if o.vals[i] == nil { // unset placeholder: omitted, as JSON.stringify omits undefined
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b = append(b, kb...)
		b = append(b, ':')
		b = append(b, o.vals[i]...)
	}
	return append(b, '}')
}
