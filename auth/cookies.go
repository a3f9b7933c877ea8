package auth

import (
	"net/http"
	"strconv"
	"strings"
)

// Cookie names (before prefix) of the core.
const (
	CookieSessionToken = "session_token"
	CookieSessionData  = "session_data"
	CookieDontRemember = "dont_remember"
)

// CookieName returns the full name of an auth cookie: "__Secure-" in secure
// mode, then the prefix, ".", and name (e.g. "__Secure-mana.session_token").
func (a *Auth) CookieName(name string) string {
	n := a.cfg.Cookies.Prefix + "." + name
	if a.cookieSec {
		return "__Secure-" + n
	}
	return n
}

// NewCookie returns an auth cookie with Better Auth's attributes (Path=/,
// HttpOnly, SameSite=Lax, Secure in secure mode, Domain with cross-subdomain
// cookies). maxAge in seconds; 0 means a browser-session cookie, negative
// deletes the cookie. The value is used as given: sign it first with
// SignedCookie where needed.
func (a *Auth) NewCookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: a.CookieName(name), Value: value, MaxAge: maxAge,
		Domain: a.cfg.Cookies.Domain, Path: "/", HttpOnly: true,
		Secure: a.cookieSec, SameSite: http.SameSiteLaxMode,
	}
}

// SignedCookie is NewCookie with the value signed as Better Auth signs it,
// with the current secret.
func (a *Auth) SignedCookie(name, value string, maxAge int) *http.Cookie {
	return a.NewCookie(name, SignCookieValue(a.keys.Current(), value), maxAge)
}

// ReadSignedCookie returns the verified value of the signed auth cookie
// name, or false. Only the current secret is tried, as in Better Auth: a
// cookie signed before a rotation is refused.
func (a *Auth) ReadSignedCookie(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(a.CookieName(name))
	if err != nil || c.Value == "" {
		return "", false
	}
	return verifySigned(a.secret, c.Value, false)
}

// serializeCookie writes a Set-Cookie value in Better Auth's attribute
// order: name=value; Max-Age=N; Domain=D; Path=/; HttpOnly; Secure; SameSite=Lax.
func serializeCookie(c *http.Cookie) string {
	var b strings.Builder
	b.WriteString(c.Name)
	b.WriteByte('=')
	b.WriteString(c.Value)
	switch {
	case c.MaxAge > 0:
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(c.MaxAge))
	case c.MaxAge < 0:
		b.WriteString("; Max-Age=0")
	}
	if c.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(c.Domain)
	}
	if c.Path != "" {
		b.WriteString("; Path=")
		b.WriteString(c.Path)
	}
	if c.HttpOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	switch c.SameSite {
	case http.SameSiteLaxMode:
		b.WriteString("; SameSite=Lax")
	case http.SameSiteStrictMode:
		b.WriteString("; SameSite=Strict")
	case http.SameSiteNoneMode:
		b.WriteString("; SameSite=None")
	}
	if c.Partitioned {
		b.WriteString("; Partitioned")
	}
	return b.String()
}

// WriteCookies adds the cookies to w as Set-Cookie headers, in Better
// Auth's format. Later cookies with the same name replace earlier ones.
func WriteCookies(w http.ResponseWriter, cookies []*http.Cookie) {
	for i, c := range cookies {
		replaced := false
		for _, later := range cookies[i+1:] {
			if later.Name == c.Name {
				replaced = true
				break
			}
		}
		if !replaced {
			w.Header().Add("Set-Cookie", serializeCookie(c))
		}
	}
}
