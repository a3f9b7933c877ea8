package plugin

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"hash"
	"net/url"
	"strings"
	"sync"
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
// constant-time HMAC check) and returns the inner value. It allocates
// nothing for a cookie without percent-escapes: the HMAC state and its
// buffers are reused (macPool), as every authenticated request reads one.
func VerifyCookieValue(secret, cookie string) (string, bool) {
	s := cookie
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
	m := getMAC(secret)
	m.buf = append(m.buf[:0], value...)
	m.h.Write(m.buf)
	base64.StdEncoding.Encode(m.enc[:], m.h.Sum(m.sum[:0]))
	var diff byte // constant time over the 44 characters
	for j := range m.enc {
		diff |= m.enc[j] ^ sig[j]
	}
	macPool.Put(m)
	if diff != 0 {
		return "", false
	}
	return value, true
}

// macState is an HMAC-SHA256 keyed with key, and its buffers.
type macState struct {
	key string
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
	enc [44]byte
}

// macPool keeps HMAC states for reuse; one keyed with another secret (of
// another Auth in the process) is replaced.
var macPool sync.Pool

func getMAC(key string) *macState {
	if m, _ := macPool.Get().(*macState); m != nil && m.key == key {
		m.h.Reset()
		return m
	}
	return &macState{key: key, h: hmac.New(sha256.New, []byte(key)), buf: make([]byte, 0, 64)}
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
