package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// sqlKinds are the SQL adapters the tests of writes run on.
var sqlKinds = []string{"sqlite", "postgres"}

// newSQLServer is newTestServer on a fresh SQLite file or PostgreSQL
// schema (skipped without a server, unless CI=true), migrated.
func newSQLServer(t testing.TB, kind string, mutate func(*auth.Config), plugins ...auth.Plugin) (*auth.Auth, *httptest.Server) {
	t.Helper()
	var db storage.Adapter
	switch kind {
	case "sqlite":
		s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db"), Logger: discardLogger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		db = s
	case "postgres":
		schema := testpg.SchemaName(t, "core_")
		p, err := postgres.Open(context.Background(), postgres.Options{URL: testpg.URL(), Schema: schema, Logger: discardLogger})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		db = p
	default:
		t.Fatalf("unknown adapter %q", kind)
	}
	srv := httptest.NewUnstartedServer(nil)
	cfg := testConfig("http://" + srv.Listener.Addr().String())
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := auth.New(cfg, db, plugins...)
	if err != nil {
		srv.Close()
		t.Fatalf("auth.New: %v", err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return a, srv
}

// handlePlugin declares user fields (handle, unique and an input; note)
// and a session field (device), normalises handle in BeforeUserUpdate
// and refuses the name "Forbidden" there, recording every call.
type handlePlugin struct {
	h plugin.Host

	mu    sync.Mutex
	calls []map[string]any
}

var errForbiddenName = plugin.NewError(http.StatusBadRequest, "NAME_FORBIDDEN", "That name is forbidden")

func (p *handlePlugin) ID() string                  { return "handle" }
func (p *handlePlugin) Init(h plugin.Host) error    { p.h = h; return nil }
func (p *handlePlugin) ErrorCodes() []*plugin.Error { return []*plugin.Error{errForbiddenName} }

func (p *handlePlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{Name: plugin.TableUser, Fields: []storage.Field{
			{Name: "handle", Type: storage.String, Unique: true, Input: true},
			{Name: "note", Type: storage.String},
		}},
		{Name: plugin.TableSession, Fields: []storage.Field{{Name: "device", Type: storage.String}}},
	}}
}

func (p *handlePlugin) Hooks() plugin.Hooks {
	return plugin.Hooks{BeforeUserUpdate: func(ctx context.Context, userID string, fields map[string]any) error {
		p.mu.Lock()
		p.calls = append(p.calls, maps.Clone(fields))
		p.mu.Unlock()
		if fields["name"] == "Forbidden" {
			return errForbiddenName
		}
		if h, ok := fields["handle"].(string); ok {
			fields["handle"] = strings.ToLower(h)
		}
		return nil
	}}
}

// takeCalls returns the recorded calls and forgets them.
func (p *handlePlugin) takeCalls() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.calls
	p.calls = nil
	return out
}

// TestBeforeUserUpdate: every write of user fields runs the hook with
// the fields being set — POST /update-user, Host.UpdateUser (core fields
// too), change-email and the verification of an address — and stores
// what it leaves; its error answers, and nothing is written.
func TestBeforeUserUpdate(t *testing.T) {
	t.Parallel()
	for _, kind := range sqlKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p := &handlePlugin{}
			a, srv := newSQLServer(t, kind, func(c *auth.Config) {
				c.Mailer = &mail.Recorder{}
				c.User.ChangeEmailEnabled, c.User.UpdateEmailWithoutVerification = true, true
			}, p)
			c := newClient(t, a, srv)
			uid := c.signUp("hook@example.com", "password-123")["user"].(map[string]any)["id"].(string)
			h, ctx := a.Host(), context.Background()
			stored := func() map[string]any {
				u, err := h.FindUserByID(ctx, uid)
				if err != nil {
					t.Fatal(err)
				}
				return map[string]any{"name": u.Name, "email": u.Email, "emailVerified": u.EmailVerified, "handle": u.Extra["handle"]}
			}
			type want struct {
				status int    // of the HTTP route; 0 for a Go call
				code   string // the refusal's
				calls  []map[string]any
				stored map[string]any
			}
			steps := []struct {
				name string
				run  func() (int, error)
				want want
			}{
				{"update-user", func() (int, error) {
					return c.post("/update-user", map[string]any{"name": "Ada", "handle": "MiXed"}).Status, nil
				}, want{status: 200, calls: []map[string]any{{"name": "Ada", "handle": "MiXed"}},
					stored: map[string]any{"name": "Ada", "email": "hook@example.com", "emailVerified": false, "handle": "mixed"}}},
				{"update-user refused", func() (int, error) {
					r := c.post("/update-user", map[string]any{"name": "Forbidden", "handle": "Other"})
					e := wantError(t, r, 400, "NAME_FORBIDDEN")
					return r.Status, errors.New(e.Code)
				}, want{status: 400, code: "NAME_FORBIDDEN", calls: []map[string]any{{"name": "Forbidden", "handle": "Other"}},
					stored: map[string]any{"name": "Ada", "email": "hook@example.com", "emailVerified": false, "handle": "mixed"}}},
				{"Host.UpdateUser", func() (int, error) {
					_, err := h.UpdateUser(ctx, uid, map[string]any{"handle": "FromGo", "name": "Grace", "note": "n"})
					return 0, err
				}, want{calls: []map[string]any{{"handle": "FromGo", "name": "Grace", "note": "n"}},
					stored: map[string]any{"name": "Grace", "email": "hook@example.com", "emailVerified": false, "handle": "fromgo"}}},
				{"Host.UpdateUser refused", func() (int, error) {
					_, err := h.UpdateUser(ctx, uid, map[string]any{"name": "Forbidden"})
					return 0, err
				}, want{code: "NAME_FORBIDDEN", calls: []map[string]any{{"name": "Forbidden"}},
					stored: map[string]any{"name": "Grace", "email": "hook@example.com", "emailVerified": false, "handle": "fromgo"}}},
				{"change-email", func() (int, error) {
					return c.post("/change-email", map[string]any{"newEmail": "new@example.com"}).Status, nil
				}, want{status: 200, calls: []map[string]any{{"email": "new@example.com", "emailVerified": false}},
					stored: map[string]any{"name": "Grace", "email": "new@example.com", "emailVerified": false, "handle": "fromgo"}}},
				{"verification", func() (int, error) {
					u, err := h.FindUserByID(ctx, uid)
					if err != nil {
						return 0, err
					}
					_, err = h.MarkEmailVerified(ctx, u, true)
					if err == nil && !u.EmailVerified {
						err = errors.New("u not updated")
					}
					return 0, err
				}, want{calls: []map[string]any{{"emailVerified": true}},
					stored: map[string]any{"name": "Grace", "email": "new@example.com", "emailVerified": true, "handle": "fromgo"}}},
			}
			for _, s := range steps {
				status, err := s.run()
				var code string
				if err != nil {
					code = err.Error()
					if e := (*plugin.Error)(nil); errors.As(err, &e) {
						code = e.Code
					}
				}
				if status != s.want.status || code != s.want.code {
					t.Errorf("%s: status %d, error %q; want %d, %q", s.name, status, code, s.want.status, s.want.code)
				}
				if d := cmp.Diff(s.want.calls, p.takeCalls()); d != "" {
					t.Errorf("%s: the hook's calls (-want +got):\n%s", s.name, d)
				}
				if d := cmp.Diff(s.want.stored, stored()); d != "" {
					t.Errorf("%s: stored (-want +got):\n%s", s.name, d)
				}
			}
		})
	}
}

// TestBeforeUserUpdateConflict: a unique field taken between the hook and
// the write, by Host.UpdateUser: the hooks run again and the owning
// plugin answers; a conflict no hook claims is 422 FAILED_TO_UPDATE_USER,
// which errors.Is matches to storage.ErrConflict; nothing is written.
func TestBeforeUserUpdateConflict(t *testing.T) {
	t.Parallel()
	for _, kind := range sqlKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p := &profilePlugin{}
			a, srv := newSQLServer(t, kind, nil, p)
			c := newClient(t, a, srv)
			c.signUp("first@example.com", "password-123")
			if r := c.post("/update-user", map[string]any{"badge": "gold"}); r.Status != 200 {
				t.Fatalf("update-user: %d %s", r.Status, r.Body)
			}
			uid := newClient(t, a, srv).signUp("second@example.com", "password-123")["user"].(map[string]any)["id"].(string)
			h, ctx := a.Host(), context.Background()
			nick := "racy"
			p.raceNickname.Store(&nick)
			_, err := h.UpdateUser(ctx, uid, map[string]any{"nickname": "Racy", "name": "Changed"})
			if !errors.Is(err, errNicknameTaken) {
				t.Errorf("raced nickname: %v, want NICKNAME_TAKEN", err)
			}
			if got := p.checks.Load(); got != 2 {
				t.Errorf("the plugin checked %d times, want 2", got)
			}
			_, err = h.UpdateUser(ctx, uid, map[string]any{"badge": "gold", "name": "Changed"})
			if e := plugin.AsError(err); e.Status != 422 || e.Code != "FAILED_TO_UPDATE_USER" || !errors.Is(err, storage.ErrConflict) {
				t.Errorf("unclaimed conflict: %v (%d %s)", err, e.Status, e.Code)
			}
			u, err := h.FindUserByID(ctx, uid)
			if err != nil {
				t.Fatal(err)
			}
			if u.Name != "Test User" || u.Extra["nickname"] != nil || u.Extra["badge"] != nil {
				t.Errorf("written despite the conflicts: %+v", u)
			}
			for _, f := range []map[string]any{nil, {}} {
				if _, err := h.UpdateUser(ctx, uid, f); !errors.Is(err, auth.ErrNoFieldsToUpdate) {
					t.Errorf("UpdateUser(%v): %v", f, err)
				}
			}
			if _, err := h.UpdateUser(ctx, uid, map[string]any{"id": "x"}); !errors.Is(err, auth.ErrFieldNotAllowed) {
				t.Errorf("UpdateUser(id): %v", err)
			}
			if _, err := h.UpdateUser(ctx, "nobody", map[string]any{"name": "X"}); !errors.Is(err, auth.ErrUserNotFound) {
				t.Errorf("UpdateUser(unknown user): %v", err)
			}
			if _, err := h.UpdateUser(ctx, uid, map[string]any{"name": "bad\x00name"}); !errors.Is(err, plugin.ErrInvalidInput) {
				t.Errorf("UpdateUser(NUL): %v", err)
			}
		})
	}
}

// TestDeclaredFieldsNull: a user and a session made in memory (sign-up's
// answer, a taken email's made-up user, the session of a sign-in) show
// every field plugins declare, null when no hook set it, as Better Auth
// does and as a record read back shows them.
func TestDeclaredFieldsNull(t *testing.T) {
	t.Parallel()
	for _, noSession := range []bool{false, true} {
		a, srv := newTestServer(t, func(c *auth.Config) {
			c.EmailPassword.RequireEmailVerification = noSession
			c.Session.CookieCache.Enabled = true
		}, &handlePlugin{})
		c := newClient(t, a, srv)
		signUp := func() *response {
			return c.post("/sign-up/email", map[string]any{"name": "N", "email": "null@example.com", "password": "password-123"})
		}
		checkUser := func(what string, r *response) {
			if r.Status != 200 {
				t.Fatalf("no session %v, %s: %d %s", noSession, what, r.Status, r.Body)
			}
			u := r.Object(t)["user"].(map[string]any)
			for _, f := range []string{"handle", "note"} {
				if v, ok := u[f]; !ok || v != nil {
					t.Errorf("no session %v, %s: user.%s = %v (present %v), want null", noSession, what, f, v, ok)
				}
			}
		}
		checkUser("sign-up", signUp())
		if noSession {
			checkUser("the made-up user of a taken email", signUp())
		} else {
			wantError(t, signUp(), 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
		}
		if noSession {
			continue
		}
		s := c.session() // from the cookie cache: the session made in memory
		if v, ok := s["session"].(map[string]any)["device"]; !ok || v != nil {
			t.Errorf("get-session's session.device = %v (present %v), want null", v, ok)
		}
		res, err := a.SignInEmail(context.Background(), auth.SignInInput{Email: "null@example.com", Password: "password-123"})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.Session)
		if !strings.Contains(string(b), `"device":null`) {
			t.Errorf("the new session's JSON %s lacks device", b)
		}
	}
}

// detailsPlugin answers GET /test/error with an error carrying details.
type detailsPlugin struct{ err *plugin.Error }

func (p *detailsPlugin) ID() string { return "details" }
func (p *detailsPlugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{{Method: "GET", Path: "/test/error", Handler: func(*plugin.Context) (any, error) { return nil, p.err }}}
}

// TestErrorDetails: an error's Details are the answer's "details"
// member, as Better Auth's APIError sends them; without Details (or with
// details that are no JSON) the body is {message, code}.
func TestErrorDetails(t *testing.T) {
	t.Parallel()
	limited := plugin.NewError(http.StatusTooManyRequests, "RATE_LIMITED", "Rate limit exceeded.")
	cases := []struct {
		name       string
		err        *plugin.Error
		body       string
		retryAfter string
	}{
		{"details", limited.WithRetryAfter(1500 * time.Millisecond).WithDetails(map[string]any{"tryAgainIn": 1500}),
			`{"message":"Rate limit exceeded.","code":"RATE_LIMITED","details":{"tryAgainIn":1500}}`, "2"},
		{"none", limited, `{"message":"Rate limit exceeded.","code":"RATE_LIMITED"}`, ""},
		{"empty", limited.WithDetails(map[string]any{}), `{"message":"Rate limit exceeded.","code":"RATE_LIMITED"}`, ""},
		{"not JSON", limited.WithDetails(map[string]any{"f": func() {}}), `{"message":"Rate limit exceeded.","code":"RATE_LIMITED"}`, ""},
	}
	for _, tc := range cases {
		a, srv := newTestServer(t, nil, &detailsPlugin{err: tc.err})
		r := newClient(t, a, srv).get("/test/error")
		got := struct{ Status, Body, RetryAfter string }{http.StatusText(r.Status), string(r.Body), r.Header.Get("Retry-After")}
		want := struct{ Status, Body, RetryAfter string }{http.StatusText(http.StatusTooManyRequests), tc.body, tc.retryAfter}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
	if e := limited.WithDetails(map[string]any{"a": 1}).WithMessage("m"); e.Details["a"] != 1 || limited.Details != nil {
		t.Errorf("copies: %+v, original %+v", e, limited)
	}
}

// settingsPlugin keeps the Settings its Init is given.
type settingsPlugin struct{ s plugin.Settings }

func (p *settingsPlugin) ID() string { return "settings" }
func (p *settingsPlugin) Init(h plugin.Host) error {
	p.s = h.Settings()
	return nil
}

// TestSettingsPasswordsAndFlows: Settings carries the password bounds
// (defaults 8 and 128), AutoSignInAfterVerification and
// KeepSessionsOnPasswordReset of the configuration.
func TestSettingsPasswordsAndFlows(t *testing.T) {
	t.Parallel()
	type got struct {
		Min, Max         int
		AutoSignIn, Keep bool
	}
	cases := []struct {
		name   string
		mutate func(*auth.Config)
		want   got
	}{
		{"defaults", nil, got{8, 128, false, false}},
		{"set", func(c *auth.Config) {
			c.EmailPassword.MinPasswordLength, c.EmailPassword.MaxPasswordLength = 12, 64
			c.EmailPassword.KeepSessionsOnPasswordReset = true
			c.EmailVerification.AutoSignInAfterVerification = true
		}, got{12, 64, true, true}},
	}
	for _, tc := range cases {
		p := &settingsPlugin{}
		newAuth(t, tc.mutate, p)
		s := p.s
		if d := cmp.Diff(tc.want, got{s.MinPasswordLength, s.MaxPasswordLength, s.AutoSignInAfterVerification, s.KeepSessionsOnPasswordReset}); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}
