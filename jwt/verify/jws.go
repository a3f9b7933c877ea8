package verify

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// The compact JWS fast path. go-jose handles JWKs (parsing, validation of
// Ed25519 points); tokens themselves are parsed here, because a compact
// EdDSA JWS is small enough to handle precisely and go-jose's generic path
// costs more than the signature itself on hot paths.

// b64 is unpadded base64url that refuses non-canonical encodings, so that
// one token has exactly one textual form.
var b64 = base64.RawURLEncoding.Strict()

const (
	// DefaultMaxTokenSize is the default limit on a token's length; longer
	// tokens are refused before any decoding.
	DefaultMaxTokenSize = 8 << 10
	maxKeyIDLen         = 128
)

// jws is a parsed (not yet verified) compact JWS.
type jws struct {
	kid          string
	signingInput string // header "." payload, as received
	payload      string // base64url payload
	sig          [ed25519.SignatureSize]byte
}

// parseJWS splits and decodes a compact JWS and checks its header: alg
// EdDSA (or Ed25519, RFC 9864), a kid, no critical extensions. Key-carrying
// headers (jku, x5u, jwk, x5c) are ignored, never fetched or used.
//
// known, when not nil, is a header this process has already parsed and
// checked (its base64url text and kid): a token whose header is exactly
// that text skips the decoding. Tokens of one issuer share a handful of
// headers, one per signing key.
func parseJWS(token string, maxSize int, known *knownHeader) (jws, error) {
	var t jws
	if len(token) > maxSize {
		return t, ErrTokenTooLarge
	}
	if token == "" {
		return t, ErrMalformed.with("empty token", nil)
	}
	i := strings.IndexByte(token, '.')
	if i < 0 {
		return t, ErrMalformed.with("token is not a compact JWS (want 3 parts)", nil)
	}
	j := strings.IndexByte(token[i+1:], '.')
	if j < 0 {
		return t, ErrMalformed.with("token is not a compact JWS (want 3 parts)", nil)
	}
	j += i + 1
	if strings.IndexByte(token[j+1:], '.') >= 0 {
		return t, ErrMalformed.with("token is not a compact JWS (want 3 parts)", nil)
	}
	headB64, sigB64 := token[:i], token[j+1:]
	t.signingInput, t.payload = token[:j], token[i+1:j]
	if headB64 == "" || t.payload == "" {
		return t, ErrMalformed.with("empty header or payload", nil)
	}

	if known != nil && headB64 == known.b64 {
		t.kid = known.kid
		return t, t.decodeSig(sigB64)
	}
	var hbuf [256]byte
	head, err := decodeB64(hbuf[:0], headB64)
	if err != nil {
		return t, ErrMalformed.with("header is not base64url", nil)
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(head, &h); err != nil || h == nil {
		return t, ErrMalformed.with("header is not a JSON object", nil)
	}
	var alg string
	if raw, ok := h["alg"]; !ok || json.Unmarshal(raw, &alg) != nil {
		return t, ErrBadAlgorithm.with("header has no alg", nil)
	}
	if alg != "EdDSA" && alg != "Ed25519" {
		return t, ErrBadAlgorithm.with("alg "+quoteShort(alg)+" is not allowed (want EdDSA)", nil)
	}
	if _, ok := h["crit"]; ok {
		return t, ErrMalformed.with("unsupported critical header parameters", nil)
	}
	if raw, ok := h["b64"]; ok && string(raw) != "true" {
		return t, ErrMalformed.with("unencoded payloads are not supported", nil)
	}
	raw, ok := h["kid"]
	if !ok {
		return t, ErrMissingKeyID
	}
	if json.Unmarshal(raw, &t.kid) != nil || t.kid == "" {
		return t, ErrMissingKeyID.with("kid is not a non-empty string", nil)
	}
	if !validKeyID(t.kid) {
		return t, ErrMalformed.with("kid is too long or has non-printable characters", nil)
	}

	return t, t.decodeSig(sigB64)
}

// knownHeader is a header that parsed and checked: its base64url text and
// its kid.
type knownHeader struct {
	b64, kid string
}

// header returns t's header as a knownHeader.
func (t *jws) header() *knownHeader {
	i := strings.IndexByte(t.signingInput, '.')
	return &knownHeader{b64: t.signingInput[:i], kid: t.kid}
}

func (t *jws) decodeSig(sigB64 string) error {
	if len(sigB64) != b64.EncodedLen(ed25519.SignatureSize) {
		return ErrInvalidSignature.with("signature has the wrong length", nil)
	}
	if n, err := b64.Decode(t.sig[:], []byte(sigB64)); err != nil || n != ed25519.SignatureSize {
		return ErrInvalidSignature.with("signature is not base64url", nil)
	}
	return nil
}

// decodeB64 appends the decoding of s to dst.
func decodeB64(dst []byte, s string) ([]byte, error) {
	n := b64.DecodedLen(len(s))
	if cap(dst)-len(dst) < n {
		dst = make([]byte, 0, len(dst)+n)
	}
	m, err := b64.Decode(dst[len(dst):len(dst)+n], []byte(s))
	return dst[:len(dst)+m], err
}

func validKeyID(kid string) bool {
	if len(kid) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x21 || kid[i] > 0x7e {
			return false
		}
	}
	return true
}

// quoteShort quotes s for an error message, cut to 32 bytes.
func quoteShort(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// verifySig checks the Ed25519 signature of t with key.
func (t *jws) verifySig(key ed25519.PublicKey) bool {
	return ed25519.Verify(key, []byte(t.signingInput), t.sig[:])
}

// claims decodes the payload into Claims. It checks the types of the
// registered claims and that exp and sub are present.
func (t *jws) claims() (*Claims, error) {
	raw, err := decodeB64(nil, t.payload)
	if err != nil {
		return nil, ErrMalformed.with("payload is not base64url", nil)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, ErrMalformed.with("payload is not a JSON object", nil)
	}
	c := &Claims{KeyID: t.kid, Raw: m, JSON: raw}
	var ok bool
	if c.ExpiresAt, ok, err = numericDate(m, "exp"); err != nil {
		return nil, err
	} else if !ok {
		return nil, ErrInvalidClaims.with("missing exp", nil)
	}
	if c.IssuedAt, _, err = numericDate(m, "iat"); err != nil {
		return nil, err
	}
	if c.NotBefore, _, err = numericDate(m, "nbf"); err != nil {
		return nil, err
	}
	if c.Subject, err = stringClaim(m, "sub"); err != nil {
		return nil, err
	}
	if c.Subject == "" {
		return nil, ErrInvalidClaims.with("missing sub", nil)
	}
	if c.Issuer, err = stringClaim(m, "iss"); err != nil {
		return nil, err
	}
	switch a := m["aud"].(type) {
	case nil:
	case string:
		c.Audience = []string{a}
	case []any:
		c.Audience = make([]string, 0, len(a))
		for _, v := range a {
			s, ok := v.(string)
			if !ok {
				return nil, ErrInvalidClaims.with("aud must be a string or an array of strings", nil)
			}
			c.Audience = append(c.Audience, s)
		}
	default:
		return nil, ErrInvalidClaims.with("aud must be a string or an array of strings", nil)
	}
	// Private claims: taken when they are strings, ignored otherwise.
	c.Email, _ = m["email"].(string)
	c.Role, _ = m["role"].(string)
	c.SessionID, _ = m["sid"].(string)
	return c, nil
}

// maxNumericDate bounds exp/iat/nbf (year ~ 36812) so conversions are exact.
const maxNumericDate = 1 << 40

func numericDate(m map[string]any, name string) (time.Time, bool, error) {
	v, ok := m[name]
	if !ok || v == nil {
		return time.Time{}, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, false, ErrInvalidClaims.with(name+" must be a non-negative number of seconds", nil)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

func stringClaim(m map[string]any, name string) (string, error) {
	switch v := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", ErrInvalidClaims.with(name+" must be a string", nil)
}
