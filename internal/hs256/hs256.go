// Package hs256 is mana-auth's one compact HS256 JWT: the tokens Better
// Auth signs with its signJWT (better-auth/src/crypto/jwt.ts) and checks
// with jose's jwtVerify. Two things use it: email-verification and
// change-email links (auth/email.go; Better Auth's route calls jwtVerify
// with algorithms ["HS256"]) and the session cookie cache's "jwt" strategy
// (auth/cookiecache.go; Better Auth's verifyJWT). The key is the secret's
// UTF-8 bytes, as Better Auth's.
//
//	token := hs256.Sign(secret, []byte(`{"email":"ada@example.com"}`), now, time.Hour)
//	claims, exp, err := hs256.Verify(secret, token, now)
//
// Verify accepts exactly what both uses need, the tokens Better Auth's
// signJWT and Sign write, and refuses the rest. Its rules, with where they
// differ from jose 6 (which Better Auth 1.7 calls):
//
//   - Form: three segments separated by "."; each is base64url without
//     padding in its one canonical spelling: no "=", no "+" or "/", no
//     whitespace or line breaks, unused bits of the last character zero.
//     jose also takes padding, whitespace and the three other spellings
//     of a last character; Better Auth never writes them, and with one
//     spelling per token a token can be compared as a string.
//   - Header: a JSON object in valid UTF-8 whose "alg" is exactly
//     "HS256" (jose, for the cookie cache, would also take HS384 and
//     HS512 under the same key). "crit" and "b64" must be absent: no
//     critical extensions and no RFC 7797 unencoded payload (jose takes
//     crit ["b64"] with b64 true). Other members (typ, kid, …) are ignored,
//     as jose ignores them. Member names match exactly, as in JavaScript.
//   - Signature: HMAC-SHA256 of the first two segments as written,
//     compared in constant time.
//   - Claims: held to CheckClaims with no leeway (a JSON object in valid
//     UTF-8 with a numeric exp after now, …).
//   - Size: Verify does not bound the token; each caller does, before
//     calling (the email route at 4 KiB, the cookie cache at the 100
//     cookies of 4050 bytes Better Auth may split it into).
//
// CheckClaims is also the time check of the cookie cache's JWE
// (internal/cookiecodec), which jose's jwtDecrypt holds to the same rules
// with 15 s of leeway.
package hs256

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors of Verify and CheckClaims. A token that fails for several reasons
// gets ErrExpired only when everything but exp holds.
var (
	// ErrInvalid is a token that is malformed, of another algorithm, not
	// signed with the key, or whose claims break a rule.
	ErrInvalid = errors.New("hs256: invalid token")
	// ErrExpired is a valid token whose exp has passed.
	ErrExpired = errors.New("hs256: token expired")
)

// header is the JOSE header Better Auth's signJWT writes.
const header = `{"alg":"HS256"}`

// enc decodes and encodes every segment: base64url, no padding, zero
// unused bits.
var enc = base64.RawURLEncoding.Strict()

// Sign returns the compact HS256 JWT of claims, as Better Auth's signJWT
// writes it: header {"alg":"HS256"} and the claims with "iat" and "exp"
// appended (Claims). claims must be a JSON object without iat and exp.
func Sign(key, claims []byte, now time.Time, ttl time.Duration) string {
	input := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString(Claims(claims, now, ttl))
	return input + "." + enc.EncodeToString(mac(key, input))
}

// Claims returns the JSON object claims with the time claims jose's
// SetIssuedAt and SetExpirationTime append, in that order: "iat" is now
// and "exp" now + ttl, in whole seconds of Unix time (with a whole-second
// ttl, Better Auth's Math.floor(Date.now() / 1000) + expiresIn). claims
// must not hold iat or exp.
func Claims(claims []byte, now time.Time, ttl time.Duration) []byte {
	return AppendMembers(claims, `"iat":`+strconv.FormatInt(now.Unix(), 10)+`,"exp":`+strconv.FormatInt(now.Add(ttl).Unix(), 10))
}

// Verify checks token against the rules of the package documentation and
// returns its claims (the JSON object, as signed) and their exp in seconds
// of Unix time. The error is ErrExpired or ErrInvalid.
func Verify(key []byte, token string, now time.Time) (claims []byte, exp float64, err error) {
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 || strings.ContainsAny(token, "\r\n") {
		return nil, 0, ErrInvalid
	}
	hb, err := enc.DecodeString(h)
	if err != nil || !utf8.Valid(hb) {
		return nil, 0, ErrInvalid
	}
	var hdr map[string]json.RawMessage
	var alg string
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(hdr["alg"], &alg) != nil || alg != "HS256" {
		return nil, 0, ErrInvalid
	}
	if _, ok := hdr["crit"]; ok {
		return nil, 0, ErrInvalid
	}
	if _, ok := hdr["b64"]; ok {
		return nil, 0, ErrInvalid
	}
	sig, err := enc.DecodeString(s)
	if err != nil || !hmac.Equal(sig, mac(key, token[:len(h)+1+len(p)])) {
		return nil, 0, ErrInvalid
	}
	claims, err = enc.DecodeString(p)
	if err != nil {
		return nil, 0, ErrInvalid
	}
	exp, err = CheckClaims(claims, now, 0)
	if err != nil {
		return nil, 0, err
	}
	return claims, exp, nil
}

// CheckClaims checks a JWT claims set as jose's validateClaimsSet does
// for Better Auth, and returns its exp in seconds of Unix time:
//
//   - claims is a JSON object in valid UTF-8 (jose decodes it with a
//     fatal UTF-8 decoder);
//   - "iat", "nbf" and "exp", when present, are JSON numbers that fit a
//     float64 (jose: typeof "number"; it takes 1e999 as Infinity);
//   - "exp" is present (jose takes a token without one; Better Auth always
//     writes it, and a token that never expires is not one we need);
//   - "nbf", when present, is at most now + leeway (else ErrInvalid);
//   - "exp" is after now - leeway (else ErrExpired).
//
// now counts in whole seconds, as jose's; iat is not compared with it
// (jose does only with maxTokenAge, which Better Auth does not set).
func CheckClaims(claims []byte, now time.Time, leeway time.Duration) (exp float64, err error) {
	var c map[string]json.RawMessage
	if t := bytes.TrimLeft(claims, " \t\r\n"); len(t) == 0 || t[0] != '{' || !utf8.Valid(claims) || json.Unmarshal(claims, &c) != nil {
		return 0, ErrInvalid
	}
	_, _, iatOK := numericDate(c, "iat")
	nbf, hasNbf, nbfOK := numericDate(c, "nbf")
	exp, hasExp, expOK := numericDate(c, "exp")
	if !iatOK || !nbfOK || !expOK || !hasExp {
		return 0, ErrInvalid
	}
	sec, tol := float64(now.Unix()), leeway.Seconds()
	if hasNbf && nbf > sec+tol {
		return 0, ErrInvalid
	}
	if exp <= sec-tol {
		return 0, ErrExpired
	}
	return exp, nil
}

// numericDate reads claim name of c: ok is false when it is present but
// not a JSON number that fits a float64 (null, a string, 1e999).
func numericDate(c map[string]json.RawMessage, name string) (v float64, present, ok bool) {
	raw, present := c[name]
	if !present {
		return 0, false, true
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, true, false
	}
	err := json.Unmarshal(raw, &v)
	return v, true, err == nil
}

// mac is HMAC-SHA256(key, input).
func mac(key []byte, input string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(input))
	return m.Sum(nil)
}

// AppendMembers returns the JSON object obj with members (`"name":value`,
// comma-separated) appended, as JavaScript's {...obj, name: value} writes
// them for names obj does not have. The cookie cache's codecs use it too.
func AppendMembers(obj []byte, members string) []byte {
	body := bytes.TrimSpace(obj)
	body = bytes.TrimSpace(body[:max(len(body)-1, 0)]) // without its "}"
	out := make([]byte, 0, len(body)+len(members)+2)
	out = append(out, body...)
	if len(body) > 0 && body[len(body)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, members...)
	return append(out, '}')
}
