// Package cookiecodec encodes and decodes the value of Better Auth's
// session cookie cache (the session_data cookie, session.cookieCache),
// byte-compatible with Better Auth 1.7 (packages/better-auth/src/cookies/
// index.ts, crypto/jwt.ts): the payload, and its three seals.
//
//   - compact (EncodeCompact, DecodeCompact): base64url of
//     {"session":P,"expiresAt":ms,"signature":HMAC-SHA256} — readable, not
//     forgeable.
//   - jwt (EncodeJWT, DecodeJWT): an HS256 JWT of P under the secret
//     (internal/hs256) — readable, not forgeable.
//   - jwe (EncodeJWE, DecodeJWE): a compact JWE, alg "dir", enc
//     "A256CBC-HS512", under a key derived from the secret (NewJWEKey) —
//     neither readable nor forgeable.
//
// A round trip:
//
//	payload := cookiecodec.Payload(sessionJSON, userJSON, now.UnixMilli(), "1")
//	value, err := cookiecodec.EncodeJWE(cookiecodec.NewJWEKey(secret), payload, now, 5*time.Minute)
//	payload, expiresAt, ok := cookiecodec.DecodeJWE([]cookiecodec.JWEKey{key}, value, now)
//
// Each decoder returns the payload and its expiry in milliseconds of Unix
// time. The decoders check what the seal covers (signature, key, the JWT
// time claims); the cache's policy stays with its caller (package auth):
// when to read and write the cache, its lifetime, whether the payload's
// expiry, version and session token are acceptable, the cookie's chunking
// and the bound on its size.
package cookiecodec

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/managarten/mana-auth/internal/hs256"
)

// Payload returns Better Auth's cache payload {session, user, updatedAt,
// version} as JavaScript's JSON.stringify writes it (the compact
// signature covers this text as Better Auth re-serialises it). session and
// user are JSON objects as encoding/json writes them; updatedAt is in
// milliseconds of Unix time.
func Payload(session, user []byte, updatedAt int64, version string) []byte {
	v, _ := json.Marshal(version) // a string: cannot fail
	var b bytes.Buffer
	b.WriteString(`{"session":`)
	b.Write(session)
	b.WriteString(`,"user":`)
	b.Write(user)
	b.WriteString(`,"updatedAt":`)
	b.WriteString(strconv.FormatInt(updatedAt, 10))
	b.WriteString(`,"version":`)
	b.Write(v)
	b.WriteByte('}')
	return jsJSON(b.Bytes())
}

// Parsed is a cache payload as ParsePayload reads it.
type Parsed struct {
	// Session and User are the payload's objects, numbers as json.Number
	// (so that integers stay exact). Typing their fields is the caller's.
	Session, User map[string]any
	// UpdatedAt is when the payload was written, in milliseconds.
	UpdatedAt float64
	// Version is the payload's version; "1" when it has none.
	Version string
}

// ParsePayload reads a payload as Better Auth's cookieCachePayloadSchema
// does: a JSON object whose updatedAt is a number and whose version, if
// present, is a string. Session and User may be nil (the caller requires
// them).
func ParsePayload(b []byte) (Parsed, bool) {
	var p struct {
		Session   map[string]any  `json:"session"`
		User      map[string]any  `json:"user"`
		UpdatedAt json.RawMessage `json:"updatedAt"`
		Version   json.RawMessage `json:"version"`
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if d.Decode(&p) != nil {
		return Parsed{}, false
	}
	out := Parsed{Session: p.Session, User: p.User, Version: "1"}
	if json.Unmarshal(p.UpdatedAt, &out.UpdatedAt) != nil {
		return Parsed{}, false
	}
	if p.Version != nil && json.Unmarshal(p.Version, &out.Version) != nil {
		return Parsed{}, false
	}
	return out, true
}

// jsJSON rewrites JSON written by encoding/json as JavaScript's
// JSON.stringify writes the same value: encoding/json escapes <, >, &,
// U+2028, U+2029 (and writes invalid UTF-8 as \ufffd) where JavaScript
// writes the characters themselves. Every other escape is the same in both
// since Go 1.22.
func jsJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case !in:
			in = c == '"'
		case c == '"':
			in = false
		case c == '\\':
			if i+5 < len(b) && b[i+1] == 'u' {
				if r, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32); err == nil {
					switch r {
					case '<', '>', '&', 0x2028, 0x2029, 0xfffd:
						out = utf8.AppendRune(out, rune(r))
						i += 5
						continue
					}
				}
			}
			out = append(out, c)
			if i+1 < len(b) {
				i++
				c = b[i]
			}
		}
		out = append(out, c)
	}
	return out
}

// EncodeCompact writes Better Auth's compact cache:
// base64url(JSON.stringify({session: P, expiresAt, signature})), the
// signature being base64url(HMAC-SHA256(secret, JSON.stringify({...P,
// expiresAt}))), both without padding. expiresAt is in milliseconds.
func EncodeCompact(secret, payload []byte, expiresAt int64) string {
	exp := strconv.FormatInt(expiresAt, 10)
	m := hmac.New(sha256.New, secret)
	m.Write(hs256.AppendMembers(payload, `"expiresAt":`+exp))
	sig := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	var b bytes.Buffer
	b.WriteString(`{"session":`)
	b.Write(payload)
	b.WriteString(`,"expiresAt":`)
	b.WriteString(exp)
	b.WriteString(`,"signature":"`)
	b.WriteString(sig)
	b.WriteString(`"}`)
	return base64.RawURLEncoding.EncodeToString(b.Bytes())
}

// DecodeCompact verifies a compact cache and returns its payload and
// expiresAt (ms). Like Better Auth's it decodes either base64 alphabet and
// stops at the first "=". The signature is checked over the payload's own
// text: what Better Auth writes is already in the form its verifier
// re-serialises. expiresAt is not compared with the time: the caller does.
func DecodeCompact(secret []byte, value string) (payload []byte, expiresAt float64, ok bool) {
	raw, ok := decodeB64Lenient(value)
	if !ok {
		return nil, 0, false
	}
	var outer struct {
		Session   json.RawMessage `json:"session"`
		ExpiresAt json.RawMessage `json:"expiresAt"`
		Signature json.RawMessage `json:"signature"`
	}
	if json.Unmarshal(raw, &outer) != nil {
		return nil, 0, false
	}
	payload, expRaw := outer.Session, bytes.TrimSpace(outer.ExpiresAt)
	var sig string
	if len(payload) < 2 || payload[0] != '{' || len(expRaw) == 0 ||
		json.Unmarshal(expRaw, &expiresAt) != nil || json.Unmarshal(outer.Signature, &sig) != nil {
		return nil, 0, false
	}
	got, ok := decodeB64Lenient(sig)
	if !ok {
		return nil, 0, false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(hs256.AppendMembers(payload, `"expiresAt":`+string(expRaw)))
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil, 0, false
	}
	return payload, expiresAt, true
}

// decodeB64Lenient decodes base64 as @better-auth/utils does: URL-safe or
// standard alphabet, stopping at the first "=".
func decodeB64Lenient(s string) ([]byte, bool) {
	if i := strings.IndexByte(s, '='); i >= 0 {
		s = s[:i]
	}
	enc := base64.RawURLEncoding
	if strings.ContainsAny(s, "+/") {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}

// EncodeJWT signs the payload as Better Auth's signJWT: an HS256 JWT with
// iat now and exp now + ttl (hs256.Sign).
func EncodeJWT(secret, payload []byte, now time.Time, ttl time.Duration) string {
	return hs256.Sign(secret, payload, now, ttl)
}

// DecodeJWT verifies a cache JWT (hs256.Verify: Better Auth's verifyJWT,
// jose's jwtVerify) and returns its claims and exp in ms.
func DecodeJWT(secret []byte, token string, now time.Time) (payload []byte, expiresAt float64, ok bool) {
	payload, exp, err := hs256.Verify(secret, token, now)
	if err != nil {
		return nil, 0, false
	}
	return payload, exp * 1000, true
}
