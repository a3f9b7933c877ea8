package auth

import (
	"net/http"
	"strings"

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
	return plugin.VerifyCookieValue(a.keys.Current(), c.Value)
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
