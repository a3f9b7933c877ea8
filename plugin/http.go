package plugin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CookieHeader returns the Set-Cookie value in Better Auth's attribute
// order: name=value; Max-Age=N; Domain=D; Path=/; HttpOnly; Secure; SameSite=Lax.
func CookieHeader(c *http.Cookie) string {
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
			w.Header().Add("Set-Cookie", CookieHeader(c))
		}
	}
}

// AddExposedHeader appends name to Access-Control-Expose-Headers.
func AddExposedHeader(h http.Header, name string) {
	cur := h.Get("Access-Control-Expose-Headers")
	for _, p := range strings.Split(cur, ",") {
		if strings.EqualFold(strings.TrimSpace(p), name) {
			return
		}
	}
	if cur == "" {
		h.Set("Access-Control-Expose-Headers", name)
	} else {
		h.Set("Access-Control-Expose-Headers", cur+", "+name)
	}
}

// AppendQuery returns target (absolute or relative) with key=value set in
// its query.
func AppendQuery(target, key, value string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Cookie names (before prefix) of the core.
const (
	CookieSessionToken = "session_token"
	CookieSessionData  = "session_data"
	CookieDontRemember = "dont_remember"
)
