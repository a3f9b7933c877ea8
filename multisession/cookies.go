package multisession

import (
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

// multiPrefix is what the name of every multi-session cookie starts with,
// before the host's prefix (Host.CookieName adds it).
const multiPrefix = plugin.CookieSessionToken + "_multi-"

// multiName returns the name, before the host's prefix, of the
// multi-session cookie of a session token.
func multiName(token string) string { return multiPrefix + strings.ToLower(token) }

// CookieName returns the full name of the multi-session cookie of a
// session token, as the browser holds it:
// <prefix>.session_token_multi-<token lower-cased>, with __Secure- in
// front for secure cookies.
func (p *Plugin) CookieName(token string) string { return p.h.CookieName(multiName(token)) }

// held is a multi-session cookie of a request whose signature verified.
type held struct {
	name  string // before the host's prefix, as Host.NewCookie takes it
	token string // the signed value: the session token
}

// heldCookies returns the request's multi-session cookies whose signature
// verifies (with the host's secret, as the session cookie's), in the
// request's order, the first valid one of each name, at most maxCookies.
// Unsigned and tampered cookies are left out: the plugin did not set
// them, and one sent first cannot hide a valid one of the same name.
func (p *Plugin) heldCookies(r *http.Request) []held {
	prefix := p.h.CookieName(multiPrefix)
	secret := p.h.Secret()
	var out []held
	seen := map[string]bool{}
	for _, c := range r.Cookies() {
		suffix, ok := strings.CutPrefix(c.Name, prefix)
		if !ok || seen[c.Name] {
			continue
		}
		token, ok := plugin.VerifyCookieValue(secret, c.Value)
		if !ok || !validToken(token) {
			continue
		}
		seen[c.Name] = true
		out = append(out, held{name: multiPrefix + suffix, token: token})
		if len(out) == maxCookies {
			break
		}
	}
	return out
}

// heldFor returns the browser's signed multi-session cookie for the token
// a request names: its name is the token lower-cased, as Better Auth
// derives it, and its signed value, not the token named, is the session
// to act on (the signature covers the value, not the name).
func (p *Plugin) heldFor(r *http.Request, named string) (held, bool) {
	name := multiName(named)
	full := p.h.CookieName(name)
	secret := p.h.Secret()
	for _, c := range r.Cookies() {
		if c.Name != full {
			continue
		}
		if token, ok := plugin.VerifyCookieValue(secret, c.Value); ok {
			return held{name: name, token: token}, true
		}
	}
	return held{}, false
}

// tokens returns the distinct tokens of hs, in order.
func tokens(hs []held) []string {
	out := make([]string, 0, len(hs))
	seen := map[string]bool{}
	for _, h := range hs {
		if !seen[h.token] {
			seen[h.token] = true
			out = append(out, h.token)
		}
	}
	return out
}

// validToken reports whether s can be a session token: what the host
// signed in a cookie of another kind (a state, a flag) is not looked up.
// The host's own lookups accept up to 256 characters.
func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// expired returns the cookie that deletes the multi-session cookie name
// (before the host's prefix), with the session cookie's attributes.
func (p *Plugin) expired(name string) *http.Cookie { return p.h.NewCookie(name, "", -1) }

// sessionCookieSet returns the session cookie the answer of c sets with a
// value (a new session, or one re-issued), or nil: the last cookie of
// that name wins, as the host writes them.
func (p *Plugin) sessionCookieSet(c *plugin.Context) *http.Cookie {
	name := p.h.CookieName(plugin.CookieSessionToken)
	cookies := c.Cookies()
	for i := len(cookies) - 1; i >= 0; i-- {
		if ck := cookies[i]; ck.Name == name {
			if ck.Value == "" || ck.MaxAge < 0 {
				return nil
			}
			return ck
		}
	}
	return nil
}
