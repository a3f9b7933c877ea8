package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/twofactor"
	"github.com/managarten/mana-auth/vault"
)

// e2e is a full reference server (every plugin, the mana routes) over
// HTTP on loopback, with a fake clock, captured mail, an in-process
// mana-credits and a distinct client IP per request (TRUSTED_PROXIES is
// loopback and each request carries its own X-Forwarded-For), so the
// server's rate limits only bite where a test sends one IP on purpose.
type e2e struct {
	*testEnv
	clock *testkit.Clock
	ips   atomic.Int64
}

const testPassword = "password123"

func newE2E(t *testing.T, mutate func(*Config)) *e2e {
	t.Helper()
	return newE2EOn(t, memory.New(), mutate)
}

// newE2EOn is newE2E over db (which the caller closes).
func newE2EOn(t *testing.T, db storage.Adapter, mutate func(*Config)) *e2e {
	t.Helper()
	env := &e2e{testEnv: &testEnv{box: &outbox{}, credits: newFakeCredits()}, clock: testkit.NewClock(time.Now().UTC().Truncate(time.Millisecond))}
	env.srv = httptest.NewUnstartedServer(nil)
	cfg := Config{
		BaseURL: "http://localhost:" + port(env.srv.Listener.Addr().String()), Secret: "an-e2e-test-secret-of-enough-length!!",
		AutoMigrate: true, AdminEmails: []string{"admin@example.com"}, ServiceKey: "internal-service-key-123",
		JWTAudience: "mana", DataDir: t.TempDir(), TrustedProxies: []string{"127.0.0.1", "::1"},
		TrustedOrigins: []string{"https://app.mana.how"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := NewWithStorage(context.Background(), cfg, db, Deps{Credits: env.credits, Mailer: env.box, Now: env.clock.Now}, log)
	if err != nil {
		t.Fatal(err)
	}
	env.s = s
	env.srv.Config.Handler = s.Handler()
	env.srv.Start()
	t.Cleanup(func() { env.srv.Close(); s.Close() })
	return env
}

// req is one request of a test: headers are pairs; the body is sent as
// JSON unless a Content-Type pair says otherwise.
type req struct {
	method, path, body string
	hdr                []string
}

// do sends r with an Origin of the server's own BASE_URL (as the browser
// apps do; a "Origin", "" pair drops it) and records the route for the
// coverage check.
func (env *e2e) do(t *testing.T, r req) resp {
	t.Helper()
	var rd io.Reader
	if r.body != "" {
		rd = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, env.srv.URL+r.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if r.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Origin", env.s.cfg.BaseURL)
	n := env.ips.Add(1)
	hr.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
	for i := 0; i+1 < len(r.hdr); i += 2 {
		if r.hdr[i+1] == "" {
			hr.Header.Del(r.hdr[i])
		} else {
			hr.Header.Set(r.hdr[i], r.hdr[i+1])
		}
	}
	key := env.routeKey(hr)
	client := *env.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	if key != "" && out.status/100 == 2 {
		coverage.mark(key, true)
	}
	return out
}

// routeKey is the /api/v1 route a request reaches, as "METHOD /path" with
// the pattern's wildcards; vault routes by their path.
func (env *e2e) routeKey(r *http.Request) string {
	if !strings.HasPrefix(r.URL.Path, "/api/v1/") {
		return ""
	}
	_, pattern := env.s.v1.Handler(r)
	if pattern == vaultPrefix+"/" {
		return r.Method + " " + r.URL.Path
	}
	if pattern == "" || !strings.Contains(pattern, " ") {
		return ""
	}
	return pattern
}

func (env *e2e) get(t *testing.T, path string, hdr ...string) resp {
	t.Helper()
	return env.do(t, req{method: "GET", path: path, hdr: hdr})
}

func (env *e2e) post(t *testing.T, path, body string, hdr ...string) resp {
	t.Helper()
	return env.do(t, req{method: "POST", path: path, body: body, hdr: hdr})
}

// want fails unless r has the status and, if code is set, the code in the
// body's "error" (the /api/v1/auth envelope) or "code" field.
func want(t *testing.T, what string, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, short(r.raw))
	}
	if code != "" && errCode(r) != code {
		t.Fatalf("%s: code %q, want %q; body %s", what, errCode(r), code, short(r.raw))
	}
}

// errCode is the stable code of an error body: the envelope's "error" when
// it is a code, else "code".
func errCode(r resp) string {
	if e, ok := r.body["error"].(string); ok && e == strings.ToUpper(e) && e != "" {
		return e
	}
	c, _ := r.body["code"].(string)
	return c
}

func short(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// seeded is a user made directly in the database (no scrypt run: the
// hash of testPassword is computed once per process) with a session.
type seeded struct {
	id, email string
	cookie    string // "mana.session_token=…"
	token     string // session token (bearer)
	jwt       string // access token minted now
}

var testPasswordHash = sync.OnceValue(func() string {
	h, err := auth.ScryptHasher{}.Hash(testPassword)
	if err != nil {
		panic(err)
	}
	return h
})

// seed creates a verified user with a credential account and a session.
func (env *e2e) seed(t *testing.T, email string) *seeded {
	t.Helper()
	ctx := context.Background()
	h := testPasswordHash()
	u := &auth.User{Name: strings.Split(email, "@")[0], Email: email, EmailVerified: true}
	if err := env.s.auth.Host().CreateUser(ctx, u, &plugin.Account{ID: plugin.NewID(), ProviderID: plugin.CredentialProvider, Password: &h}); err != nil {
		t.Fatal(err)
	}
	return env.session(t, u)
}

// session opens a new session for u and mints its access token.
func (env *e2e) session(t *testing.T, u *auth.User) *seeded {
	t.Helper()
	ctx := context.Background()
	res, err := env.s.auth.Host().CreateSession(ctx, u, true)
	if err != nil {
		t.Fatal(err)
	}
	out := &seeded{id: u.ID, email: u.Email, token: res.Token()}
	for _, c := range res.Cookies {
		if c.Name == "mana.session_token" {
			out.cookie = c.Name + "=" + c.Value
		}
	}
	if out.cookie == "" {
		t.Fatalf("no session cookie in %v", res.Cookies)
	}
	if out.jwt, err = env.s.jwt.Mint(ctx, &auth.SessionData{Session: res.Session, User: u}); err != nil {
		t.Fatal(err)
	}
	return out
}

// expiredJWT mints u's access token 20 minutes in the past (15-minute
// lifetime), so it is expired now.
func (env *e2e) expiredJWT(t *testing.T, u *seeded) string {
	t.Helper()
	ctx := context.Background()
	user, err := env.s.auth.Host().FindUserByID(ctx, u.id)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := env.s.auth.GetSession(ctx, u.token)
	if err != nil {
		t.Fatal(err)
	}
	now := env.clock.Now()
	env.clock.Set(now.Add(-20 * time.Minute))
	tok, err := env.s.jwt.Mint(ctx, &auth.SessionData{Session: sd.Session, User: user})
	env.clock.Set(now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// forgeJWT re-signs a token's header and claims with a key of our own: the
// kid is the server's, the signature is not.
func forgeJWT(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	sig := ed25519.Sign(priv, []byte(parts[0]+"."+parts[1]))
	return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// withClaims re-encodes a token's claims changed by fn and keeps the
// original signature (so the signature no longer matches).
func withClaims(t *testing.T, tok string, fn func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, _ := json.Marshal(m)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// snapshotTables are the tables whose content a refused request must not
// change (security events, login attempts and vault audit rows are
// written on purpose for refusals).
var snapshotTables = []string{
	plugin.TableUser, plugin.TableSession, plugin.TableAccount, plugin.TableVerification,
	twofactor.TableTwoFactor, org.TableOrganization, org.TableMember, org.TableInvitation,
	vault.TableVaults, passkey.TablePasskey, TableCreditsSync, jwt.TableJWKS,
}

type snapshot map[string][]storage.Record

func (env *e2e) snapshot(t *testing.T) snapshot {
	t.Helper()
	out := snapshot{}
	for _, tb := range snapshotTables {
		recs, err := env.s.db.FindMany(context.Background(), tb, storage.Query{Sort: []storage.Sort{{Field: "id"}}})
		if err != nil {
			t.Fatalf("reading %s: %v", tb, err)
		}
		out[tb] = recs
	}
	return out
}

// unchanged fails if the database differs from before.
func (env *e2e) unchanged(t *testing.T, what string, before snapshot) {
	t.Helper()
	if d := cmp.Diff(before, env.snapshot(t)); d != "" {
		t.Errorf("%s changed the database (-before +after):\n%s", what, d)
	}
}

// settleCredits waits (at most 10 s) until no credits bookkeeping of a
// sign-up is left to run: the first attempt runs in the background after
// the sign-up and would change the database under a snapshot.
func (env *e2e) settleCredits(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		pending := env.count(t, TableCreditsSync, storage.Where{Field: "initializedAt", Op: storage.Eq, Value: nil}) +
			env.count(t, TableCreditsSync, storage.Where{Field: "giftsRedeemedAt", Op: storage.Eq, Value: nil})
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d credits steps still pending", pending)
		}
	}
}

// count returns the number of rows of table matching where.
func (env *e2e) count(t *testing.T, table string, where ...storage.Where) int64 {
	t.Helper()
	n, err := env.s.db.Count(context.Background(), table, where...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mails returns the captured mails to addr.
func (env *e2e) mails(addr string) []auth.Email {
	var out []auth.Email
	for _, m := range env.box.Sent() {
		if strings.EqualFold(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

// waitMails returns the mails to addr once there are at least n of them:
// some (password resets, resent verifications) go out in the background,
// after the answer. It gives up after 10 s and returns what there is.
func (env *e2e) waitMails(addr string, n int) []auth.Email {
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := env.mails(addr)
		if len(m) >= n || time.Now().After(deadline) {
			return m
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tokenFromURL returns the token of a mailed link: the "token" query
// parameter, else the last path segment.
func tokenFromURL(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	if tok := u.Query().Get("token"); tok != "" {
		return tok
	}
	return u.Path[strings.LastIndex(u.Path, "/")+1:]
}

// cookieOf returns "name=value" of the Set-Cookie named name in r ("" if
// none or if it deletes the cookie).
func cookieOf(r resp, name string) string {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == name && c.Value != "" && c.MaxAge >= 0 {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// ---------------------------------------------------------------- route coverage

// routeCoverage records, per /api/v1 route, whether a test saw it answer
// 2xx and whether the bad-input table has a case for it.
type routeCoverage struct {
	mu  sync.Mutex
	ok  map[string]bool
	bad map[string]bool
}

var coverage = &routeCoverage{ok: map[string]bool{}, bad: map[string]bool{}}

func (c *routeCoverage) mark(route string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.ok[route] = true
	} else {
		c.bad[route] = true
	}
}

// noBadInput lists the routes that take no input at all, so no request
// to them is malformed.
var noBadInput = map[string]string{
	"GET /api/v1/auth/jwks":          "public key set, no input",
	"GET /api/v1/auth/signup-status": "public counter, no input (the cap itself: TestE2ERegisterAndSignupCap)",
}

// TestMain runs the tests and then, for a full run, checks that every
// /api/v1 route the server mounts (read from the source) was exercised
// on its happy path and has bad-input cases.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && fullRun() {
		if msg := checkRouteCoverage(); msg != "" {
			fmt.Println("route coverage:\n" + msg)
			code = 1
		}
	}
	os.Exit(code)
}

func fullRun() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testing.Short()
}

func checkRouteCoverage() string {
	routes, err := mountedRoutes()
	if err != nil {
		return err.Error()
	}
	coverage.mu.Lock()
	defer coverage.mu.Unlock()
	var b strings.Builder
	for _, r := range routes {
		if !coverage.ok[r] {
			fmt.Fprintf(&b, "  %s: no test saw a 2xx answer\n", r)
		}
		if _, exempt := noBadInput[r]; !exempt && !coverage.bad[r] {
			fmt.Fprintf(&b, "  %s: no bad-input case\n", r)
		}
	}
	return b.String()
}

// mountedRoutes reads the /api/v1 routes from the server's source: every
// mux.Handle/HandleFunc (and the admin helper h) pattern with a method,
// and the vault handler's route table under vaultPrefix.
func mountedRoutes() ([]string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		return nil, err
	}
	consts := map[string]string{}
	var parsed []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, f)
		for _, d := range f.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				for _, sp := range gd.Specs {
					vs := sp.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if s, ok := evalString(vs.Values[i], consts); ok {
								consts[n.Name] = s
							}
						}
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, f := range parsed {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			locals := map[string]string{}
			for k, v := range consts {
				locals[k] = v
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.AssignStmt:
					if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
						if id, ok := n.Lhs[0].(*ast.Ident); ok {
							if s, ok := evalString(n.Rhs[0], locals); ok {
								locals[id.Name] = s
							}
						}
					}
				case *ast.CallExpr:
					name := ""
					switch fn := n.Fun.(type) {
					case *ast.SelectorExpr:
						name = fn.Sel.Name
					case *ast.Ident:
						name = fn.Name
					}
					if (name == "Handle" || name == "HandleFunc" || name == "h") && len(n.Args) >= 2 {
						if s, ok := evalString(n.Args[0], locals); ok && strings.Contains(s, " /api/v1/") {
							seen[s] = true
						}
					}
				}
				return true
			})
		}
	}
	vr, err := vaultRoutesFromSource()
	if err != nil {
		return nil, err
	}
	for _, r := range vr {
		seen[r] = true
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	slices.Sort(out)
	return out, nil
}

func evalString(e ast.Expr, vars map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.Ident:
		s, ok := vars[e.Name]
		return s, ok
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := evalString(e.X, vars)
		b, ok2 := evalString(e.Y, vars)
		return a + b, ok1 && ok2
	case *ast.ParenExpr:
		return evalString(e.X, vars)
	}
	return "", false
}

// vaultRoutesFromSource reads vault/handler.go's routes table.
func vaultRoutesFromSource() ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "vault", "handler.go"), nil, 0)
	if err != nil {
		return nil, err
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != "routes" || len(vs.Values) != 1 {
			return true
		}
		cl, ok := vs.Values[0].(*ast.CompositeLit)
		if !ok {
			return true
		}
		for _, el := range cl.Elts {
			kv := el.(*ast.KeyValueExpr)
			path, _ := evalString(kv.Key, nil)
			for _, r := range kv.Value.(*ast.CompositeLit).Elts {
				first := r.(*ast.CompositeLit).Elts[0]
				if sel, ok := first.(*ast.SelectorExpr); ok {
					out = append(out, strings.ToUpper(strings.TrimPrefix(sel.Sel.Name, "Method"))+" "+vaultPrefix+path)
				}
			}
		}
		return false
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("found no routes table in vault/handler.go")
	}
	return out, nil
}

// The route list read from the source is the one the tests cover.
func TestMountedRoutesFromSource(t *testing.T) {
	t.Parallel()
	routes, err := mountedRoutes()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"POST /api/v1/auth/register", "GET /api/v1/admin/users/{userId}/tier",
		"GET /api/v1/internal/users/{userId}/memberships", "DELETE /api/v1/me/data", "POST /api/v1/me/encryption-vault/zero-knowledge"} {
		if !slices.Contains(routes, r) {
			t.Errorf("route %s not found in the source; found %v", r, routes)
		}
	}
	if len(routes) < 35 {
		t.Errorf("only %d routes found: %v", len(routes), routes)
	}
}
