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
	"path"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

func (a *Auth) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if path.Clean(r.URL.Path) != r.URL.Path { // "//", "/./", a trailing "/": the mux would redirect
		notFound(w, r)
		return
	}
	a.router.mux.ServeHTTP(w, r)
}

// serveEndpoint serves a request the router matched to endpoint e.
func (a *Auth) serveEndpoint(w http.ResponseWriter, r *http.Request, e *plugin.Endpoint, params map[string]string) {
	path := strings.TrimPrefix(r.URL.Path, a.cfg.BasePath)
	ip := a.clientIP(r)
	r = r.WithContext(plugin.WithRequestInfo(r.Context(), plugin.RequestInfo{IP: ip, UserAgent: r.UserAgent(), Request: r}))
	c := plugin.NewContext(host{a}, r, plugin.Route{Endpoint: e, Path: path, Params: params, ClientIP: ip,
		LoadSession: func() (*SessionData, []*http.Cookie, error) { return a.contextSession(r, e, false) }})
	if err := a.run(c, w); err != nil {
		var intr *plugin.Interruption
		if !errors.As(err, &intr) {
			a.writeErr(c, w, err)
			return
		}
		c.SetCookies(intr.Cookies)
		c.SetResult(intr.Body)
		if intr.RedirectURL != "" && r.Method == http.MethodGet {
			// A browser navigation (a link): send it where the plugin says.
			c.Redirect(a.resolveURL(intr.RedirectURL))
		}
	}
	a.write(c, w)
}

// run executes the request pipeline: rate limit, body, origin and redirect
// checks, before-hooks, parameter validation, session, handler, after-hooks.
func (a *Auth) run(c *plugin.Context, w http.ResponseWriter) error {
	r, e := c.Request(), c.Endpoint()
	if retry, refused := a.rateLimit(r.Context(), c.ClientIP(), c.Path()); refused {
		c.Header().Set("X-Retry-After", strconv.Itoa(retry))
		return ErrTooManyRequests
	}
	body, raw, present, err := a.readBody(w, r, e.AllowForm)
	if err != nil {
		return err
	}
	c.SetBody(raw, body, present)
	if !e.SkipOriginCheck {
		if err := a.CheckOrigin(r); err != nil {
			return err
		}
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
	if e.Auth >= plugin.SessionRequired || e.Auth == plugin.SessionOptional {
		sd, cookies, err := a.contextSession(r, e, true)
		if err != nil {
			return err
		}
		c.SetCookies(cookies)
		c.SetSession(sd)
		if e.Auth >= plugin.SessionRequired && sd == nil {
			return ErrUnauthorized
		}
		if e.Auth == plugin.FreshSessionRequired && a.cfg.Session.FreshAge > 0 &&
			a.clockNow().Sub(sd.Session.CreatedAt) >= a.cfg.Session.FreshAge {
			return ErrSessionNotFresh
		}
	}
	res, err := e.Handler(c)
	if err != nil {
		var intr *plugin.Interruption
		if !errors.As(err, &intr) {
			c.SetErr(err)
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
	c.SetResult(res)
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
// (plugin.RequestInfo.Request), if any: the operations that create a session from
// a password run it whatever route calls them (an app's own login route,
// the reference server's /api/v1), not only the Endpoints marked
// LoginCSRF.
func (a *Auth) checkLoginCSRFOf(ctx context.Context) error {
	if r := plugin.RequestInfoFrom(ctx).Request; r != nil {
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
func (a *Auth) checkRedirects(c *plugin.Context) error {
	q := c.Request().URL.Query()
	for _, p := range redirectParams {
		v, inBody := c.Body()[p.name]
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
			return plugin.ErrValidation.WithMessage("Invalid " + p.name + ": expected a string")
		}
		if s != "" && !a.origins.trustedRedirect(s) {
			return p.err
		}
	}
	return nil
}

func (a *Auth) write(c *plugin.Context, w http.ResponseWriter) {
	h := w.Header()
	for k, v := range c.Header() {
		h[k] = v
	}
	plugin.WriteCookies(w, c.Cookies())
	if a.cfg.Bearer {
		cookies := c.Cookies()
		for i := len(cookies) - 1; i >= 0; i-- {
			ck := cookies[i]
			if ck.Name == a.cookieName(plugin.CookieSessionToken) {
				if ck.Value != "" && ck.MaxAge >= 0 {
					v, err := url.PathUnescape(ck.Value)
					if err == nil {
						h.Set("Set-Auth-Token", v)
						plugin.AddExposedHeader(h, "set-auth-token")
					}
				}
				break
			}
		}
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	status := c.Status()
	if status == 0 {
		status = http.StatusOK
	}
	var out []byte
	switch v := c.Result().(type) {
	case plugin.RawJSON:
		out = v
	case *SessionData: // get-session: written without reflection
		if v == nil {
			out = []byte("null")
		} else {
			out = v.AppendJSON(make([]byte, 0, 1024))
		}
	case htmlBody:
		out = []byte(v)
	case nil:
		out = []byte("null")
	default:
		var err error
		if out, err = json.Marshal(v); err != nil {
			a.writeErr(c, w, plugin.ErrInternal.With(err))
			return
		}
	}
	w.WriteHeader(status)
	w.Write(out)
}

func (a *Auth) writeErr(c *plugin.Context, w http.ResponseWriter, err error) {
	h := w.Header()
	for k, v := range c.Header() {
		h[k] = v
	}
	plugin.WriteCookies(w, c.Cookies())
	a.writeError(w, c.Request(), err)
}

type errorBody struct {
	Message string         `json:"message"`
	Code    string         `json:"code,omitempty"`
	Details map[string]any `json:"details,omitempty"`
}

// WriteError writes err as Better Auth's JSON error body with its status:
// {"message", "code"}, and "details" when the error has Details. Errors
// that are not *Error are logged with their detail and answered 500
// without it.
func (a *Auth) WriteError(w http.ResponseWriter, r *http.Request, err error) { a.writeError(w, r, err) }

func (a *Auth) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away: nobody reads the answer, nothing failed.
		a.log.DebugContext(r.Context(), "auth: client closed the request", "path", r.URL.Path)
		w.WriteHeader(499)
		return
	}
	e := plugin.AsError(err)
	if e.Status >= 500 {
		// A refusal of the hashing gate is counted and logged (spaced
		// out) by the gate: a flood must not write a line per request.
		if !errors.Is(e, ErrBusy) {
			a.log.ErrorContext(r.Context(), "auth: request failed", "method", r.Method, "path", r.URL.Path, "code", e.Code, "err", e.Err)
		}
		if e.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
	}
	if n := e.RetryAfterSeconds(); n > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(n))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	b, err := json.Marshal(errorBody{Message: e.Message, Code: e.Code, Details: e.Details})
	if err != nil { // details that are no JSON: the answer without them
		a.log.ErrorContext(r.Context(), "auth: error details are not JSON", "code", e.Code, "err", err)
		b, _ = json.Marshal(errorBody{Message: e.Message, Code: e.Code})
	}
	w.Write(b)
}

// contextSession resolves the session of a request to endpoint e (see
// requestSession). As in Better Auth, ?disableRefresh and
// ?disableCookieCache (any non-empty value) apply on every route, and
// Sensitive routes always read the database.
func (a *Auth) contextSession(r *http.Request, e *plugin.Endpoint, refresh bool) (*SessionData, []*http.Cookie, error) {
	opt := sessionLookup{refresh: refresh, noCache: e != nil && e.Sensitive}
	if r.URL.RawQuery != "" { // parsed only when there is a query
		q := r.URL.Query()
		opt.refresh = opt.refresh && q.Get("disableRefresh") == ""
		opt.noCache = opt.noCache || q.Get("disableCookieCache") != ""
	}
	sd, cookies, _, err := a.requestSession(r, opt)
	return sd, cookies, err
}
