package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/managarten/mana-auth/plugin"
)

// cookieName returns the full name of an auth cookie: "__Secure-" in secure
// mode, then the prefix, ".", and name (e.g. "__Secure-mana.session_token").
func (a *Auth) cookieName(name string) string {
	n := a.cfg.Cookies.Prefix + "." + name
	if a.cookieSec {
		return "__Secure-" + n
	}
	return n
}

// newCookie returns an auth cookie with Better Auth's attributes (Path=/,
// HttpOnly, SameSite=Lax, Secure in secure mode, Domain with cross-subdomain
// cookies). maxAge in seconds; 0 means a browser-session cookie, negative
// deletes the cookie. The value is used as given: sign it first with
// signedCookie where needed.
func (a *Auth) newCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: a.cookieName(name), Value: value, MaxAge: maxAge,
		Domain: a.cfg.Cookies.Domain, Path: "/", HttpOnly: true,
		Secure: a.cookieSec, SameSite: http.SameSiteLaxMode,
	}
}

// signedCookie is NewCookie with the value signed as Better Auth signs it,
// with the current secret.
func (a *Auth) signedCookie(name, value string, maxAge int) *http.Cookie {
	return a.newCookie(name, plugin.SignCookieValue(a.keys.Current(), value), maxAge)
}

// readSignedCookie returns the verified value of the signed auth cookie
// name, or false. Only the current secret is tried, as in Better Auth: a
// cookie signed before a rotation is refused.
func (a *Auth) readSignedCookie(r *http.Request, name string) (string, bool) {
	full := a.cookieName(name)
	if !headerMentions(r.Header.Values("Cookie"), full) {
		return "", false // the common case for optional cookies: nothing to parse
	}
	c, err := r.Cookie(full)
	if err != nil || c.Value == "" {
		return "", false
	}
	return verifySignedValue(a.secret, c.Value)
}

// verifySignedValue is plugin.VerifyCookieValue (Better Auth's check:
// percent-decode, split at the last '.', a 44-character padded standard
// base64 signature, compared in constant time) without its allocations:
// the HMAC state and buffers are reused (macPool).
func verifySignedValue(secret []byte, s string) (string, bool) {
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
	var diff byte
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
	key []byte
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
	enc [44]byte
}

// macPool keeps HMAC states for reuse; one keyed with another secret (of
// another Auth in the process) is replaced.
var macPool sync.Pool

func getMAC(key []byte) *macState {
	if m, _ := macPool.Get().(*macState); m != nil && bytes.Equal(m.key, key) {
		m.h.Reset()
		return m
	}
	return &macState{key: bytes.Clone(key), h: hmac.New(sha256.New, key), buf: make([]byte, 0, 64)}
}

// headerMentions reports whether any of the header lines contains s (a
// cheap test before parsing the cookies).
func headerMentions(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
