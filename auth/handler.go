package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (a *Auth) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, a.cfg.BasePath)
	if !ok || path == "" || strings.Contains(r.URL.Path, "//") {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	e, params := a.router.match(r.Method, path)
	if e == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	ip := a.ClientIP(r)
	r = r.WithContext(WithRequestInfo(r.Context(), RequestInfo{IP: ip, UserAgent: r.UserAgent(), Request: r}))
	c := &Context{a: a, r: r, path: path, params: params, endpoint: e, ip: ip, header: http.Header{}}
	if err := a.run(c, w); err != nil {
		var intr *Interruption
		if !errors.As(err, &intr) {
			c.writeErr(w, err)
			return
		}
		c.SetCookies(intr.Cookies)
		c.result = intr.Body
		if intr.RedirectURL != "" && r.Method == http.MethodGet {
			// A browser navigation (a link): send it where the plugin says.
			c.Redirect(a.ResolveURL(intr.RedirectURL))
		}
	}
	c.write(w)
}

// run executes the request pipeline: rate limit, body, origin and redirect
// checks, before-hooks, parameter validation, session, handler, after-hooks.
func (a *Auth) run(c *Context, w http.ResponseWriter) error {
	r, e := c.r, c.endpoint
	if retry, refused := a.rateLimit(r.Context(), c.ip, c.path); refused {
		c.header.Set("X-Retry-After", strconv.Itoa(retry))
		return ErrTooManyRequests
	}
	body, raw, present, err := a.readBody(w, r, e.AllowForm)
	if err != nil {
		return err
	}
	c.raw, c.rawBody, c.bodyPresent = raw, body, present
	if obj, ok := body.(map[string]any); ok {
		c.body = obj
	}
	if err := a.CheckOrigin(r); err != nil {
		return err
	}
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || e.CheckRedirects {
		if err := a.checkRedirects(c); err != nil {
			return err
		}
	}
	if e.LoginCSRF {
		if err := a.checkLoginCSRF(r); err != nil {
			return err
		}
	}
	for _, h := range a.hooks {
		for _, hk := range h.Before {
			if hk.Match == nil || hk.Match(c) {
				if err := hk.Handler(c); err != nil {
					return err
				}
			}
		}
	}
	if err := validateBody(body, present, e.Body, e.AdditionalFields); err != nil {
		return err
	}
	if e.Auth >= SessionRequired || e.Auth == SessionOptional {
		if err := c.loadSession(true); err != nil {
			return err
		}
		if e.Auth >= SessionRequired && c.session == nil {
			return ErrUnauthorized
		}
		if e.Auth == FreshSessionRequired && a.cfg.Session.FreshAge > 0 &&
			a.Now().Sub(c.session.Session.CreatedAt) >= a.cfg.Session.FreshAge {
			return ErrSessionNotFresh
		}
	}
	res, err := e.Handler(c)
	if err != nil {
		var intr *Interruption
		if !errors.As(err, &intr) {
			c.err = err
			for _, h := range a.hooks {
				for _, hk := range h.Failed {
					if hk.Match == nil || hk.Match(c) {
						_ = hk.Handler(c)
					}
				}
			}
		}
		return err
	}
	c.result = res
	for _, h := range a.hooks {
		for _, hk := range h.After {
			if hk.Match == nil || hk.Match(c) {
				if err := hk.Handler(c); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// readBody reads and parses the request body. It returns the decoded JSON
// value (or the form as an object) and whether a body was present.
func (a *Auth) readBody(w http.ResponseWriter, r *http.Request, allowForm bool) (body any, raw []byte, present bool, err error) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Body == nil || r.Body == http.NoBody {
		return nil, nil, false, nil
	}
	raw, err = io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, nil, false, ErrBodyTooLarge
		}
		return nil, nil, false, ErrBadRequest.WithMessage("Could not read request body").With(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil, false, nil
	}
	allowed := "application/json"
	if allowForm {
		allowed = "application/x-www-form-urlencoded, application/json"
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, nil, false, ErrUnsupportedMediaType.WithMessage("Content-Type is required. Allowed types: " + allowed)
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch {
	case err == nil && mt == "application/json":
		var v any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&v); err != nil || len(bytes.TrimSpace(raw[d.InputOffset():])) != 0 {
			return nil, nil, false, ErrInvalidJSON // also for trailing data after the value
		}
		return v, raw, true, nil
	case err == nil && allowForm && mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, nil, false, ErrBadRequest.WithMessage("Invalid form body")
		}
		obj := map[string]any{}
		for k, v := range vals {
			obj[k] = v[0]
		}
		if rm, ok := obj["rememberMe"].(string); ok {
			obj["rememberMe"] = rm == "true" || rm == "on" || rm == "1"
		}
		return obj, raw, true, nil
	}
	return nil, nil, false, ErrUnsupportedMediaType.WithMessage("Content-Type \"" + ct + "\" is not allowed. Allowed types: " + allowed)
}

// CheckOrigin applies Better Auth's Origin check to r: a state-changing
// request (not GET, HEAD or OPTIONS) that carries a Cookie header must come
// from a trusted origin (Origin header, else Referer). Requests without
// cookies cannot ride on a browser session and pass. It returns
// ErrMissingOrNullOrigin or ErrInvalidOrigin.
func (a *Auth) CheckOrigin(r *http.Request) error {
	if a.cfg.DisableOriginCheck || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
		return nil
	}
	if r.Header.Get("Cookie") == "" {
		return nil
	}
	return a.checkOriginHeader(r)
}

func (a *Auth) checkOriginHeader(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "null" && r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return nil
	}
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" || origin == "null" {
		return ErrMissingOrNullOrigin
	}
	if !a.origins.trustedOrigin(origin) {
		// Loud, so that a missing TrustedOrigins entry is found at once.
		a.log.WarnContext(r.Context(), "auth: request refused: its origin is not trusted (add it to TrustedOrigins as scheme://host:port)",
			"origin", origin, "path", r.URL.Path, "trusted_origins", a.origins.list)
		return ErrInvalidOrigin
	}
	return nil
}

// checkLoginCSRFOf applies checkLoginCSRF to the HTTP request ctx serves
// (RequestInfo.Request), if any: the operations that create a session from
// a password run it whatever route calls them (an app's own login route,
// the reference server's /api/v1), not only the Endpoints marked
// LoginCSRF.
func (a *Auth) checkLoginCSRFOf(ctx context.Context) error {
	if r := RequestInfoFrom(ctx).Request; r != nil {
		return a.checkLoginCSRF(r)
	}
	return nil
}

// checkLoginCSRF is Better Auth's extra guard on cookie-less sign-in.
func (a *Auth) checkLoginCSRF(r *http.Request) error {
	if a.cfg.DisableOriginCheck {
		return nil
	}
	if r.Header.Get("Cookie") != "" {
		return a.checkOriginHeader(r)
	}
	site, mode, dest := r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Sec-Fetch-Mode"), r.Header.Get("Sec-Fetch-Dest")
	if site != "" || mode != "" || dest != "" {
		if site == "cross-site" && mode == "navigate" {
			return ErrCrossSiteNavigation
		}
		return a.checkOriginHeader(r)
	}
	if r.Header.Get("Origin") != "" || r.Header.Get("Referer") != "" {
		return a.checkOriginHeader(r)
	}
	return nil
}

var redirectParams = []struct {
	name string
	err  *Error
}{
	{"callbackURL", ErrInvalidCallbackURL},
	{"redirectTo", ErrInvalidRedirectURL},
	{"errorCallbackURL", ErrInvalidErrorCallbackURL},
	{"newUserCallbackURL", ErrInvalidNewUserCallbackURL},
}

// checkRedirects validates redirect targets in the body (else the query).
func (a *Auth) checkRedirects(c *Context) error {
	q := c.r.URL.Query()
	for _, p := range redirectParams {
		v, inBody := c.body[p.name]
		if !inBody {
			if !q.Has(p.name) {
				continue
			}
			v = q.Get(p.name)
		}
		if v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return ErrValidation.WithMessage("Invalid " + p.name + ": expected a string")
		}
		if s != "" && !a.origins.trustedRedirect(s) {
			return p.err
		}
	}
	return nil
}

func (c *Context) write(w http.ResponseWriter) {
	a := c.a
	h := w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	WriteCookies(w, c.cookies)
	if a.cfg.Bearer {
		for i := len(c.cookies) - 1; i >= 0; i-- {
			ck := c.cookies[i]
			if ck.Name == a.CookieName(CookieSessionToken) {
				if ck.Value != "" && ck.MaxAge >= 0 {
					v, err := url.PathUnescape(ck.Value)
					if err == nil {
						h.Set("Set-Auth-Token", v)
						AddExposedHeader(h, "set-auth-token")
					}
				}
				break
			}
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	status := c.status
	if status == 0 {
		status = http.StatusOK
	}
	var out []byte
	switch v := c.result.(type) {
	case noBody:
	case RawJSON:
		out = v
	case htmlBody:
		out = []byte(v)
	case nil:
		out = []byte("null")
	default:
		var err error
		if out, err = json.Marshal(v); err != nil {
			c.writeErr(w, ErrInternal.With(err))
			return
		}
	}
	w.WriteHeader(status)
	w.Write(out)
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

func (c *Context) writeErr(w http.ResponseWriter, err error) {
	h := w.Header()
	for k, v := range c.header {
		h[k] = v
	}
	WriteCookies(w, c.cookies)
	c.a.writeError(w, c.r, err)
}

type errorBody struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

// WriteError writes err as Better Auth's JSON error body with its status.
// Errors that are not *Error are logged with their detail and answered 500
// without it.
func (a *Auth) WriteError(w http.ResponseWriter, r *http.Request, err error) { a.writeError(w, r, err) }

func (a *Auth) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away: nobody reads the answer, nothing failed.
		a.log.DebugContext(r.Context(), "auth: client closed the request", "path", r.URL.Path)
		w.WriteHeader(499)
		return
	}
	e := AsError(err)
	if e.Status >= 500 {
		a.log.ErrorContext(r.Context(), "auth: request failed", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", e.Err)
		if e.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
	}
	if n := e.RetryAfterSeconds(); n > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(n))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(errorBody{Message: e.Message, Code: e.Code})
	w.Write(b)
}
