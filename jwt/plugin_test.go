package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// TestEndToEnd signs up over HTTP, fetches /token and verifies it with a
// remote Verifier against /jwks; checks the exact claim set, the
// set-auth-jwt header and that Mint gives the very same token.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	clk := testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	e := newEnv(t, envConfig{clock: clk})
	su := e.signUp("jay@example.com")

	tok := e.token()
	v, err := verify.New(e.url("/jwks"), verify.WithIssuer(e.base), verify.WithAudience(e.base), verify.WithNow(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify(/token): %v", err)
	}

	resp, body := e.do("GET", "/get-session", nil)
	var gs struct {
		Session struct{ ID, Token string }
	}
	if err := json.Unmarshal(body, &gs); err != nil || gs.Session.ID == "" {
		t.Fatalf("get-session %s: %v", body, err)
	}
	iat := clk.Now().Unix()
	wantRaw := map[string]any{
		"sub": su.User.ID, "email": "jay@example.com", "role": "user", "sid": gs.Session.ID,
		"iat": float64(iat), "exp": float64(iat + 900), "iss": e.base, "aud": e.base,
	}
	if diff := cmp.Diff(wantRaw, c.Raw); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	want := &verify.Claims{
		Subject: su.User.ID, Email: "jay@example.com", Role: "user", SessionID: gs.Session.ID,
		Issuer: e.base, Audience: []string{e.base}, IssuedAt: time.Unix(iat, 0).UTC(),
		ExpiresAt: time.Unix(iat+900, 0).UTC(), KeyID: c.KeyID, Raw: wantRaw, JSON: c.JSON,
	}
	var fromJSON map[string]any
	if err := json.Unmarshal(c.JSON, &fromJSON); err != nil || !cmp.Equal(fromJSON, wantRaw) {
		t.Errorf("Claims.JSON = %s (%v); want the claims %v", c.JSON, err, wantRaw)
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Claims (-want +got):\n%s", diff)
	}
	if h := decodeSegment(t, tok, 0); !cmp.Equal(h, map[string]any{"alg": "EdDSA", "kid": c.KeyID}) {
		t.Errorf("header = %v", h)
	}

	// get-session carries the same token (same clock, deterministic Ed25519).
	if got := resp.Header.Get("set-auth-jwt"); got != tok {
		t.Errorf("set-auth-jwt = %q, want the /token JWT %q", got, tok)
	}
	if got := resp.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(got, "set-auth-jwt") {
		t.Errorf("Access-Control-Expose-Headers = %q", got)
	}

	// Mint is the route's path.
	sd, err := e.a.GetSession(ctx, gs.Session.Token)
	if err != nil {
		t.Fatal(err)
	}
	minted, err := e.p.Mint(ctx, sd)
	if err != nil {
		t.Fatal(err)
	}
	if minted != tok {
		t.Errorf("Mint = %q\nwant   %q", minted, tok)
	}
	// In-process verification agrees.
	pc, err := e.p.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Plugin.Verify: %v", err)
	}
	if diff := cmp.Diff(c, pc); diff != "" {
		t.Errorf("Plugin.Verify claims differ (-remote +plugin):\n%s", diff)
	}

	// JWKS: exactly Better Auth's shape and member order.
	resp, body = e.do("GET", "/jwks", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, max-age=60" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET /jwks: %d, headers %v", resp.StatusCode, resp.Header)
	}
	re := regexp.MustCompile(`^\{"keys":\[\{"alg":"EdDSA","crv":"Ed25519","x":"[A-Za-z0-9_-]{43}","kty":"OKP","kid":"` + c.KeyID + `"\}\]\}$`)
	if !re.Match(body) {
		t.Errorf("JWKS body = %s", body)
	}
	if n := e.keyCount(); n != 1 {
		t.Errorf("%d keys in the table, want 1", n)
	}
}

// TestRoutesWithoutSession: /token is 401, get-session has no header.
func TestRoutesWithoutSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	resp, body := e.do("GET", "/token", nil)
	if resp.StatusCode != 401 || string(body) != `{"message":"Unauthorized","code":"UNAUTHORIZED"}` {
		t.Errorf("GET /token without session: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/get-session", nil)
	if resp.StatusCode != 200 || string(body) != "null" || resp.Header.Get("set-auth-jwt") != "" {
		t.Errorf("get-session without session: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	// POST /token is not a route.
	resp, _ = e.do("POST", "/token", nil)
	if resp.StatusCode != 404 {
		t.Errorf("POST /token: %d", resp.StatusCode)
	}
}

func TestDisableSettingJWTHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{opts: Options{DisableSettingJWTHeader: true}})
	e.signUp("a@example.com")
	resp, _ := e.do("GET", "/get-session", nil)
	if h := resp.Header.Get("set-auth-jwt"); h != "" || strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "set-auth-jwt") {
		t.Errorf("header set although disabled: %v", resp.Header)
	}
	e.token() // /token still works
}

// TestPayloads covers the default role lookup, Better Auth's payload and a
// custom payload.
func TestPayloads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		opts   Options
		role   *string // set on the user row
		check  func(t *testing.T, raw map[string]any, uid string)
		others []auth.Plugin
	}{
		{
			name: "role from user field", role: ptr("admin"), others: []auth.Plugin{rolePlugin{}},
			check: func(t *testing.T, raw map[string]any, _ string) {
				if raw["role"] != "admin" {
					t.Errorf("role = %v", raw["role"])
				}
			},
		},
		{
			name: "role field null", others: []auth.Plugin{rolePlugin{}},
			check: func(t *testing.T, raw map[string]any, _ string) {
				if raw["role"] != "user" {
					t.Errorf("role = %v", raw["role"])
				}
			},
		},
		{
			name: "BetterAuthPayload", opts: Options{Payload: BetterAuthPayload},
			check: func(t *testing.T, raw map[string]any, uid string) {
				keys := make([]string, 0, len(raw))
				for k := range raw {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				want := []string{"aud", "createdAt", "email", "emailVerified", "exp", "iat", "id", "image", "iss", "name", "sub", "updatedAt"}
				if diff := cmp.Diff(want, keys); diff != "" {
					t.Errorf("claim names (-want +got):\n%s", diff)
				}
				if raw["sub"] != uid || raw["id"] != uid || raw["emailVerified"] != false || raw["image"] != nil {
					t.Errorf("claims = %v", raw)
				}
				if s, _ := raw["createdAt"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(s) {
					t.Errorf("createdAt = %q, want ISO-8601 with milliseconds", s)
				}
			},
		},
		{
			name: "custom payload", opts: Options{Payload: func(ctx context.Context, sd *auth.SessionData) (map[string]any, error) {
				m, err := BetterAuthPayload(ctx, sd)
				if err != nil {
					return nil, err
				}
				return map[string]any{"plan": "pro", "email": m["email"], "iss": "ignored", "exp": 1}, nil
			}},
			check: func(t *testing.T, raw map[string]any, uid string) {
				if raw["plan"] != "pro" || raw["sub"] != uid || raw["iss"] == "ignored" || raw["exp"] == float64(1) {
					t.Errorf("claims = %v", raw)
				}
			},
		},
		{
			name: "custom sub", opts: Options{Payload: func(context.Context, *auth.SessionData) (map[string]any, error) {
				return map[string]any{"sub": "svc:42"}, nil
			}},
			check: func(t *testing.T, raw map[string]any, _ string) {
				if raw["sub"] != "svc:42" {
					t.Errorf("sub = %v", raw["sub"])
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envConfig{opts: tc.opts, plugins: tc.others})
			su := e.signUp("p@example.com")
			if tc.role != nil {
				if _, err := e.db.Update(ctx, plugin.TableUser, storage.Record{"role": *tc.role}, storage.W("id", su.User.ID)); err != nil {
					t.Fatal(err)
				}
			}
			tok := e.token()
			c, err := e.p.Verify(ctx, tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Raw["iss"] != e.base || c.Raw["aud"] != e.base || c.Raw["exp"].(float64)-c.Raw["iat"].(float64) != 900 {
				t.Errorf("registered claims = %v", c.Raw)
			}
			tc.check(t, c.Raw, su.User.ID)
		})
	}
}

// TestPayloadError: a failing Payload fails /token, and get-session still
// answers (without the header).
func TestPayloadError(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{opts: Options{Payload: func(context.Context, *auth.SessionData) (map[string]any, error) {
		return nil, plugin.NewError(http.StatusForbidden, "NO_TOKENS", "No tokens for you")
	}}})
	e.signUp("x@example.com")
	resp, body := e.do("GET", "/token", nil)
	if resp.StatusCode != 403 || string(body) != `{"message":"No tokens for you","code":"NO_TOKENS"}` {
		t.Errorf("GET /token: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/get-session", nil)
	if resp.StatusCode != 200 || resp.Header.Get("set-auth-jwt") != "" || !strings.Contains(string(body), `"session"`) {
		t.Errorf("get-session: %d %s", resp.StatusCode, body)
	}
}

// failingDB is a memory adapter whose reads of the key table fail while
// fail is set.
type failingDB struct {
	*memory.Adapter
	fail atomic.Bool
}

var errDBDown = errors.New("database down")

func (d *failingDB) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	if table == TableJWKS && d.fail.Load() {
		return nil, errDBDown
	}
	return d.Adapter.FindMany(ctx, table, q)
}

// TestVerifyErrors: Plugin.Verify's errors are *verify.Error with a code,
// also when it cannot run (not registered) or cannot read its keys (the
// cause kept for the logs), as a verify.Verifier's are.
func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	asCoded := func(t *testing.T, err error, want error) {
		t.Helper()
		var ve *verify.Error
		if !errors.As(err, &ve) || ve.Code == "" || !errors.Is(err, want) {
			t.Fatalf("Verify: %#v, want a *verify.Error matching %v", err, want)
		}
	}

	_, err := New(Options{}).Verify(ctx, "x.y.z")
	asCoded(t, err, verify.ErrKeySetUnavailable)
	if !errors.Is(err, errNotInitialized) {
		t.Errorf("unregistered plugin: %v does not say so", err)
	}

	clk := testkit.NewClock(time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC))
	db := &failingDB{Adapter: memory.New()}
	p := New(Options{})
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: testSecret, Now: clk.Now,
		RateLimit: auth.RateLimitConfig{Disabled: true}}, db, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tok, err := p.Mint(ctx, &auth.SessionData{Session: &auth.Session{ID: "s"}, User: &auth.User{ID: "u", Email: "u@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	_, err = p.Verify(ctx, "not a token")
	asCoded(t, err, verify.ErrMalformed)

	// A token of a key this table does not hold (another deployment's).
	other := New(Options{})
	if _, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: testSecret, Now: clk.Now,
		RateLimit: auth.RateLimitConfig{Disabled: true}}, memory.New(), other); err != nil {
		t.Fatal(err)
	}
	foreign, err := other.Mint(ctx, &auth.SessionData{Session: &auth.Session{ID: "s"}, User: &auth.User{ID: "u"}})
	if err != nil {
		t.Fatal(err)
	}

	// The snapshot goes stale while the key table cannot be read: known
	// keys are still answered from it; an unknown kid, which needs the
	// table, is ErrKeySetUnavailable with the cause.
	db.fail.Store(true)
	clk.Advance(DefaultKeyCacheTTL)
	if _, err := p.Verify(ctx, tok); err != nil {
		t.Errorf("known key while the table cannot be read: %v", err)
	}
	_, err = p.Verify(ctx, foreign)
	asCoded(t, err, verify.ErrKeySetUnavailable)
	if !errors.Is(err, errDBDown) {
		t.Errorf("storage failure: %v does not keep the cause", err)
	}
	db.fail.Store(false)
	clk.Advance(retryAfterFailure)
	if _, err := p.Verify(ctx, tok); err != nil {
		t.Errorf("after the database is back: %v", err)
	}
	_, err = p.Verify(ctx, foreign)
	asCoded(t, err, verify.ErrUnknownKey)
}

// TestOptions covers issuer/audience/expiration overrides, the JWKS path
// and cache header, and invalid options.
func TestOptions(t *testing.T) {
	t.Parallel()
	clk := testkit.NewClock(time.Unix(1_900_000_000, 0))
	e := newEnv(t, envConfig{clock: clk, opts: Options{
		Issuer: "https://issuer.example", Audience: "api://mana", Expiration: time.Hour,
		JWKSPath: "/.well-known/jwks.json", JWKSMaxAge: -1,
	}})
	e.signUp("o@example.com")
	tok := e.token()
	resp, body := e.do("GET", "/.well-known/jwks.json", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("custom JWKS path: %d %v", resp.StatusCode, resp.Header)
	}
	keys, err := verify.ParseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := verify.NewStatic(keys, verify.WithIssuer("https://issuer.example"), verify.WithAudience("api://mana"), verify.WithNow(clk.Now))
	c, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ExpiresAt.Sub(c.IssuedAt); got != time.Hour {
		t.Errorf("lifetime = %v", got)
	}
	if resp, _ := e.do("GET", "/jwks", nil); resp.StatusCode != 404 {
		t.Errorf("default JWKS path still routed: %d", resp.StatusCode)
	}

	for _, o := range []Options{{Expiration: time.Millisecond}, {GracePeriod: -time.Second}, {JWKSPath: "jwks"}, {JWKSPath: "/../x"}} {
		_, err := auth.New(auth.Config{BaseURL: "http://localhost", Secret: testSecret}, newMemory(), New(o))
		if err == nil {
			t.Errorf("auth.New with %+v: no error", o)
		}
	}
	// Not registered with an Auth.
	if _, err := New(Options{}).Mint(context.Background(), &auth.SessionData{}); err == nil {
		t.Error("Mint on an unregistered plugin: no error")
	}
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"http://localhost:3000", "http://localhost:3000"},
		{"https://Auth.Example.com/api/auth", "https://auth.example.com"},
		{"https://auth.example.com:443/x", "https://auth.example.com"},
		{"http://auth.example.com:80", "http://auth.example.com"},
		{"http://[::1]:8080/", "http://[::1]:8080"},
		{"ftp://x", ""},
		{"/relative", ""},
	}
	for _, tc := range tests {
		got, err := Origin(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("Origin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestConcurrentFirstUse: many concurrent first requests (Mint and /jwks)
// create exactly one key.
func TestConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envConfig{})
	su := e.signUp("c@example.com")
	sd := &auth.SessionData{Session: &auth.Session{ID: "s"}, User: &auth.User{ID: su.User.ID, Email: "c@example.com"}}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	kids := make(chan string, 20)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				tok, err := e.p.Mint(context.Background(), sd)
				if err != nil {
					errs <- err
					return
				}
				var h struct{ Kid string }
				head, _, _ := strings.Cut(tok, ".")
				b, err := rawB64.DecodeString(head)
				if err == nil {
					err = json.Unmarshal(b, &h)
				}
				if err != nil {
					errs <- err
					return
				}
				kids <- h.Kid
				return
			}
			resp, err := http.Get(e.url("/jwks"))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("GET /jwks: %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(kids)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for k := range kids {
		seen[k] = true
	}
	if len(seen) != 1 || e.keyCount() != 1 {
		t.Errorf("kids used %v, %d keys stored; want exactly one", seen, e.keyCount())
	}
}

// TestWrongSecret: a key encrypted under another secret is refused with a
// clear error (Better Auth does the same), not a panic or a silent new key.
func TestWrongSecret(t *testing.T) {
	t.Parallel()
	db := newMemory()
	e1 := newEnv(t, envConfig{db: db, base: "http://localhost:3000"})
	sd := &auth.SessionData{Session: &auth.Session{ID: "s"}, User: &auth.User{ID: "u"}}
	if _, err := e1.p.Mint(context.Background(), sd); err != nil {
		t.Fatal(err)
	}
	p2 := New(Options{})
	if _, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: strings.Repeat("z", 40)}, db, p2); err != nil {
		t.Fatal(err)
	}
	_, err := p2.Mint(context.Background(), sd)
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Status != 500 || !strings.Contains(err.Error(), "cannot decrypt") {
		t.Errorf("Mint with the wrong secret: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
