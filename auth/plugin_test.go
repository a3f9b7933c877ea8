package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// memoPlugin is a third-party plugin written only against the exported
// API: a table, routes, hooks, lifecycle hooks, a DataSource and rate
// limits.
type memoPlugin struct {
	a         plugin.Host
	initCalls atomic.Int32

	rejectEmail      string // BeforeUserCreate refuses it
	refuseSessionFor string // BeforeSessionCreate refuses it
	refuseDelete     atomic.Bool

	afterUser, afterSession atomic.Int32
	lastAfterResult         atomic.Value // what the after-hook saw
	userPresentOnDelete     atomic.Bool
}

var errEmailBlocked = plugin.NewError(http.StatusBadRequest, "EMAIL_DOMAIN_BLOCKED", "This email domain is blocked")

func (p *memoPlugin) ID() string { return "memos" }

func (p *memoPlugin) Init(a plugin.Host) error {
	p.a = a
	p.initCalls.Add(1)
	return nil
}

func (p *memoPlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{Name: "memo", Fields: []storage.Field{
			{Name: "userId", Type: storage.String, Required: true, Index: true,
				References: &storage.Reference{Table: "user", Field: "id", OnDelete: storage.Cascade}},
			{Name: "body", Type: storage.String, Required: true},
		}},
		{Name: "user", Fields: []storage.Field{{Name: "plan", Type: storage.String}}},
	}}
}

func (p *memoPlugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{Method: "POST", Path: "/memos", Auth: plugin.SessionRequired,
			Body: []plugin.Param{{Name: "body", Kind: plugin.KindString}},
			Handler: func(c *plugin.Context) (any, error) {
				id := plugin.NewID()
				err := p.a.DB().Create(c.Context(), "memo", storage.Record{
					"id": id, "userId": c.Session().User.ID, "body": c.String("body")})
				if err != nil {
					return nil, err
				}
				return map[string]any{"id": id, "body": c.String("body")}, nil
			}},
		{Method: "GET", Path: "/memos/:id", Auth: plugin.SessionRequired,
			Handler: func(c *plugin.Context) (any, error) {
				rec, err := p.a.DB().FindOne(c.Context(), "memo", storage.W("id", c.Param("id")), storage.W("userId", c.Session().User.ID))
				if errors.Is(err, storage.ErrNotFound) {
					return nil, auth.ErrNotFound
				}
				if err != nil {
					return nil, err
				}
				return map[string]any{"id": rec.String("id"), "body": rec.String("body")}, nil
			}},
		{Method: "POST", Path: "/memos-bind", AllowForm: true, Handler: func(c *plugin.Context) (any, error) {
			var in struct {
				Body string `json:"body"`
				N    int    `json:"n"`
			}
			if err := c.Bind(&in); err != nil {
				return nil, err
			}
			return in, nil
		}},
	}
}

func (p *memoPlugin) Hooks() plugin.Hooks {
	return plugin.Hooks{
		Before: []plugin.Hook{{Handler: func(c *plugin.Context) error {
			if c.Request().Header.Get("X-Block") != "" {
				return plugin.NewError(http.StatusForbidden, "BLOCKED_BY_PLUGIN", "Blocked by plugin")
			}
			return nil
		}}},
		After: []plugin.Hook{
			{Match: plugin.PathIs("/memos"), Handler: func(c *plugin.Context) error {
				res, _ := c.Result().(map[string]any)
				p.lastAfterResult.Store(res)
				c.Header().Set("X-Memo-Id", res["id"].(string))
				return nil
			}},
			{Match: plugin.PathIs("/ok"), Handler: func(c *plugin.Context) error {
				c.SetResult(map[string]any{"ok": true, "by": "memos"})
				c.SetCookie(&http.Cookie{Name: "memo-seen", Value: "1", Path: "/"})
				return nil
			}},
		},
		BeforeUserCreate: func(_ context.Context, u *auth.User) error {
			if u.Email == p.rejectEmail {
				return errEmailBlocked
			}
			return nil
		},
		AfterUserCreate: func(context.Context, *auth.User) error {
			p.afterUser.Add(1)
			return errors.New("after-user-create failures are only logged")
		},
		BeforeSessionCreate: func(_ context.Context, _ *auth.Session, u *auth.User) error {
			if u.Email == p.refuseSessionFor {
				return plugin.NewError(http.StatusForbidden, "SESSION_REFUSED", "No sessions for you")
			}
			return nil
		},
		AfterSessionCreate: func(_ context.Context, s *auth.Session, u *auth.User) error {
			if s.UserID != u.ID || s.Token == "" {
				return errors.New("after-session-create got an inconsistent session")
			}
			p.afterSession.Add(1)
			return nil
		},
		BeforeUserDelete: func(context.Context, *auth.User) error {
			if p.refuseDelete.Load() {
				return plugin.NewError(http.StatusConflict, "DELETE_REFUSED", "Not now")
			}
			return nil
		},
	}
}

func (p *memoPlugin) ExportUser(ctx context.Context, userID string) (any, error) {
	recs, err := p.a.DB().FindMany(ctx, "memo", storage.Query{Where: []storage.Where{storage.W("userId", userID)}, Sort: []storage.Sort{{Field: "body"}}})
	if err != nil {
		return nil, err
	}
	bodies := []string{}
	for _, r := range recs {
		bodies = append(bodies, r.String("body"))
	}
	return bodies, nil
}

func (p *memoPlugin) DeleteUser(ctx context.Context, userID string) error {
	if _, err := p.a.FindUserByID(ctx, userID); err == nil {
		p.userPresentOnDelete.Store(true)
	}
	_, err := p.a.DB().Delete(ctx, "memo", storage.W("userId", userID))
	return err
}

func (p *memoPlugin) RateLimits() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{"/memos": {Window: time.Minute, Max: 3}}
}

var (
	_ plugin.Initializer     = (*memoPlugin)(nil)
	_ plugin.SchemaSource    = (*memoPlugin)(nil)
	_ plugin.EndpointSource  = (*memoPlugin)(nil)
	_ plugin.HookSource      = (*memoPlugin)(nil)
	_ plugin.DataSource      = (*memoPlugin)(nil)
	_ plugin.RateLimitSource = (*memoPlugin)(nil)
)

func TestPluginRegistration(t *testing.T) {
	t.Parallel()
	p := &memoPlugin{}
	a := newAuth(t, nil, p)
	if p.initCalls.Load() != 1 || p.a != a.Host() {
		t.Errorf("Init called %d times with %p, want once with %p", p.initCalls.Load(), p.a, a)
	}
	if a.Host().Plugin("memos") != p || a.Host().Plugin("nope") != nil {
		t.Error("Plugin lookup")
	}
	s := a.Schema()
	if tb := s.Table("memo"); tb == nil || len(tb.Fields) != 2 {
		t.Errorf("memo table %+v", tb)
	}
	if _, ok := s.Table("user").Field("plan"); !ok {
		t.Error("user.plan not merged")
	}
	routes := a.Routes()
	for _, want := range []string{"POST /api/auth/memos", "GET /api/auth/memos/:id", "POST /api/auth/sign-in/email", "GET /api/auth/get-session"} {
		if !slices.Contains(routes, want) {
			t.Errorf("Routes() lacks %q: %q", want, routes)
		}
	}
}

func TestPluginEndpointAndHooks(t *testing.T) {
	t.Parallel()
	p := &memoPlugin{}
	a, srv := newTestServer(t, nil, p)
	c := newClient(t, a, srv)

	// Validation comes before the session (400 before 401).
	wantError(t, c.post("/memos", map[string]any{}), 400, "VALIDATION_ERROR")
	wantError(t, c.post("/memos", map[string]any{"body": "x"}), 401, "UNAUTHORIZED")

	out := c.signUp("memo@example.com", "password-123")
	uid := out["user"].(map[string]any)["id"].(string)
	e := wantError(t, c.post("/memos", map[string]any{"body": 7}), 400, "VALIDATION_ERROR")
	if e.Message != "[body.body] Invalid input: expected string, received number" {
		t.Errorf("message %q", e.Message)
	}

	r := c.post("/memos", map[string]any{"body": "hello", "ignored": true})
	if r.Status != 200 {
		t.Fatalf("POST /memos: %d %s", r.Status, r.Body)
	}
	var memo struct{ ID, Body string }
	if err := json.Unmarshal(r.Body, &memo); err != nil || memo.Body != "hello" || len(memo.ID) != 32 {
		t.Fatalf("memo %s", r.Body)
	}
	if got := r.Header.Get("X-Memo-Id"); got != memo.ID {
		t.Errorf("after-hook header %q, want %q", got, memo.ID)
	}
	if seen, _ := p.lastAfterResult.Load().(map[string]any); seen["id"] != memo.ID {
		t.Errorf("after-hook saw result %v", seen)
	}
	rec, err := a.Host().DB().FindOne(context.Background(), "memo", storage.W("id", memo.ID))
	if err != nil || rec.String("userId") != uid || rec.String("body") != "hello" {
		t.Errorf("stored memo %v, %v", rec, err)
	}

	// Path parameters.
	r = c.get("/memos/" + memo.ID)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"hello"`) {
		t.Errorf("GET /memos/:id: %d %s", r.Status, r.Body)
	}
	wantError(t, c.get("/memos/unknown"), 404, "NOT_FOUND")
	if r := c.get("/memos/"); r.Status != 404 {
		t.Errorf("empty parameter: %d", r.Status)
	}
	if r := c.get("/memos/a/b"); r.Status != 404 {
		t.Errorf("extra segment: %d", r.Status)
	}

	// The before-hook blocks any route, before the handler runs.
	n := rowCount(t, a, "memo")
	for _, path := range []string{"/memos", "/sign-out"} {
		r := c.do("POST", path, map[string]any{"body": "blocked"}, map[string]string{"X-Block": "1"})
		if e := wantError(t, r, 403, "BLOCKED_BY_PLUGIN"); e.Message != "Blocked by plugin" {
			t.Errorf("message %q", e.Message)
		}
		if r.Header.Get("X-Memo-Id") != "" {
			t.Error("after-hook ran on a blocked request")
		}
	}
	wantError(t, c.do("GET", "/get-session", nil, map[string]string{"X-Block": "1"}), 403, "BLOCKED_BY_PLUGIN")
	if rowCount(t, a, "memo") != n || c.session() == nil {
		t.Error("a blocked request had effects")
	}

	// An after-hook may replace the result and set cookies.
	r = c.get("/ok")
	if string(r.Body) != `{"by":"memos","ok":true}` {
		t.Errorf("after-hook SetResult: %s", r.Body)
	}
	if _, ok := r.SetCookie("memo-seen"); !ok {
		t.Errorf("after-hook cookie missing: %q", r.SetCookies())
	}

	// Plugin user fields are part of the user.
	if _, err := a.UpdateUser(context.Background(), uid, auth.UpdateUserInput{Extra: map[string]any{"plan": "pro"}}); err != nil {
		t.Fatal(err)
	}
	if u := c.session()["user"].(map[string]any); u["plan"] != "pro" {
		t.Errorf("user JSON %v lacks plan", u)
	}
	if _, err := a.UpdateUser(context.Background(), uid, auth.UpdateUserInput{Extra: map[string]any{"email": "x@example.com"}}); !errors.Is(err, auth.ErrFieldNotAllowed) {
		t.Errorf("UpdateUser of a core field via Extra: %v", err)
	}
}

// TestContextBind: Context.Bind decodes the body (JSON or form) for typed
// access; a mismatch is a 400, not a 500.
func TestContextBind(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil, &memoPlugin{})
	c := newClient(t, a, srv)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name, ct, body string
		status         int
		want           string
		bug            string
	}{
		{"json", "application/json", `{"body":"typed","n":3}`, 200, `{"body":"typed","n":3}`, ""},
		{"json, unknown fields", "application/json", `{"body":"typed","x":[1]}`, 200, `{"body":"typed","n":0}`, ""},
		{"json, wrong type", "application/json", `{"n":"three"}`, 400, "", ""},
		{"form", form, "body=typed", 200, `{"body":"typed","n":0}`, ""},
		{"form, wrong type", form, "n=3", 400, "", ""},
		{"no body", "", "", 200, `{"body":"","n":0}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.bug != "" {
				t.Skip(tt.bug)
			}
			hdr := map[string]string{"Content-Type": tt.ct}
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := c.do("POST", "/memos-bind", body, hdr)
			if r.Status != tt.status || (tt.want != "" && string(r.Body) != tt.want) {
				t.Errorf("%d %s, want %d %s", r.Status, r.Body, tt.status, tt.want)
			}
		})
	}
}

func TestPluginLifecycleHooks(t *testing.T) {
	t.Parallel()
	p := &memoPlugin{rejectEmail: "blocked@example.com", refuseSessionFor: "nosession@example.com"}
	a, srv := newTestServer(t, nil, p)
	c := newClient(t, a, srv)
	ctx := context.Background()

	// BeforeUserCreate refuses: the code reaches the client, nothing is stored.
	r := c.post("/sign-up/email", map[string]any{"name": "B", "email": "Blocked@Example.com", "password": "password-123"})
	if e := wantError(t, r, 400, "EMAIL_DOMAIN_BLOCKED"); e.Message != "This email domain is blocked" {
		t.Errorf("message %q", e.Message)
	}
	if _, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "B", Email: "blocked@example.com", Password: "password-123"}); !errors.Is(err, errEmailBlocked) {
		t.Errorf("Go sign-up: %v, want the hook's error", err)
	}
	if err := a.Host().CreateUser(ctx, &auth.User{Name: "B", Email: "blocked@example.com"}, nil); !errors.Is(err, errEmailBlocked) {
		t.Errorf("CreateUser: %v", err)
	}
	for _, table := range []string{"user", "account", "session"} {
		if n := rowCount(t, a, table); n != 0 {
			t.Errorf("refused sign-ups left %d %s rows", n, table)
		}
	}
	if p.afterUser.Load() != 0 || p.afterSession.Load() != 0 {
		t.Error("after-hooks ran for refused sign-ups")
	}

	// AfterUserCreate errors are logged, not fatal; AfterSessionCreate runs
	// on every path that creates a session.
	c.signUp("ok@example.com", "password-123")
	c.signIn("ok@example.com", "password-123")
	res, err := a.SignInEmail(ctx, auth.SignInInput{Email: "ok@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Host().CreateSession(ctx, res.User, false); err != nil {
		t.Fatal(err)
	}
	if p.afterUser.Load() != 1 || p.afterSession.Load() != 4 {
		t.Errorf("AfterUserCreate %d, AfterSessionCreate %d; want 1, 4", p.afterUser.Load(), p.afterSession.Load())
	}

	// BeforeSessionCreate refuses: no session row.
	if err := a.Host().CreateUser(ctx, &auth.User{Name: "N", Email: "nosession@example.com"}, nil); err != nil {
		t.Fatal(err)
	}
	u, _ := a.Host().FindUserByEmail(ctx, "nosession@example.com")
	if _, err := a.Host().CreateSession(ctx, u, true); !errors.Is(err, plugin.NewError(403, "SESSION_REFUSED", "")) {
		t.Errorf("CreateSession: %v", err)
	}
	if n := rowCount(t, a, "session", storage.W("userId", u.ID)); n != 0 {
		t.Errorf("%d sessions for a refused user", n)
	}
}

func TestPluginDataSource(t *testing.T) {
	t.Parallel()
	p := &memoPlugin{}
	a, srv := newTestServer(t, func(c *auth.Config) { c.User.DeleteEnabled = true }, p)
	c := newClient(t, a, srv)
	ctx := context.Background()
	uid := c.signUp("data@example.com", "password-123")["user"].(map[string]any)["id"].(string)
	for _, b := range []string{"two", "one"} {
		if r := c.post("/memos", map[string]any{"body": b}); r.Status != 200 {
			t.Fatal(r.Status)
		}
	}
	other := newClient(t, a, srv)
	other.signUp("other@example.com", "password-123")
	other.post("/memos", map[string]any{"body": "not yours"})

	out, err := a.ExportUser(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"one", "two"}, out["memos"]); d != "" {
		t.Errorf("exported memos (-want +got):\n%s", d)
	}
	if u, _ := out["user"].(*auth.User); u == nil || u.ID != uid {
		t.Errorf("exported user %v", out["user"])
	}
	b, _ := json.Marshal(out)
	if strings.Contains(string(b), "fast$") || strings.Contains(string(b), `"token"`) {
		t.Errorf("export leaks secrets: %s", b)
	}
	if !strings.Contains(string(b), `"hasPassword":true`) {
		t.Errorf("export lacks the account: %s", b)
	}

	// BeforeUserDelete can refuse; nothing is deleted then.
	p.refuseDelete.Store(true)
	if err := a.DeleteUser(ctx, uid); !errors.Is(err, plugin.NewError(409, "DELETE_REFUSED", "")) {
		t.Errorf("refused DeleteUser: %v", err)
	}
	if rowCount(t, a, "memo", storage.W("userId", uid)) != 2 || rowCount(t, a, "user", storage.W("id", uid)) != 1 {
		t.Error("a refused deletion deleted data")
	}
	p.refuseDelete.Store(false)

	if err := a.DeleteUser(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if !p.userPresentOnDelete.Load() {
		t.Error("DataSource.DeleteUser ran after the user row was gone")
	}
	for _, table := range []string{"memo", "session", "account"} {
		if n := rowCount(t, a, table, storage.W("userId", uid)); n != 0 {
			t.Errorf("%d %s rows left", n, table)
		}
	}
	if _, err := a.Host().FindUserByID(ctx, uid); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("user still there: %v", err)
	}
	if _, err := a.ExportUser(ctx, uid); !errors.Is(err, auth.ErrUserNotFound) {
		t.Errorf("ExportUser of a deleted user: %v", err)
	}
	if rowCount(t, a, "memo") != 1 {
		t.Error("another user's memo was deleted")
	}

	// Over HTTP too.
	if r := other.post("/delete-user", map[string]any{}); r.Status != 200 {
		t.Fatalf("delete-user: %d %s", r.Status, r.Body)
	}
	if rowCount(t, a, "memo") != 0 {
		t.Error("HTTP delete-user left plugin data")
	}
}

func TestPluginRateLimits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		rules map[string]ratelimit.Rule
		max   int
	}{
		{"plugin rule", nil, 3},
		{"config overrides plugin", map[string]ratelimit.Rule{"/memos": {Window: time.Minute, Max: 5}}, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, srv := newTestServer(t, func(c *auth.Config) {
				c.RateLimit.Disabled = false
				c.RateLimit.Rules = tt.rules
			}, &memoPlugin{})
			c := newClient(t, a, srv)
			c.signUp("rl@example.com", "password-123")
			for i := 0; i < tt.max; i++ {
				if r := c.post("/memos", map[string]any{"body": "x"}); r.Status != 200 {
					t.Fatalf("request %d: %d %s", i+1, r.Status, r.Body)
				}
			}
			if r := c.post("/memos", map[string]any{"body": "x"}); r.Status != 429 {
				t.Errorf("request %d: %d, want 429", tt.max+1, r.Status)
			}
		})
	}
}

type routePlugin struct {
	id      string
	eps     []plugin.Endpoint
	schema  storage.Schema
	initErr error
}

func (p *routePlugin) ID() string                   { return p.id }
func (p *routePlugin) Endpoints() []plugin.Endpoint { return p.eps }
func (p *routePlugin) Schema() storage.Schema       { return p.schema }
func (p *routePlugin) Init(a plugin.Host) error     { return p.initErr }
func handlerOK(*plugin.Context) (any, error)        { return nil, nil }
func mkEndpoint(method, path string) plugin.Endpoint {
	return plugin.Endpoint{Method: method, Path: path, Handler: handlerOK}
}
func mkRoutePlugin(id string, eps ...plugin.Endpoint) *routePlugin {
	return &routePlugin{id: id, eps: eps}
}

// TestPluginRegistrationErrors: auth.New refuses conflicting plugins.
func TestPluginRegistrationErrors(t *testing.T) {
	t.Parallel()
	initErr := errors.New("plugin cannot start")
	tests := []struct {
		name    string
		plugins []auth.Plugin
		want    string // substring of the error
	}{
		{"duplicate IDs", []auth.Plugin{&memoPlugin{}, &memoPlugin{}}, "registered twice"},
		{"duplicate IDs of different types", []auth.Plugin{mkRoutePlugin("x"), mkRoutePlugin("x")}, "registered twice"},
		{"empty ID", []auth.Plugin{mkRoutePlugin("")}, "empty ID"},
		{"nil plugin", []auth.Plugin{nil}, "empty ID"},
		{"route of the core", []auth.Plugin{mkRoutePlugin("x", mkEndpoint("POST", "/sign-in/email"))}, "registered twice"},
		{"route of the core, lower-case method", []auth.Plugin{mkRoutePlugin("x", mkEndpoint("get", "/get-session"))}, "registered twice"},
		{"route of another plugin", []auth.Plugin{mkRoutePlugin("a", mkEndpoint("GET", "/x")), mkRoutePlugin("b", mkEndpoint("GET", "/x"))}, "registered twice"},
		{"parameter route twice", []auth.Plugin{mkRoutePlugin("a", mkEndpoint("GET", "/x/:id")), mkRoutePlugin("b", mkEndpoint("GET", "/x/:id"))}, "registered twice"},
		{"parameter route twice, other names", []auth.Plugin{mkRoutePlugin("a", mkEndpoint("GET", "/x/:id")), mkRoutePlugin("b", mkEndpoint("GET", "/x/:key"))}, "registered twice"},
		{"route twice in one plugin", []auth.Plugin{mkRoutePlugin("a", mkEndpoint("POST", "/y"), mkEndpoint("POST", "/y"))}, "registered twice"},
		{"route without slash", []auth.Plugin{mkRoutePlugin("a", mkEndpoint("GET", "x"))}, "invalid endpoint"},
		{"route without handler", []auth.Plugin{mkRoutePlugin("a", plugin.Endpoint{Method: "GET", Path: "/z"})}, "invalid endpoint"},
		{"route without method", []auth.Plugin{mkRoutePlugin("a", plugin.Endpoint{Path: "/z", Handler: handlerOK})}, "invalid endpoint"},
		{"Init fails", []auth.Plugin{&routePlugin{id: "a", initErr: initErr}}, "plugin cannot start"},
		{"conflicting field", []auth.Plugin{&routePlugin{id: "a", schema: storage.Schema{Tables: []storage.Table{
			{Name: "user", Fields: []storage.Field{{Name: "email", Type: storage.Int}}}}}}}, "declared twice"},
		{"bad table name", []auth.Plugin{&routePlugin{id: "a", schema: storage.Schema{Tables: []storage.Table{
			{Name: "bad name; drop", Fields: []storage.Field{{Name: "x", Type: storage.String}}}}}}}, "invalid table name"},
		{"reference to unknown table", []auth.Plugin{&routePlugin{id: "a", schema: storage.Schema{Tables: []storage.Table{
			{Name: "t", Fields: []storage.Field{{Name: "x", Type: storage.String, References: &storage.Reference{Table: "nope", Field: "id"}}}}}}}}, "unknown table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.New(testConfig("http://localhost:3000"), memory.New(), tt.plugins...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("auth.New = %v, want an error containing %q", err, tt.want)
			}
			if tt.name == "Init fails" && !errors.Is(err, initErr) {
				t.Errorf("Init error not wrapped: %v", err)
			}
		})
	}
	// Different methods on one path, and one plugin's two routes, are fine.
	if _, err := auth.New(testConfig("http://localhost:3000"), memory.New(),
		mkRoutePlugin("a", mkEndpoint("GET", "/thing"), mkEndpoint("POST", "/thing")), mkRoutePlugin("b", mkEndpoint("GET", "/thing/:id"))); err != nil {
		t.Errorf("distinct routes refused: %v", err)
	}
}

// codesPlugin declares error codes.
type codesPlugin struct {
	id    string
	codes []*plugin.Error
}

func (p *codesPlugin) ID() string                  { return p.id }
func (p *codesPlugin) ErrorCodes() []*plugin.Error { return p.codes }

// A code means one error (errors.Is matches by code): auth.New refuses a
// code declared with two statuses, by the core and a plugin or by two
// plugins, and accepts the same declaration twice.
func TestErrorCodeDeclarations(t *testing.T) {
	t.Parallel()
	own := plugin.NewError(http.StatusConflict, "BOOKMARK_EXISTS", "Bookmark exists")
	tests := []struct {
		name    string
		plugins []auth.Plugin
		wantErr string
	}{
		{"own codes", []auth.Plugin{&codesPlugin{"a", []*plugin.Error{own}}}, ""},
		{"a core code with the core's status", []auth.Plugin{&codesPlugin{"a", []*plugin.Error{auth.ErrUnauthorized}}}, ""},
		{"the same code twice alike", []auth.Plugin{&codesPlugin{"a", []*plugin.Error{own}}, &codesPlugin{"b", []*plugin.Error{own}}}, ""},
		{"a code-less error", []auth.Plugin{&codesPlugin{"a", []*plugin.Error{plugin.NewError(http.StatusTeapot, "", "x")}}}, ""},
		{"a core code with another status", []auth.Plugin{&codesPlugin{"a", []*plugin.Error{plugin.NewError(http.StatusForbidden, "UNAUTHORIZED", "no")}}},
			`plugin "a" declares error code UNAUTHORIZED with status 403; the core declares it with 401`},
		{"two plugins disagree", []auth.Plugin{&codesPlugin{"a", []*plugin.Error{own}}, &codesPlugin{"b", []*plugin.Error{plugin.NewError(http.StatusBadRequest, "BOOKMARK_EXISTS", "x")}}},
			`plugin "b" declares error code BOOKMARK_EXISTS with status 400; plugin "a" declares it with 409`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := auth.New(testConfig("http://localhost:3000"), memory.New(), tt.plugins...)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("auth.New = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// A plugin's ":name" segments: a fixed segment wins over a parameter, a
// parameter takes a whole non-empty segment, and anything else is an empty
// 404 (never the mux's 405 or its redirect of an unclean path); see also
// TestRouting.
func TestParameterRouting(t *testing.T) {
	t.Parallel()
	echo := func(c *plugin.Context) (any, error) { return map[string]string{"id": c.Param("id")}, nil }
	a, srv := newTestServer(t, nil, mkRoutePlugin("items",
		plugin.Endpoint{Method: "GET", Path: "/items/:id", Handler: echo},
		plugin.Endpoint{Method: "GET", Path: "/items/new", Handler: func(*plugin.Context) (any, error) { return map[string]string{"id": "(new)"}, nil }},
	))
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/api/auth/items/42", 200, `{"id":"42"}`},
		{"GET", "/api/auth/items/new", 200, `{"id":"(new)"}`},
		{"GET", "/api/auth/items/a%2Fb", 200, `{"id":"a/b"}`},
		{"HEAD", "/api/auth/items/42", 404, ""},
		{"POST", "/api/auth/items/42", 404, ""},
		{"GET", "/api/auth/items/", 404, ""},
		{"GET", "/api/auth/items/42/", 404, ""},
		{"GET", "/api/auth/items", 404, ""},
		{"GET", "/api/auth/./items/42", 404, ""},
		{"GET", "/api/auth//items/42", 404, ""},
		{"GET", "/api/auth/nothing", 404, ""},
		{"GET", "/api/other/items/42", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			req.URL.Opaque = tt.path // send the path as written (no cleaning by the client)
			res, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || strings.TrimSpace(string(b)) != tt.body {
				t.Errorf("%d %q, want %d %q", res.StatusCode, b, tt.status, tt.body)
			}
		})
	}
	if got := a.Routes(); !slices.Contains(got, "GET /api/auth/items/:id") || !slices.Contains(got, "POST /api/auth/sign-in/email") {
		t.Errorf("Routes() = %v", got)
	}
}
