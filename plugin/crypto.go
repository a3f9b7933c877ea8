package plugin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"strings"
)

const alphaNum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// RandomString returns n characters drawn uniformly from alphabet (at most
// 256 characters) using crypto/rand. An empty alphabet means [a-zA-Z0-9],
// Better Auth's alphabet for ids and tokens.
func RandomString(n int, alphabet string) string {
	if alphabet == "" {
		alphabet = alphaNum
	}
	// Rejection sampling keeps the distribution uniform.
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails (crypto/rand panics on failure)
		for _, b := range buf {
			if int(b) < limit {
				out = append(out, alphabet[int(b)%len(alphabet)])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// NewID returns a new 32-character [a-zA-Z0-9] record id.
func NewID() string { return RandomString(32, "") }

// SecureEqual compares two secrets in constant time (for equal lengths).
func SecureEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// signValue returns Better Auth's signed cookie value before URL encoding:
// value + "." + base64std(HMAC-SHA256(secret, value)).
func signValue(secret []byte, value string) string {
	return value + "." + macB64(secret, value)
}

func macB64(secret []byte, value string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(value))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignCookieValue returns the cookie value Better Auth writes for value:
// EncodeURIComponent(value + "." + base64(HMAC-SHA256(secret, value))).
func SignCookieValue(secret, value string) string {
	return EncodeURIComponent(signValue([]byte(secret), value))
}

// VerifyCookieValue checks a signed cookie value as Better Auth does
// (percent-decode, split at the last '.', 44-character padded signature,
// constant-time HMAC check) and returns the inner value.
func VerifyCookieValue(secret, cookie string) (string, bool) {
	return verifySigned([]byte(secret), cookie, false)
}

// verifySigned verifies "value.sig". With anyBase64 the signature may also
// be URL-safe base64 (the bearer plugin accepts both).
func verifySigned(secret []byte, s string, anyBase64 bool) (string, bool) {
	if strings.Contains(s, "%") {
		d, err := url.PathUnescape(s)
		if err != nil {
			return "", false
		}
		s = d
	}
	i := strings.LastIndexByte(s, '.')
	if i < 1 {
		return "", false
	}
	value, sig := s[:i], s[i+1:]
	if len(sig) != 44 || sig[43] != '=' {
		return "", false
	}
	if anyBase64 {
		sig = strings.NewReplacer("-", "+", "_", "/").Replace(sig)
	}
	want := macB64(secret, value)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return "", false
	}
	return value, true
}

// EncodeURIComponent escapes s as JavaScript's encodeURIComponent does.
func EncodeURIComponent(s string) string {
	const keep = "-_.!~*'()"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
