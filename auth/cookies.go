package auth

import (
	"net/http"

	"github.com/managarten/mana-auth/plugin"
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
	return a.NewCookie(name, plugin.SignCookieValue(a.keys.Current(), value), maxAge)
}

// ReadSignedCookie returns the verified value of the signed auth cookie
// name, or false. Only the current secret is tried, as in Better Auth: a
// cookie signed before a rotation is refused.
func (a *Auth) ReadSignedCookie(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(a.CookieName(name))
	if err != nil || c.Value == "" {
		return "", false
	}
	return plugin.VerifyCookieValue(string(a.secret), c.Value)
}
