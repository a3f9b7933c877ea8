package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// Context is the state of one request to an endpoint: the request, its
// parsed body, the session, and the response being built. Handlers and
// hooks receive it.
type Context struct {
	a           *Auth
	r           *http.Request
	path        string
	params      map[string]string
	endpoint    *Endpoint
	raw         []byte
	rawBody     any
	bodyPresent bool
	body        map[string]any
	ip          string

	session    *SessionData
	sessLoaded bool
	bearer     bool

	err error

	header  http.Header
	cookies []*http.Cookie
	status  int
	result  any
}

// Auth returns the Auth serving the request.
func (c *Context) Auth() *Auth { return c.a }

// Request returns the HTTP request.
func (c *Context) Request() *http.Request { return c.r }

// Context returns the request's context (carrying RequestInfo).
func (c *Context) Context() context.Context { return c.r.Context() }

// Path returns the request path relative to BasePath.
func (c *Context) Path() string { return c.path }

// Param returns the path parameter name (from ":name" in the route).
func (c *Context) Param(name string) string { return c.params[name] }

// Query returns the first query-string value of name.
func (c *Context) Query(name string) string { return c.r.URL.Query().Get(name) }

// ClientIP returns the client IP (see Auth.ClientIP).
func (c *Context) ClientIP() string { return c.ip }

// Body returns the parsed JSON (or form) body, nil if there was none.
func (c *Context) Body() map[string]any { return c.body }

// Bind decodes the raw body into v with encoding/json, for typed access
// once the declared parameters (Endpoint.Body) have been checked.
func (c *Context) Bind(v any) error {
	if len(c.raw) == 0 {
		return nil
	}
	if c.body != nil && !json.Valid(c.raw) { // form body
		b, _ := json.Marshal(c.body)
		if err := json.Unmarshal(b, v); err != nil {
			return ErrValidation.WithMessage("[body] " + err.Error())
		}
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(c.raw))
	if err := d.Decode(v); err != nil {
		return ErrValidation.WithMessage("[body] " + err.Error())
	}
	return nil
}

// Session returns the session of the request, loading it on first use
// (from the signed cookie or, with Config.Bearer, the bearer token), or nil.
func (c *Context) Session() *SessionData {
	if !c.sessLoaded {
		c.sessLoaded = true
		c.loadSession(false)
	}
	return c.session
}

// loadSession resolves the request's session (see Auth.requestSession).
// As in Better Auth, ?disableRefresh and ?disableCookieCache (any
// non-empty value) apply on every route, and Sensitive routes always read
// the database.
func (c *Context) loadSession(refresh bool) error {
	q := c.r.URL.Query()
	opt := sessionLookup{
		refresh: refresh && q.Get("disableRefresh") == "",
		noCache: q.Get("disableCookieCache") != "" || c.endpoint != nil && c.endpoint.Sensitive,
	}
	sd, cookies, bearer, err := c.a.requestSession(c.r, opt)
	if err != nil {
		return err
	}
	c.bearer = bearer
	c.sessLoaded = true
	c.session = sd
	c.cookies = append(c.cookies, cookies...)
	return nil
}

// SetSession replaces the request's session (after a handler created or
// deleted one), so that after-hooks see it.
func (c *Context) SetSession(s *SessionData) { c.session, c.sessLoaded = s, true }

// SetSessionCookie re-issues the cookies of sd's session, as Better
// Auth's setSessionCookie: the signed session token (keeping the
// browser-session choice of the request's dont_remember cookie) and, with
// the cookie cache on, the cache, so that it shows sd. sd becomes the
// request's session. Call it after changing the session or its user.
func (c *Context) SetSessionCookie(sd *SessionData) {
	c.SetCookies(c.a.sessionCookies(c.r, sd, c.a.dontRemember(c.r)))
	c.SetSession(sd)
}

// Header returns the response headers to send.
func (c *Context) Header() http.Header { return c.header }

// SetCookie adds a cookie to the response.
func (c *Context) SetCookie(ck *http.Cookie) { c.cookies = append(c.cookies, ck) }

// SetCookies adds cookies to the response.
func (c *Context) SetCookies(cks []*http.Cookie) { c.cookies = append(c.cookies, cks...) }

// Cookies returns the cookies set so far.
func (c *Context) Cookies() []*http.Cookie { return c.cookies }

// RemoveCookies drops every cookie set so far whose name (before prefix)
// is one of names, or a chunk of one (name.0, name.1, … as the cookie
// cache is split).
func (c *Context) RemoveCookies(names ...string) {
	keep := c.cookies[:0]
	for _, ck := range c.cookies {
		drop := false
		for _, n := range names {
			full := c.a.CookieName(n)
			if suffix, ok := strings.CutPrefix(ck.Name, full+"."); ck.Name == full || ok && isChunkIndex(suffix) {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, ck)
		}
	}
	c.cookies = keep
}

// SetStatus sets the response status (default 200).
func (c *Context) SetStatus(code int) { c.status = code }

// Err returns the error the endpoint answered with (for Failed hooks).
func (c *Context) Err() error { return c.err }

// Result returns the value the handler returned (for after-hooks).
func (c *Context) Result() any { return c.result }

// SetResult replaces the value written as the response body.
func (c *Context) SetResult(v any) { c.result = v }

// Redirect answers 302 to location with an empty body.
func (c *Context) Redirect(location string) (any, error) {
	c.header.Set("Location", location)
	c.status = http.StatusFound
	return noBody{}, nil
}

type noBody struct{}

// RawJSON is a result written as is.
type RawJSON []byte
