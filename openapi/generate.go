package openapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
)

// coreTag is the tag of the core's routes (the endpoints whose PluginID is
// empty).
const coreTag = "core"

// Better Auth's defaults for the info object.
const (
	defaultTitle       = "Better Auth"
	defaultDescription = "API Reference for your Better Auth Instance"
	defaultVersion     = "1.1.0"
)

// Names in Components.
const (
	errorSchema   = "Error"
	sessionCookie = "sessionCookie"
	bearerAuth    = "bearerAuth"
)

// Generate builds the OpenAPI document of every route h mounts
// (Host.Endpoints: the core's and every plugin's, this plugin's
// included), from their declarations: path parameters, the body
// parameters with their kinds (JSON, and form encoding where the route
// accepts it), the session a route requires (cookie or bearer), and per
// status the error codes its plugin declares (Host.ErrorCodes) with those
// the request pipeline may answer (validation, origin and redirect checks,
// 401, 403 SESSION_NOT_FRESH, 429 with X-Retry-After). Responses of 200
// are left open: routes declare no response shape. Empty fields of info
// take their defaults (see Info).
//
// An app, or the mana-auth openapi command, calls it with its
// auth.(*Auth).Host():
//
//	doc, err := openapi.Generate(a.Host(), openapi.Info{Version: "2.3.0"})
//	if err != nil { … }
//	out, err := json.MarshalIndent(doc, "", "  ")
//
// It fails on a route OpenAPI cannot describe (a method other than GET,
// PUT, POST, DELETE, OPTIONS, HEAD, PATCH and TRACE) or one declared
// twice.
func Generate(h plugin.Host, info Info) (*Document, error) {
	s := h.Settings()
	if info.Title == "" {
		info.Title = cmp.Or(s.AppName, defaultTitle)
	}
	info.Description = cmp.Or(info.Description, defaultDescription)
	info.Version = cmp.Or(info.Version, defaultVersion)
	g := &generator{
		h: h,
		doc: &Document{
			OpenAPI: Version,
			Info:    info,
			Servers: []Server{{URL: strings.TrimSuffix(s.BaseURL, "/") + s.BasePath, Description: "The auth server (BaseURL + BasePath)"}},
			Paths:   map[string]*PathItem{},
			Components: Components{
				Schemas: map[string]*Schema{errorSchema: {
					Type:        Types{"object"},
					Description: "Better Auth's error body. A few errors (the 429) carry no code.",
					Properties: map[string]*Schema{
						"message": {Type: Types{"string"}, Description: "A text safe to show a user."},
						"code":    {Type: Types{"string"}, Description: "A stable, machine-readable code."},
					},
					Required: []string{"message"},
				}},
				Responses: map[string]*Response{},
				Examples:  map[string]*Example{},
				SecuritySchemes: map[string]*SecurityScheme{
					sessionCookie: {Type: "apiKey", In: "cookie", Name: h.CookieName(plugin.CookieSessionToken),
						Description: "The signed session cookie that a sign-in sets."},
					bearerAuth: {Type: "http", Scheme: "bearer",
						Description: "The session token as a bearer token, where the server accepts them (auth.Config.Bearer): the set-auth-token header of a sign-in."},
				},
			},
		},
		ids:        map[string]bool{},
		templates:  map[string]string{},
		exampleOf:  map[exampleKey]string{},
		responseOf: map[string]string{},
		tagged:     map[string]bool{},
		coreCodes:  map[string]*plugin.Error{},
		codesOf:    map[string][]*plugin.Error{},
		rules:      ratelimit.DefaultRules(),
		limited:    map[string]bool{},
	}
	for _, e := range h.ErrorCodes("") {
		if e != nil && e.Code != "" {
			g.coreCodes[e.Code] = e
		}
	}
	eps := h.Endpoints()
	for _, me := range eps {
		g.addRateLimits(me.PluginID)
	}
	for _, me := range eps {
		if err := g.add(me); err != nil {
			return nil, err
		}
	}
	return g.doc, nil
}

// Write writes the document of h's routes (Generate) to w as indented
// JSON ending in a newline: what a command that prints the document
// (mana-auth openapi) needs.
func Write(w io.Writer, h plugin.Host, info Info) error {
	doc, err := Generate(h, info)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

type exampleKey struct{ tag, code string }

type generator struct {
	h          plugin.Host
	doc        *Document
	ids        map[string]bool            // operation IDs in use
	templates  map[string]string          // path with "{}" for parameters → the path key in use
	exampleOf  map[exampleKey]string      // an error's example → its name in Components.Examples
	responseOf map[string]string          // a shared response (as JSON) → its name in Components.Responses
	tagged     map[string]bool            // tags in Document.Tags
	coreCodes  map[string]*plugin.Error   // the core's declared errors by code
	codesOf    map[string][]*plugin.Error // the declared errors of a plugin, by ID
	rules      map[string]ratelimit.Rule  // the built-in rate-limit rules (the core's, then the plugins')
	limited    map[string]bool            // plugins whose rules are in rules
}

// addRateLimits adds the rules of the plugin with the ID, once, as auth
// does (a later plugin's rule replaces an earlier one's).
func (g *generator) addRateLimits(id string) {
	if id == "" || g.limited[id] {
		return
	}
	g.limited[id] = true
	if rs, ok := g.h.Plugin(id).(plugin.RateLimitSource); ok {
		for k, v := range rs.RateLimits() {
			g.rules[k] = v
		}
	}
}

// add documents one mounted endpoint.
func (g *generator) add(me plugin.MountedEndpoint) error {
	method := strings.ToUpper(me.Method)
	if !strings.HasPrefix(me.Path, "/") {
		return fmt.Errorf("openapi: %s %q: the path must start with /", method, me.Path)
	}
	tag := cmp.Or(me.PluginID, coreTag)
	g.addTag(tag)

	// Path: ":name" segments become "{name}". Two paths that differ only
	// in their parameters' names are one path to OpenAPI: the first
	// names are kept.
	segs := strings.Split(me.Path, "/")
	var params []string
	tmpl := make([]string, len(segs))
	for i, s := range segs {
		tmpl[i] = s
		if name, ok := strings.CutPrefix(s, ":"); ok {
			params = append(params, name)
			tmpl[i] = "{}"
		}
	}
	shape := strings.Join(tmpl, "/")
	key, seen := g.templates[shape]
	if !seen {
		for i, s := range segs {
			if strings.HasPrefix(s, ":") {
				segs[i] = "{" + s[1:] + "}"
			}
		}
		key = strings.Join(segs, "/")
		g.templates[shape] = key
	} else {
		params = params[:0]
		for _, s := range strings.Split(key, "/") {
			if strings.HasPrefix(s, "{") {
				params = append(params, s[1:len(s)-1])
			}
		}
	}
	item := g.doc.Paths[key]
	if item == nil {
		item = &PathItem{}
		g.doc.Paths[key] = item
	}
	slot := item.slot(method)
	if slot == nil {
		return fmt.Errorf("openapi: %s %s: OpenAPI 3.1 has no operation for the method %s", method, me.Path, method)
	}
	if *slot != nil {
		return fmt.Errorf("openapi: %s %s: declared twice", method, me.Path)
	}

	op := &Operation{
		Tags:        []string{tag},
		OperationID: g.operationID(method, colonPath(key)),
		Description: describe(me, method),
		Responses:   map[string]*Response{},
	}
	for _, p := range params {
		op.Parameters = append(op.Parameters, Parameter{Name: p, In: "path", Required: true, Schema: &Schema{Type: Types{"string"}}})
	}
	known := knownRoutes[method+" "+me.Path]
	if me.PluginID == "" {
		op.Parameters = append(op.Parameters, known.query...)
	}
	op.RequestBody = requestBody(me.Endpoint, method)
	switch {
	case me.Auth >= plugin.SessionRequired:
		op.Security = []SecurityRequirement{{sessionCookie: {}}, {bearerAuth: {}}}
	case me.Auth == plugin.SessionOptional, readsSessionItself(me.Endpoint):
		op.Security = []SecurityRequirement{{sessionCookie: {}}, {bearerAuth: {}}, {}}
	}
	op.Responses["200"] = g.success(me, method, known)
	if method == http.MethodGet && me.CheckRedirects {
		op.Responses["302"] = &Response{
			Description: "A redirect (a browser navigation): to the callback URL, with an error query parameter when the request failed.",
			Headers:     map[string]*Header{"Location": {Description: "Where the browser goes next.", Schema: &Schema{Type: Types{"string"}}}},
		}
	}
	g.errorResponses(op, me, method, tag)
	*slot = op
	return nil
}

// colonPath writes the "{name}" segments of an OpenAPI path as ":name".
func colonPath(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = ":" + s[1:len(s)-1]
		}
	}
	return strings.Join(segs, "/")
}

func (g *generator) addTag(tag string) {
	if g.tagged[tag] {
		return
	}
	g.tagged[tag] = true
	desc := fmt.Sprintf("The routes of the plugin %q.", tag)
	if tag == coreTag {
		desc = "The core routes: sign-up and sign-in by email and password, sessions, the user, email verification and password reset."
	}
	g.doc.Tags = append(g.doc.Tags, Tag{Name: tag, Description: desc})
}

// baOperationIDs are Better Auth's operation IDs where they differ from
// the ones derived from the path, so that clients generated from either
// document have the same method names. A second method of the path gets
// the method as suffix (getSessionPost, handleOAuthCallbackPost), as in
// Better Auth.
var baOperationIDs = map[string]string{
	"/sign-up/email":         "signUpWithEmailAndPassword",
	"/list-sessions":         "listUserSessions",
	"/reset-password/:token": "resetPasswordCallback",
	"/sign-in/social":        "socialSignIn",
	"/callback/:id":          "handleOAuthCallback",
	"/link-social":           "linkSocialAccount",
	"/list-accounts":         "listUserAccounts",
}

// operationID derives a unique ID from the path in camel case
// (/sign-in/email → signInEmail, /org/:id → orgById), with the method as
// suffix when the ID is taken, then a number.
func (g *generator) operationID(method, path string) string {
	id := baOperationIDs[path]
	if id == "" {
		var b strings.Builder
		for _, seg := range strings.Split(path, "/") {
			if name, ok := strings.CutPrefix(seg, ":"); ok {
				b.WriteString("By")
				seg = name
			}
			for _, w := range strings.FieldsFunc(seg, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
				if b.Len() == 0 {
					b.WriteString(strings.ToLower(w[:1]) + w[1:])
				} else {
					b.WriteString(strings.ToUpper(w[:1]) + w[1:])
				}
			}
		}
		id = cmp.Or(b.String(), "root")
	}
	if !g.ids[id] {
		g.ids[id] = true
		return id
	}
	base := id + method[:1] + strings.ToLower(method[1:])
	id = base
	for n := 2; g.ids[id]; n++ {
		id = base + strconv.Itoa(n)
	}
	g.ids[id] = true
	return id
}

// describe says in prose what the declaration tells about the route.
func describe(me plugin.MountedEndpoint, method string) string {
	var parts []string
	switch me.Auth {
	case plugin.SessionRequired:
		parts = append(parts, "Requires a session (401 UNAUTHORIZED without one).")
	case plugin.FreshSessionRequired:
		parts = append(parts, "Requires a fresh session: 401 UNAUTHORIZED without one, 403 SESSION_NOT_FRESH when it is older than the server's fresh age.")
	case plugin.SessionOptional:
		parts = append(parts, "Reads the session if there is one.")
	}
	if readsSessionItself(me.Endpoint) {
		parts = append(parts, "The route reads the session itself: it may answer 401, with an empty body, without one.")
	}
	if me.Sensitive {
		parts = append(parts, "The session is read from the database, never from the cookie cache.")
	}
	if method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions && !me.SkipOriginCheck {
		parts = append(parts, "A request that carries cookies must come from a trusted origin (Origin or Referer header).")
	}
	if me.LoginCSRF {
		parts = append(parts, "A sign-in route: a cross-site navigation is refused (login CSRF).")
	}
	if me.CheckRedirects || method != http.MethodGet && method != http.MethodHead {
		parts = append(parts, "Redirect targets (callbackURL, redirectTo, errorCallbackURL, newUserCallbackURL) must be relative or trusted.")
	}
	return strings.Join(parts, " ")
}

// schemaOf is the JSON Schema of a parameter kind.
func schemaOf(k plugin.Kind) *Schema {
	switch k {
	case plugin.KindString:
		return &Schema{Type: Types{"string"}}
	case plugin.KindEmail:
		return &Schema{Type: Types{"string"}, Format: "email"}
	case plugin.KindBool:
		return &Schema{Type: Types{"boolean"}}
	case plugin.KindNumber:
		return &Schema{Type: Types{"number"}}
	case plugin.KindObject:
		return &Schema{Type: Types{"object"}}
	case plugin.KindArray:
		return &Schema{Type: Types{"array"}, Items: &Schema{}}
	}
	return &Schema{}
}

// requestBody is the body of e: its declared parameters (an optional one
// may also be null), or an open object for a route that declares none but
// may read one (any method but GET, HEAD, OPTIONS and TRACE, which carry
// no body the host reads).
func requestBody(e plugin.Endpoint, method string) *RequestBody {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return nil
	}
	s := &Schema{Type: Types{"object"}}
	rb := &RequestBody{}
	if len(e.Body) == 0 {
		rb.Description = "The route declares no body parameters; members it does not read are ignored."
	} else {
		s.Properties = map[string]*Schema{}
		for _, p := range e.Body {
			ps := schemaOf(p.Kind)
			if p.Optional {
				if len(ps.Type) > 0 {
					ps.Type = append(ps.Type, "null")
				}
			} else {
				s.Required = append(s.Required, p.Name)
			}
			s.Properties[p.Name] = ps
		}
		rb.Required = len(s.Required) > 0
		rb.Description = "Members not listed are ignored."
		if e.AdditionalFields {
			rb.Description = "The user's additional fields may be set too; other members are ignored."
		}
	}
	rb.Content = map[string]*MediaType{"application/json": {Schema: s}}
	if e.AllowForm {
		rb.Content["application/x-www-form-urlencoded"] = &MediaType{Schema: s}
	}
	return rb
}

// knownRoute is what the declarations do not tell of a core route: its
// query parameters and the type of its answer.
type knownRoute struct {
	query []Parameter
	html  bool // the 200 is an HTML page
}

func query(name string, required bool, desc string) Parameter {
	return Parameter{Name: name, In: "query", Required: required, Description: desc, Schema: &Schema{Type: Types{"string"}}}
}

// knownRoutes holds the core's query parameters ("METHOD path"), which
// plugin.Endpoint does not declare.
var knownRoutes = map[string]knownRoute{
	"GET /get-session": {query: []Parameter{
		query("disableCookieCache", false, "Any non-empty value reads the session from the database, not from the cookie cache."),
		query("disableRefresh", false, "Any non-empty value leaves the session's expiry as it is."),
	}},
	"GET /verify-email": {query: []Parameter{
		query("token", true, "The token of the verification link."),
		query("callbackURL", false, "Where to redirect once verified (relative or trusted)."),
	}},
	"GET /reset-password/:token": {query: []Parameter{
		query("callbackURL", true, "The page that sets the new password; it receives the token (or error=INVALID_TOKEN)."),
	}},
	"POST /reset-password": {query: []Parameter{
		query("token", false, "The reset token, when the body has none."),
	}},
	"GET /error": {html: true, query: []Parameter{
		query("error", false, "The error code to show."),
		query("error_description", false, "A description of the error."),
	}},
}

// success is the 200 response: open, since routes declare no response
// shape, except for the routes whose answer is known.
func (g *generator) success(me plugin.MountedEndpoint, method string, known knownRoute) *Response {
	if me.PluginID == pluginID && method == http.MethodGet {
		if me.Path == schemaPath {
			return &Response{Description: "This OpenAPI document.",
				Content: map[string]*MediaType{"application/json": {Schema: &Schema{Type: Types{"object"}}}}}
		}
		return &Response{Description: "The API reference page (Scalar).",
			Content: map[string]*MediaType{"text/html": {Schema: &Schema{Type: Types{"string"}}}}}
	}
	if me.PluginID == "" && known.html {
		return &Response{Description: "An HTML page.",
			Content: map[string]*MediaType{"text/html": {Schema: &Schema{Type: Types{"string"}}}}}
	}
	return &Response{Description: "Success. The route declares no response shape: any JSON value.",
		Content: map[string]*MediaType{"application/json": {Schema: &Schema{}}}}
}

// pipelineError is an error the host's request pipeline may answer any
// route with, when the route's declaration makes it possible.
type pipelineError struct {
	code    string
	status  int
	message string // when the host does not declare the code
	applies func(e plugin.Endpoint, method string) bool
}

func hasBody(_ plugin.Endpoint, method string) bool {
	return method != http.MethodGet && method != http.MethodHead
}

func always(plugin.Endpoint, string) bool { return true }

func originChecked(e plugin.Endpoint, method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions && !e.SkipOriginCheck
}

func redirectsChecked(e plugin.Endpoint, method string) bool {
	return e.CheckRedirects || method != http.MethodGet && method != http.MethodHead
}

// pipeline lists the pipeline's errors; a route is documented with those
// that apply to it, and with none of them otherwise even when its plugin
// declares them.
var pipeline = []pipelineError{
	{"VALIDATION_ERROR", 400, "Invalid request", func(e plugin.Endpoint, _ string) bool { return len(e.Body) > 0 }},
	{"BAD_REQUEST", 400, "Invalid JSON in request body", hasBody},
	{"INVALID_INPUT", 400, "Invalid input: text must be valid UTF-8 without NUL characters", always},
	{"PAYLOAD_TOO_LARGE", 413, "Request body is too large", hasBody},
	{"UNSUPPORTED_MEDIA_TYPE", 415, "Content-Type is not allowed. Allowed types: application/json", hasBody},
	{"INVALID_ORIGIN", 403, "Invalid origin", originChecked},
	{"MISSING_OR_NULL_ORIGIN", 403, "Missing or null Origin", originChecked},
	{"INVALID_CALLBACK_URL", 403, "Invalid callbackURL", redirectsChecked},
	{"INVALID_REDIRECT_URL", 403, "Invalid redirectURL", redirectsChecked},
	{"INVALID_ERROR_CALLBACK_URL", 403, "Invalid errorCallbackURL", redirectsChecked},
	{"INVALID_NEW_USER_CALLBACK_URL", 403, "Invalid newUserCallbackURL", redirectsChecked},
	{"CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", 403, "Cross-site navigation login blocked. This request appears to be a CSRF attack.",
		func(e plugin.Endpoint, _ string) bool { return e.LoginCSRF }},
	{"UNAUTHORIZED", 401, "Unauthorized", func(e plugin.Endpoint, _ string) bool { return e.Auth >= plugin.SessionRequired }},
	{"SESSION_NOT_FRESH", 403, "Session is not fresh", func(e plugin.Endpoint, _ string) bool { return e.Auth == plugin.FreshSessionRequired }},
	{"INTERNAL_SERVER_ERROR", 500, "Internal server error", always},
	{"SERVICE_UNAVAILABLE", 503, "Service temporarily unavailable", always},
}

// tooManyRequests is the rate limiter's answer, which has no code.
const tooManyRequests = "Too many requests. Please try again later."

// errorResponses adds a response per error status the route may answer:
// the errors its plugin declares and the pipeline's that apply, each an
// example of the error body.
func (g *generator) errorResponses(op *Operation, me plugin.MountedEndpoint, method, tag string) {
	type entry struct {
		name string // in Components.Examples
		code string
	}
	byStatus := map[int][]entry{}
	seen := map[string]bool{}
	pipelineCode := map[string]bool{}
	for _, pe := range pipeline {
		pipelineCode[pe.code] = true
		if !pe.applies(me.Endpoint, method) {
			continue
		}
		e := g.coreCodes[pe.code]
		if e == nil {
			e = plugin.NewError(pe.status, pe.code, pe.message)
		}
		seen[e.Code] = true
		byStatus[e.Status] = append(byStatus[e.Status], entry{g.example(coreTag, e), e.Code})
	}
	for _, e := range g.declared(me.PluginID) {
		if seen[e.Code] || pipelineCode[e.Code] {
			continue
		}
		seen[e.Code] = true
		byStatus[e.Status] = append(byStatus[e.Status], entry{g.example(tag, e), e.Code})
	}
	// The rate limiter's 429 has no code.
	limited := entry{g.example(coreTag, plugin.NewError(http.StatusTooManyRequests, "", tooManyRequests)), ""}
	byStatus[http.StatusTooManyRequests] = append(byStatus[http.StatusTooManyRequests], limited)
	for status, entries := range byStatus {
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.code, b.code) })
		var codes []string
		r := &Response{Content: map[string]*MediaType{"application/json": {
			Schema:   &Schema{Ref: "#/components/schemas/" + errorSchema},
			Examples: map[string]*Example{},
		}}}
		for _, en := range entries {
			key := en.code
			if key == "" {
				key = "RATE_LIMITED" // the example's name; the body has no code
			} else {
				codes = append(codes, "`"+en.code+"`")
			}
			r.Content["application/json"].Examples[key] = &Example{Ref: "#/components/examples/" + en.name}
		}
		r.Description = cmp.Or(http.StatusText(status), "Error") + "."
		switch status {
		case http.StatusTooManyRequests:
			r.Description += " The client's rate limit on this path is spent, when the server limits rates (the body has no code). " + g.ruleText(me.Path)
			r.Headers = map[string]*Header{
				"X-Retry-After": {Description: "Seconds to wait before trying again (the rate limiter's answer).", Schema: &Schema{Type: Types{"integer"}}},
				"Retry-After":   {Description: "Seconds to wait before trying again (an error that says when, such as a lockout).", Schema: &Schema{Type: Types{"integer"}}},
			}
		case http.StatusServiceUnavailable:
			r.Headers = map[string]*Header{"Retry-After": {Description: "Seconds to wait before trying again.", Schema: &Schema{Type: Types{"integer"}}}}
		}
		if len(codes) > 0 {
			r.Description += " Codes: " + strings.Join(codes, ", ") + "."
		}
		if status == http.StatusUnauthorized && readsSessionItself(me.Endpoint) {
			r.Description += " " + emptyUnauthorized
		}
		op.Responses[strconv.Itoa(status)] = g.shared(tag+"."+strconv.Itoa(status), r)
	}
	if byStatus[http.StatusUnauthorized] == nil && readsSessionItself(me.Endpoint) {
		op.Responses["401"] = g.shared(tag+".401", &Response{Description: "Unauthorized. " + emptyUnauthorized})
	}
}

// emptyUnauthorized describes the 401 of a route that reads the session
// itself, as Better Auth's admin routes do.
const emptyUnauthorized = "Without a session the route may answer 401 with an empty body."

// readsSessionItself reports that a route declares no session but reads
// one: a Sensitive route (which only matters to a route that reads the
// session) that leaves the session to its handler, as the admin plugin's
// do to answer Better Auth's empty 401.
func readsSessionItself(e plugin.Endpoint) bool {
	return e.Auth == plugin.Public && e.Sensitive
}

// shared returns a reference to r in Components.Responses, where it is
// added under base (with a suffix when base is taken by another
// response) unless an equal response is there already.
func (g *generator) shared(base string, r *Response) *Response {
	b, _ := json.Marshal(r)
	name, ok := g.responseOf[string(b)]
	if !ok {
		base = componentName.ReplaceAllString(base, "_")
		name = base
		for n := 2; g.doc.Components.Responses[name] != nil; n++ {
			name = base + "_" + strconv.Itoa(n)
		}
		g.doc.Components.Responses[name] = r
		g.responseOf[string(b)] = name
	}
	return &Response{Ref: "#/components/responses/" + name}
}

// declared returns the errors the plugin with the ID ("" the core)
// declares, with a code and a status of 400 to 599.
func (g *generator) declared(id string) []*plugin.Error {
	if errs, ok := g.codesOf[id]; ok {
		return errs
	}
	var errs []*plugin.Error
	for _, e := range g.h.ErrorCodes(id) {
		if e != nil && e.Code != "" && e.Status >= 400 && e.Status <= 599 {
			errs = append(errs, e)
		}
	}
	g.codesOf[id] = errs
	return errs
}

// componentName keeps the characters OpenAPI allows in a component's name.
var componentName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// example returns the name in Components.Examples of e's body as the
// plugin with tag declares it, adding it the first time.
func (g *generator) example(tag string, e *plugin.Error) string {
	k := exampleKey{tag, e.Code}
	if name, ok := g.exampleOf[k]; ok {
		return name
	}
	code := e.Code
	if code == "" {
		code = strconv.Itoa(e.Status)
	}
	base := componentName.ReplaceAllString(tag+"."+code, "_")
	name := base
	for n := 2; g.doc.Components.Examples[name] != nil; n++ {
		name = base + "_" + strconv.Itoa(n)
	}
	body := map[string]string{"message": e.Message}
	if e.Code != "" {
		body["code"] = e.Code
	}
	g.doc.Components.Examples[name] = &Example{Summary: e.Message, Value: body}
	g.exampleOf[k] = name
	return name
}

// ruleText describes the built-in rate-limit rule of the path, if it has
// one (the server's RateLimit configuration may replace it).
func (g *generator) ruleText(path string) string {
	var rule ratelimit.Rule
	found := false
	if r, ok := g.rules[path]; ok {
		rule, found = r, true
	} else {
		best := -1
		for p, r := range g.rules {
			prefix, ok := strings.CutSuffix(p, "*")
			if ok && strings.HasPrefix(path, prefix) && len(prefix) > best {
				rule, found, best = r, true, len(prefix)
			}
		}
	}
	if !found {
		return "The server's default rule applies."
	}
	if rule.Max <= 0 || rule.Window <= 0 {
		return "The path has no built-in limit."
	}
	return fmt.Sprintf("Built-in rule for this path: %d requests per %s, unless the server's configuration changes it.", rule.Max, window(rule.Window))
}

// window writes a duration in seconds ("10 s"), or as
// time.Duration.String does when it is not whole seconds.
func window(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + " s"
	}
	return d.String()
}
