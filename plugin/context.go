package plugin

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
	host        Host
	r           *http.Request
	route       Route
	raw         []byte
	bodyPresent bool
	body        map[string]any

	session    *SessionData
	sessLoaded bool

	err error

	header  http.Header
	cookies []*http.Cookie
	status  int
	result  any
}

// Route is a request matched to an endpoint, as a host hands it to
// NewContext.
type Route struct {
	// Endpoint is the matched endpoint.
	Endpoint *Endpoint
	// Path is the request path relative to the host's base path.
	Path string
	// Params holds the values of the path's ":name" segments.
	Params map[string]string
	// ClientIP is the client's address (see Host.ClientIP).
	ClientIP string
	// LoadSession resolves the request's session (nil without one) and
	// the cookies that refresh it. Context.Session calls it on first use;
	// nil means the request has no session.
	LoadSession func() (*SessionData, []*http.Cookie, error)
}

// NewContext returns the Context of r for the endpoint of rt. A host
// builds one per request (package auth does); a plugin's test may build
// one to call a handler directly.
func NewContext(h Host, r *http.Request, rt Route) *Context {
	return &Context{host: h, r: r, route: rt, header: http.Header{}}
}

// SetBody records the request body as the host read it: raw is the body's
// bytes, body its decoded value (a JSON value, or for a form the map of
// its fields) and present whether the request had a body at all. Hosts
// call it before the handler runs.
func (c *Context) SetBody(raw []byte, body any, present bool) {
	c.raw, c.bodyPresent = raw, present
	c.body, _ = body.(map[string]any)
}

// Host returns the host serving the request.
func (c *Context) Host() Host { return c.host }

// Request returns the HTTP request.
func (c *Context) Request() *http.Request { return c.r }

// Context returns the request's context (carrying RequestInfo).
func (c *Context) Context() context.Context { return c.r.Context() }

// Endpoint returns the endpoint being served.
func (c *Context) Endpoint() *Endpoint { return c.route.Endpoint }

// Path returns the request path relative to the base path.
func (c *Context) Path() string { return c.route.Path }

// Param returns the path parameter name (from ":name" in the route).
func (c *Context) Param(name string) string { return c.route.Params[name] }

// Query returns the first query-string value of name.
func (c *Context) Query(name string) string { return c.r.URL.Query().Get(name) }

// ClientIP returns the client IP (see Host.ClientIP).
func (c *Context) ClientIP() string { return c.route.ClientIP }

// Body returns the parsed JSON (or form) body if it is an object, else
// nil.
func (c *Context) Body() map[string]any { return c.body }

// RawBody returns the request body as read, and whether there was one.
func (c *Context) RawBody() ([]byte, bool) { return c.raw, c.bodyPresent }

// String returns the body parameter name as a string ("" if absent or not
// a string).
func (c *Context) String(name string) string { s, _ := c.body[name].(string); return s }

// Bool returns the body parameter name as a bool, or def if absent.
func (c *Context) Bool(name string, def bool) bool {
	b, ok := c.body[name].(bool)
	if !ok {
		return def
	}
	return b
}

// Has reports whether the body has parameter name.
func (c *Context) Has(name string) bool { _, ok := c.body[name]; return ok }

// Bind decodes the raw body into v with encoding/json, for typed access
// once the declared parameters (Endpoint.Body) have been checked. A body
// that does not fit v is ErrValidation.
func (c *Context) Bind(v any) error {
	if len(c.raw) == 0 {
		return nil
	}
	raw := c.raw
	if c.body != nil && !json.Valid(raw) { // form body
		raw, _ = json.Marshal(c.body)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	if err := d.Decode(v); err != nil {
		return ErrValidation.WithMessage("[body] " + err.Error())
	}
	return nil
}

// Session returns the session of the request, loading it on first use
// (from the signed cookie or, with bearer tokens on, the Authorization
// header), or nil.
func (c *Context) Session() *SessionData {
	if !c.sessLoaded {
		c.sessLoaded = true
		if c.route.LoadSession != nil {
			sd, cookies, err := c.route.LoadSession()
			if err == nil {
				c.session = sd
				c.cookies = append(c.cookies, cookies...)
			}
		}
	}
	return c.session
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
	v, ok := c.host.ReadSignedCookie(c.r, CookieDontRemember)
	c.SetCookies(c.host.SessionCookies(c.r, sd, ok && v == "true"))
	c.SetSession(sd)
}

// SignedIn answers a sign-in: it sets the cookies of res (the session's
// and any a hook added) and makes its session the request's, so that
// after-hooks see it.
func (c *Context) SignedIn(res *AuthResult) {
	c.SetCookies(res.Cookies)
	if res.Session != nil {
		c.SetSession(&SessionData{Session: res.Session, User: res.User})
	}
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
			full := c.host.CookieName(n)
			if suffix, ok := strings.CutPrefix(ck.Name, full+"."); ck.Name == full || ok && isDigits(suffix) {
				drop = true
			}
		}
		if !drop {
			keep = append(keep, ck)
		}
	}
	c.cookies = keep
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// SetStatus sets the response status (default 200).
func (c *Context) SetStatus(code int) { c.status = code }

// Status returns the status set with SetStatus, or 0.
func (c *Context) Status() int { return c.status }

// Err returns the error the endpoint answered with (for Failed hooks).
func (c *Context) Err() error { return c.err }

// SetErr records the error the endpoint answered with; hosts call it
// before running the Failed hooks.
func (c *Context) SetErr(err error) { c.err = err }

// Result returns the value the handler returned (for after-hooks).
func (c *Context) Result() any { return c.result }

// SetResult replaces the value written as the response body.
func (c *Context) SetResult(v any) { c.result = v }

// Redirect answers 302 to location with an empty body.
func (c *Context) Redirect(location string) (any, error) {
	c.header.Set("Location", location)
	c.status = http.StatusFound
	c.result = RawJSON{}
	return RawJSON{}, nil
}

// RawJSON is a result written as is (an empty one writes no body).
type RawJSON []byte

// OptString returns the body parameter name as a *string: nil when it is
// absent or not a string.
func (c *Context) OptString(name string) *string {
	if s, ok := c.body[name].(string); ok {
		return &s
	}
	return nil
}

// OptBool returns the body parameter name as a *bool: nil when it is
// absent or not a bool.
func (c *Context) OptBool(name string) *bool {
	if b, ok := c.body[name].(bool); ok {
		return &b
	}
	return nil
}
