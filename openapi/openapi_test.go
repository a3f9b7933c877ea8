package openapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/openapi"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/plugintest"
	"github.com/managarten/mana-auth/storage/memory"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestEveryRouteDocumented mounts every plugin of the repository and
// checks, over HTTP on each database, that the served document validates
// (kin-openapi, OpenAPI 3.1 mode), that its operations are exactly the
// mounted routes, and that it is the document Generate builds.
func TestEveryRouteDocumented(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		db, basePath string
	}{
		{"memory", ""},
		{"sqlite", "/auth"},
		{"postgres", "/api/v1/auth"},
	} {
		t.Run(tc.db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.db, func(c *auth.Config) { c.BasePath = tc.basePath }, allPlugins(t, openapi.Options{})...)
			base := e.a.Config().BasePath
			r := e.get(base + "/open-api/generate-schema")
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("GET generate-schema: %d %s %.200s", r.status, r.header.Get("Content-Type"), r.body)
			}
			kdoc := validate(t, r.body)
			checkSchemas(t, r.body)
			if d := cmp.Diff(sorted(e.a.Routes()), routesOf(t, r.body, base)); d != "" {
				t.Errorf("operations differ from the mounted routes (-mounted +documented):\n%s", d)
			}
			if got, want := kdoc.Servers[0].URL, e.srv.URL+base; got != want {
				t.Errorf("server URL %q, want %q", got, want)
			}
			doc, err := openapi.Generate(e.a.Host(), openapi.Info{})
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(doc)
			if !bytes.Equal(r.body, want) {
				t.Error("the served document is not Generate's")
			}
		})
	}
}

// TestRouteComparisonFails checks that the comparison of
// TestEveryRouteDocumented sees a route missing from the document or one
// too many.
func TestRouteComparisonFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "memory", nil, allPlugins(t, openapi.Options{})...)
	var doc map[string]any
	if err := json.Unmarshal(generate(t, e.a, openapi.Info{}), &doc); err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	delete(paths, "/two-factor/enable")
	paths["/not-mounted"] = map[string]any{"get": map[string]any{}}
	b, _ := json.Marshal(doc)
	got := routesOf(t, b, "/api/auth")
	mounted := sorted(e.a.Routes())
	if slices.Contains(got, "POST /api/auth/two-factor/enable") || !slices.Contains(mounted, "POST /api/auth/two-factor/enable") {
		t.Fatal("the edit did not remove the route")
	}
	if cmp.Equal(mounted, got) {
		t.Error("a missing and an extra route went unnoticed")
	}
}

// TestCoreGolden compares the document of the core alone with
// testdata/core.json (go test ./openapi -run TestCoreGolden -update
// rewrites it).
func TestCoreGolden(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: testSecret, Hasher: testkit.FastHasher{}}, memory.New())
	if err != nil {
		t.Fatal(err)
	}
	got := generate(t, a, openapi.Info{})
	validate(t, got)
	checkSchemas(t, got)
	if d := cmp.Diff(sorted(a.Routes()), routesOf(t, got, "/api/auth")); d != "" {
		t.Errorf("operations differ from the mounted routes (-mounted +documented):\n%s", d)
	}
	golden := filepath.Join("testdata", "core.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("the core's document changed (-golden +now; rerun with -update if intended):\n%s", d)
	}
}

// docOf returns the document of an Auth with every plugin, decoded.
func docOf(t *testing.T) *openapi.Document {
	t.Helper()
	e := newEnv(t, "memory", nil, allPlugins(t, openapi.Options{})...)
	var doc openapi.Document
	if err := json.Unmarshal(generate(t, e.a, openapi.Info{}), &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

func operation(t *testing.T, doc *openapi.Document, method, path string) *openapi.Operation {
	t.Helper()
	item := doc.Paths[path]
	if item == nil {
		t.Fatalf("no path %s", path)
	}
	op := map[string]*openapi.Operation{"GET": item.Get, "POST": item.Post}[method]
	if op == nil {
		t.Fatalf("no operation %s %s", method, path)
	}
	return op
}

// response returns the response of op for status, following its $ref.
func response(doc *openapi.Document, op *openapi.Operation, status string) *openapi.Response {
	r := op.Responses[status]
	if r != nil && r.Ref != "" {
		r = doc.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")]
	}
	return r
}

// examples returns the example names of a JSON response, sorted.
func examples(r *openapi.Response) []string {
	if r == nil || r.Content["application/json"] == nil {
		return nil
	}
	var out []string
	for k := range r.Content["application/json"].Examples {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestOperations checks what the document says of typical routes.
func TestOperations(t *testing.T) {
	t.Parallel()
	doc := docOf(t)
	cookie := []openapi.SecurityRequirement{{"sessionCookie": {}}, {"bearerAuth": {}}}
	type check struct {
		method, path string
		id, tag      string
		security     []openapi.SecurityRequirement
		params       []string // "in:name" of the parameters, "!" for required
		body         []string // media types of the body; nil: none
		required     []string // required members
		props        map[string]openapi.Types
		bodyRequired bool
		has, hasNot  map[string][]string // status → codes among / not among the examples
		statuses     []string            // statuses that must be there
		absent       []string            // statuses that must not be there
		rule         string              // in the 429's description
	}
	for _, c := range []check{
		{method: "POST", path: "/sign-in/email", id: "signInEmail", tag: "core",
			body: []string{"application/json", "application/x-www-form-urlencoded"}, required: []string{"email", "password"}, bodyRequired: true,
			props:  map[string]openapi.Types{"email": {"string"}, "password": {"string"}, "rememberMe": {"boolean", "null"}, "callbackURL": {"string", "null"}},
			has:    map[string][]string{"400": {"VALIDATION_ERROR", "INVALID_INPUT"}, "403": {"CROSS_SITE_NAVIGATION_LOGIN_BLOCKED", "INVALID_ORIGIN", "INVALID_CALLBACK_URL"}, "401": {"INVALID_EMAIL_OR_PASSWORD"}, "429": {"RATE_LIMITED"}},
			hasNot: map[string][]string{"401": {"UNAUTHORIZED"}, "403": {"SESSION_NOT_FRESH"}},
			rule:   "3 requests per 10 s"},
		{method: "POST", path: "/sign-up/email", id: "signUpWithEmailAndPassword", tag: "core", bodyRequired: true,
			body: []string{"application/json", "application/x-www-form-urlencoded"}, required: []string{"name", "email", "password"},
			props: map[string]openapi.Types{"email": {"string"}, "image": {"string", "null"}}},
		{method: "GET", path: "/list-sessions", id: "listUserSessions", tag: "core", security: cookie,
			has: map[string][]string{"401": {"UNAUTHORIZED"}, "403": {"SESSION_NOT_FRESH"}}, absent: []string{"413", "415"},
			hasNot: map[string][]string{"403": {"INVALID_ORIGIN", "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"}, "400": {"VALIDATION_ERROR", "BAD_REQUEST"}}},
		{method: "POST", path: "/revoke-session", id: "revokeSession", tag: "core", security: cookie, body: []string{"application/json"},
			required: []string{"token"}, bodyRequired: true,
			has: map[string][]string{"401": {"UNAUTHORIZED"}, "403": {"INVALID_ORIGIN"}}, hasNot: map[string][]string{"403": {"SESSION_NOT_FRESH"}}},
		{method: "GET", path: "/reset-password/{token}", id: "resetPasswordCallback", tag: "core",
			params: []string{"path:token!", "query:callbackURL!"}, statuses: []string{"302"}},
		{method: "GET", path: "/get-session", id: "getSession", tag: "core", params: []string{"query:disableCookieCache", "query:disableRefresh"}},
		{method: "POST", path: "/get-session", id: "getSessionPost", tag: "core", body: []string{"application/json"}},
		{method: "POST", path: "/send-verification-email", id: "sendVerificationEmail", tag: "core",
			security: append(slices.Clone(cookie), openapi.SecurityRequirement{}), body: []string{"application/json"}, required: []string{"email"}, bodyRequired: true,
			rule: "3 requests per 60 s"},
		{method: "GET", path: "/ok", id: "ok", tag: "core", absent: []string{"302", "413", "415"},
			hasNot: map[string][]string{"401": {"UNAUTHORIZED"}}},
		{method: "POST", path: "/two-factor/verify-totp", id: "twoFactorVerifyTotp", tag: "two-factor", body: []string{"application/json"},
			security: append(slices.Clone(cookie), openapi.SecurityRequirement{}),
			required: []string{"code"}, bodyRequired: true,
			has: map[string][]string{"400": {"TOTP_NOT_ENABLED", "VALIDATION_ERROR"}, "401": {"INVALID_BACKUP_CODE"}, "429": {"ACCOUNT_TEMPORARILY_LOCKED", "RATE_LIMITED"}}},
		{method: "POST", path: "/two-factor/enable", id: "twoFactorEnable", tag: "two-factor", security: cookie, body: []string{"application/json"},
			required: []string{"password"}, bodyRequired: true, has: map[string][]string{"401": {"UNAUTHORIZED"}}},
		{method: "GET", path: "/callback/{id}", id: "handleOAuthCallback", tag: "oauth", params: []string{"path:id!"},
			has: map[string][]string{"404": {"PROVIDER_NOT_FOUND"}}, absent: []string{"413"}},
		{method: "POST", path: "/callback/{id}", id: "handleOAuthCallbackPost", tag: "oauth", params: []string{"path:id!"},
			body:   []string{"application/json", "application/x-www-form-urlencoded"},
			hasNot: map[string][]string{"403": {"INVALID_ORIGIN", "MISSING_OR_NULL_ORIGIN"}}},
		{method: "POST", path: "/sign-in/social", id: "socialSignIn", tag: "oauth", body: []string{"application/json"},
			props: map[string]openapi.Types{"provider": nil, "scopes": {"array", "null"}, "disableRedirect": {"boolean", "null"}}},
		{method: "GET", path: "/magic-link/verify", id: "magicLinkVerify", tag: "magic-link", statuses: []string{"302"}, rule: "5 requests per 60 s"},
		{method: "GET", path: "/token", id: "token", tag: "jwt", security: cookie},
		{method: "POST", path: "/admin/ban-user", id: "adminBanUser", tag: "admin", body: []string{"application/json"},
			security: append(slices.Clone(cookie), openapi.SecurityRequirement{}), statuses: []string{"401"},
			has: map[string][]string{"403": {"YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "INVALID_ORIGIN"}}},
		{method: "POST", path: "/multi-session/revoke", id: "multiSessionRevoke", tag: "multi-session", security: cookie,
			body: []string{"application/json"}, required: []string{"sessionToken"}, bodyRequired: true},
		{method: "GET", path: "/open-api/generate-schema", id: "openApiGenerateSchema", tag: "open-api"},
		{method: "GET", path: "/reference", id: "reference", tag: "open-api"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			op := operation(t, doc, c.method, c.path)
			if op.OperationID != c.id || !slices.Equal(op.Tags, []string{c.tag}) {
				t.Errorf("operationId %q tags %q, want %q [%s]", op.OperationID, op.Tags, c.id, c.tag)
			}
			if d := cmp.Diff(c.security, op.Security); d != "" {
				t.Errorf("security (-want +got):\n%s", d)
			}
			var params []string
			for _, p := range op.Parameters {
				s := p.In + ":" + p.Name
				if p.Required {
					s += "!"
				}
				params = append(params, s)
			}
			if d := cmp.Diff(c.params, params); d != "" {
				t.Errorf("parameters (-want +got):\n%s", d)
			}
			var media []string
			if op.RequestBody != nil {
				for m := range op.RequestBody.Content {
					media = append(media, m)
				}
				slices.Sort(media)
				js := op.RequestBody.Content["application/json"].Schema
				if d := cmp.Diff(sorted(c.required), sorted(js.Required)); d != "" {
					t.Errorf("required members (-want +got):\n%s", d)
				}
				for name, typ := range c.props {
					if p := js.Properties[name]; p == nil || !slices.Equal(p.Type, typ) {
						t.Errorf("member %s: %+v, want type %q", name, p, typ)
					}
				}
				if op.RequestBody.Required != c.bodyRequired {
					t.Errorf("body required %v, want %v", op.RequestBody.Required, c.bodyRequired)
				}
			}
			if d := cmp.Diff(c.body, media); d != "" {
				t.Errorf("body media types (-want +got):\n%s", d)
			}
			if response(doc, op, "200") == nil {
				t.Error("no 200")
			}
			for _, s := range c.statuses {
				if response(doc, op, s) == nil {
					t.Errorf("no %s", s)
				}
			}
			for _, s := range c.absent {
				if op.Responses[s] != nil {
					t.Errorf("a %s response", s)
				}
			}
			for status, codes := range c.has {
				got := examples(response(doc, op, status))
				for _, code := range codes {
					if !slices.Contains(got, code) {
						t.Errorf("%s lacks %s: %q", status, code, got)
					}
				}
			}
			for status, codes := range c.hasNot {
				got := examples(response(doc, op, status))
				for _, code := range codes {
					if slices.Contains(got, code) {
						t.Errorf("%s lists %s", status, code)
					}
				}
			}
			r429 := response(doc, op, "429")
			if r429 == nil || r429.Headers["X-Retry-After"] == nil {
				t.Fatalf("429: %+v, want one with X-Retry-After", r429)
			}
			if !strings.Contains(r429.Description, c.rule) {
				t.Errorf("429 description %q does not say %q", r429.Description, c.rule)
			}
		})
	}
}

// TestErrorExamples checks the error bodies the responses point to: each
// declared code's example is Better Auth's body with its declared
// message, and every $ref of an example exists.
func TestErrorExamples(t *testing.T) {
	t.Parallel()
	doc := docOf(t)
	for _, tc := range []struct {
		name string
		want map[string]any
	}{
		{"core.UNAUTHORIZED", map[string]any{"message": "Unauthorized", "code": "UNAUTHORIZED"}},
		{"core.429", map[string]any{"message": "Too many requests. Please try again later."}},
		{"two-factor.INVALID_BACKUP_CODE", map[string]any{"message": "Invalid backup code", "code": "INVALID_BACKUP_CODE"}},
		{"oauth.PROVIDER_NOT_FOUND", map[string]any{"message": "Provider not found", "code": "PROVIDER_NOT_FOUND"}},
	} {
		ex := doc.Components.Examples[tc.name]
		if ex == nil {
			t.Errorf("no example %s", tc.name)
			continue
		}
		if d := cmp.Diff(tc.want, ex.Value); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	used := map[string]bool{}
	for name, r := range doc.Components.Responses {
		if r.Content == nil { // an empty body (a 401 of a route that reads the session itself)
			continue
		}
		for code, ex := range r.Content["application/json"].Examples {
			target := strings.TrimPrefix(ex.Ref, "#/components/examples/")
			used[target] = true
			v, _ := doc.Components.Examples[target].Value.(map[string]any)
			if c, _ := v["code"].(string); c != code && !(code == "RATE_LIMITED" && c == "") {
				t.Errorf("response %s: example %s is the body of %q", name, code, c)
			}
		}
	}
	for name := range doc.Components.Examples {
		if !used[name] {
			t.Errorf("example %s is used by no response", name)
		}
	}
}

// TestReferencePage fetches the reference page over HTTP with several
// options: it embeds the served document and Scalar's configuration, and
// is where Options.Path says (or nowhere).
func TestReferencePage(t *testing.T) {
	t.Parallel()
	const sri = "sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"
	for _, tc := range []struct {
		name     string
		opts     openapi.Options
		page     string   // the page's path; "" none
		notFound []string // paths that answer 404
		contains []string
	}{
		{"default", openapi.Options{}, "/reference", nil,
			[]string{`"theme":"default"`, `<script src="` + openapi.DefaultScriptURL + `"></script>`, "<title>Better Auth API Reference</title>"}},
		{"custom", openapi.Options{Path: "/docs/api", Theme: "deepSpace", Nonce: "r4nd0m+/=", ScriptURL: "/static/scalar.js?v=1&x=2",
			ScriptIntegrity: sri, Info: openapi.Info{Title: "Acme", Description: "Acme's auth", Version: "2.0.0"}},
			"/docs/api", []string{"/reference"},
			[]string{`"theme":"deepSpace"`, `<script nonce="r4nd0m+/=">`, `<script src="/static/scalar.js?v=1&amp;x=2" nonce="r4nd0m+/=" integrity="` + sri + `" crossorigin="anonymous"></script>`,
				`"title":"Acme API"`, `"description":"Acme's auth"`, "<title>Acme API Reference</title>"}},
		{"disabled", openapi.Options{DisableDefaultReference: true}, "", []string{"/reference"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "memory", nil, allPlugins(t, tc.opts)...)
			docBody := e.get("/api/auth/open-api/generate-schema").body
			validate(t, docBody)
			if d := cmp.Diff(sorted(e.a.Routes()), routesOf(t, docBody, "/api/auth")); d != "" {
				t.Errorf("operations differ from the mounted routes (-mounted +documented):\n%s", d)
			}
			var doc openapi.Document
			if err := json.Unmarshal(docBody, &doc); err != nil {
				t.Fatal(err)
			}
			if tc.opts.Info.Title != "" && doc.Info != tc.opts.Info {
				t.Errorf("info %+v, want %+v", doc.Info, tc.opts.Info)
			}
			for _, p := range tc.notFound {
				if r := e.get("/api/auth" + p); r.status != http.StatusNotFound || len(r.body) != 0 {
					t.Errorf("GET %s: %d %q, want an empty 404", p, r.status, r.body)
				}
				if doc.Paths[p] != nil {
					t.Errorf("the document lists %s", p)
				}
			}
			if tc.page == "" {
				return
			}
			r := e.get("/api/auth" + tc.page)
			if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Fatalf("GET %s: %d %s", tc.page, r.status, r.header.Get("Content-Type"))
			}
			page := string(r.body)
			for _, s := range tc.contains {
				if !strings.Contains(page, s) {
					t.Errorf("the page lacks %s", s)
				}
			}
			embedded := regexp.MustCompile(`(?s)<script id="api-reference" type="application/json">\s*(.*?)\s*</script>`).FindStringSubmatch(page)
			if embedded == nil {
				t.Fatal("no document in the page")
			}
			var a, b any
			if err := json.Unmarshal([]byte(embedded[1]), &a); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(docBody, &b)
			if d := cmp.Diff(b, a); d != "" {
				t.Errorf("the page's document is not the served one:\n%s", d)
			}
		})
	}
}

// TestPageEscapesText gives the API a name and description that try to
// end the page's script element: the page must keep its three scripts
// and the document its text.
func TestPageEscapesText(t *testing.T) {
	t.Parallel()
	const evil = `</script><script>alert(1)</script><!--`
	e := newEnv(t, "memory", func(c *auth.Config) { c.AppName = evil }, allPlugins(t, openapi.Options{Info: openapi.Info{Description: evil}})...)
	page := string(e.get("/api/auth/reference").body)
	if n := strings.Count(strings.ToLower(page), "</script"); n != 3 {
		t.Errorf("%d script end tags, want 3:\n%s", n, page)
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<!--") {
		t.Error("the page carries the injected markup")
	}
	if !strings.Contains(page, "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!-- API Reference</title>") {
		t.Error("the title is not escaped")
	}
	var doc openapi.Document
	if err := json.Unmarshal(e.get("/api/auth/open-api/generate-schema").body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Title != evil || doc.Info.Description != evil {
		t.Errorf("info %+v: the text changed", doc.Info)
	}
}

// TestConcurrentFetches asks for the document and the page from many
// clients at once: every answer is the same (run with -race).
func TestConcurrentFetches(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "memory", nil, allPlugins(t, openapi.Options{})...)
	want := map[string][]byte{}
	for _, p := range []string{"/api/auth/open-api/generate-schema", "/api/auth/reference"} {
		want[p] = e.get(p).body
	}
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 20 {
		for p := range want {
			wg.Go(func() {
				resp, err := http.Get(e.srv.URL + p)
				if err != nil {
					errs <- err.Error()
					return
				}
				defer resp.Body.Close()
				var b bytes.Buffer
				_, _ = b.ReadFrom(resp.Body)
				if resp.StatusCode != 200 || !bytes.Equal(b.Bytes(), want[p]) {
					errs <- p + ": a different answer"
				}
			})
		}
		_ = i
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestOptions checks that New refuses wrong options up front.
func TestOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts openapi.Options
		err  string // "" valid
	}{
		{"zero", openapi.Options{}, ""},
		{"all set", openapi.Options{Path: "/api-docs/v1", Theme: "none", Nonce: "abc", ScriptURL: "https://cdn.example.com/scalar@1.2.3.js",
			ScriptIntegrity: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}, ""},
		{"path without slash", openapi.Options{Path: "reference"}, "Options.Path"},
		{"path with parameter", openapi.Options{Path: "/docs/:id"}, "Options.Path"},
		{"path dot-dot", openapi.Options{Path: "/docs/../sign-in"}, "Options.Path"},
		{"path trailing slash", openapi.Options{Path: "/docs/"}, "Options.Path"},
		{"path of the document", openapi.Options{Path: "/open-api/generate-schema"}, "document's route"},
		{"unknown theme", openapi.Options{Theme: "dark"}, "Options.Theme"},
		{"nonce with quote", openapi.Options{Nonce: `a" onload="x`}, "Options.Nonce"},
		{"script URL javascript", openapi.Options{ScriptURL: "javascript:alert(1)"}, "Options.ScriptURL"},
		{"script URL relative", openapi.Options{ScriptURL: "scalar.js"}, "Options.ScriptURL"},
		{"script URL scheme-relative", openapi.Options{ScriptURL: "//evil.example/x.js"}, "Options.ScriptURL"},
		{"script URL with quote", openapi.Options{ScriptURL: `https://cdn.example.com/x.js"><script>`}, "Options.ScriptURL"},
		{"integrity", openapi.Options{ScriptIntegrity: "md5-abc"}, "Options.ScriptIntegrity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := openapi.New(tc.opts)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one naming %s", err, tc.err)
			}
		})
	}
}

// routes is a plugin with the given endpoints.
type routes []plugin.Endpoint

func (routes) ID() string                     { return "test-routes" }
func (r routes) Endpoints() []plugin.Endpoint { return r }

func ok(*plugin.Context) (any, error) { return nil, nil }

// TestUndescribableRoute mounts a route whose method OpenAPI 3.1 has no
// operation for: auth.New fails, naming it.
func TestUndescribableRoute(t *testing.T) {
	t.Parallel()
	docs, err := openapi.New(openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: testSecret}, memory.New(),
		routes{{Method: "PROPFIND", Path: "/files", Handler: ok}}, docs)
	if err == nil || !strings.Contains(err.Error(), "PROPFIND /files") {
		t.Errorf("auth.New: %v, want an error naming PROPFIND /files", err)
	}
}

// endpointsHost is a host whose endpoints are replaced.
type endpointsHost struct {
	plugin.Host
	eps []plugin.MountedEndpoint
}

func (h endpointsHost) Endpoints() []plugin.MountedEndpoint { return h.eps }

// TestGenerateEndpoints checks Generate on endpoint lists an auth.Auth
// would not mount.
func TestGenerateEndpoints(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com/", Secret: testSecret}, memory.New())
	if err != nil {
		t.Fatal(err)
	}
	ep := func(method, path string) plugin.MountedEndpoint {
		return plugin.MountedEndpoint{Endpoint: plugin.Endpoint{Method: method, Path: path, Handler: ok}, PluginID: "test-routes"}
	}
	for _, tc := range []struct {
		name string
		eps  []plugin.MountedEndpoint
		err  string
	}{
		{"twice", []plugin.MountedEndpoint{ep("GET", "/a"), ep("get", "/a")}, "declared twice"},
		{"relative path", []plugin.MountedEndpoint{ep("GET", "a")}, "must start with /"},
		{"unknown method", []plugin.MountedEndpoint{ep("QUERY", "/a")}, "no operation for the method QUERY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openapi.Generate(endpointsHost{a.Host(), tc.eps}, openapi.Info{})
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Generate: %v, want an error with %q", err, tc.err)
			}
			var b bytes.Buffer
			if err := openapi.Write(&b, endpointsHost{a.Host(), tc.eps}, openapi.Info{}); err == nil || b.Len() != 0 {
				t.Errorf("Write: %v, wrote %d bytes; want an error and nothing written", err, b.Len())
			}
		})
	}

	// One path under two parameter names (which an http.ServeMux
	// accepts for two methods) is one OpenAPI path with the first names;
	// the operation IDs stay unique.
	doc, err := openapi.Generate(endpointsHost{a.Host(), []plugin.MountedEndpoint{
		ep("GET", "/items/:id"), ep("POST", "/items/:itemId"), ep("DELETE", "/items/:x"), ep("PUT", "/"),
	}}, openapi.Info{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(doc)
	validate(t, b)
	item := doc.Paths["/items/{id}"]
	if item == nil || item.Get == nil || item.Post == nil || item.Delete == nil || len(doc.Paths) != 2 {
		t.Fatalf("paths %v", doc.Paths)
	}
	var ids []string
	for _, op := range []*openapi.Operation{item.Get, item.Post, item.Delete, doc.Paths["/"].Put} {
		ids = append(ids, op.OperationID)
		if op != doc.Paths["/"].Put && (len(op.Parameters) != 1 || op.Parameters[0].Name != "id") {
			t.Errorf("%s: parameters %+v", op.OperationID, op.Parameters)
		}
	}
	if d := cmp.Diff([]string{"itemsById", "itemsByIdPost", "itemsByIdDelete", "root"}, ids); d != "" {
		t.Errorf("operation IDs (-want +got):\n%s", d)
	}
	if got := doc.Servers[0].URL; got != "https://auth.example.com/api/auth" {
		t.Errorf("server %q", got)
	}
}

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource): the plugin
// declares no error.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	p, err := openapi.New(openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckErrorCodes(t, p, ".", []plugintest.ErrorCase{})
}

// jsonTypes are the types JSON Schema knows.
var jsonTypes = []string{"string", "number", "integer", "boolean", "object", "array", "null"}

// checkSchemas checks every schema of the document (kin-openapi's 3.1
// mode lets an unknown type through): known types, items on arrays, and
// required members that exist.
func checkSchemas(t testing.TB, b []byte) {
	t.Helper()
	var doc openapi.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(where string, s *openapi.Schema)
	walk = func(where string, s *openapi.Schema) {
		if s == nil {
			t.Errorf("%s: no schema", where)
			return
		}
		for _, ty := range s.Type {
			if !slices.Contains(jsonTypes, ty) {
				t.Errorf("%s: type %q", where, ty)
			}
		}
		if slices.Contains(s.Type, "array") && s.Items == nil {
			t.Errorf("%s: an array without items", where)
		}
		for _, r := range s.Required {
			if s.Properties[r] == nil {
				t.Errorf("%s: required %s is no property", where, r)
			}
		}
		for name, p := range s.Properties {
			walk(where+"."+name, p)
		}
		if s.Items != nil {
			walk(where+"[]", s.Items)
		}
	}
	content := func(where string, c map[string]*openapi.MediaType) {
		for m, mt := range c {
			walk(where+" "+m, mt.Schema)
		}
	}
	for name, s := range doc.Components.Schemas {
		walk("schema "+name, s)
	}
	for name, r := range doc.Components.Responses {
		content("response "+name, r.Content)
		for h, hd := range r.Headers {
			walk("response "+name+" header "+h, hd.Schema)
		}
	}
	for p, item := range doc.Paths {
		for _, op := range []*openapi.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			if op == nil {
				continue
			}
			for _, prm := range op.Parameters {
				walk(p+" "+prm.Name, prm.Schema)
			}
			if op.RequestBody != nil {
				content(p+" body", op.RequestBody.Content)
			}
			for st, r := range op.Responses {
				content(p+" "+st, r.Content)
			}
		}
	}
}
