package jwt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"

	jose "github.com/go-jose/go-jose/v4"
)

var errNotEd25519 = errors.New("jwt: not an Ed25519 key")

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
