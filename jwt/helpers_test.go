package jwt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

const testSecret = "jwt-plugin-test-secret-0123456789abcdef"

// env is an auth server with the jwt plugin on a loopback httptest server.
type env struct {
	t      *testing.T
	a      *auth.Auth
	p      *Plugin
	db     *memory.Adapter
	base   string         // BaseURL, e.g. http://127.0.0.1:1234
	clock  *testkit.Clock // nil: real time
	client *http.Client
}

type envConfig struct {
	opts    Options
	clock   *testkit.Clock
	db      *memory.Adapter
	base    string // BaseURL override (no server is started then)
	secret  string // default testSecret (none when secrets are given)
	secrets []keyring.Version
	plugins []auth.Plugin
	wrap    func(*memory.Adapter) storage.Adapter // the adapter auth.New gets; default db itself
	logger  *slog.Logger
}

func newEnv(t *testing.T, ec envConfig) *env {
	t.Helper()
	e := &env{t: t, clock: ec.clock, db: ec.db}
	if e.db == nil {
		e.db = memory.New()
	}
	var ln net.Listener
	e.base = ec.base
	if e.base == "" {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		e.base = "http://" + ln.Addr().String()
	}
	if ec.secret == "" && len(ec.secrets) == 0 {
		ec.secret = testSecret
	}
	// Password hashing is not what these tests are about: a real hasher
	// with tiny parameters keeps sign-ups cheap under -race.
	cfg := auth.Config{BaseURL: e.base, Secret: ec.secret, Secrets: ec.secrets, RateLimit: auth.RateLimitConfig{Disabled: true},
		Hasher: auth.Argon2idHasher{Memory: 64, Time: 1}}
	if ec.clock != nil {
		cfg.Now = ec.clock.Now
	}
	cfg.Logger = ec.logger
	var db storage.Adapter = e.db
	if ec.wrap != nil {
		db = ec.wrap(e.db)
	}
	e.p = New(ec.opts)
	a, err := auth.New(cfg, db, append([]auth.Plugin{e.p}, ec.plugins...)...)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		t.Fatalf("auth.New: %v", err)
	}
	e.a = a
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ln != nil {
		srv := httptest.NewUnstartedServer(a.Handler())
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
	}
	jar, _ := cookiejar.New(nil)
	e.client = &http.Client{Jar: jar, Timeout: 10 * time.Second}
	return e
}

func newMemory() *memory.Adapter { return memory.New() }

// serve sends a request to the Auth's handler in process (no server
// needed); headers are name, value pairs.
func (e *env) serve(method, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, e.base+"/api/auth"+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	e.a.Handler().ServeHTTP(w, req)
	return w
}

// readCounter counts the reads of the key table through countingDB
// adapters; while fail is set they fail with errDBDown, and while gate
// is set each waits for it to be closed first.
type readCounter struct {
	reads atomic.Int64
	fail  atomic.Bool
	gate  atomic.Pointer[chan struct{}]
}

func (c *readCounter) read(table string) error {
	if table != TableJWKS {
		return nil
	}
	c.reads.Add(1)
	if g := c.gate.Load(); g != nil {
		<-*g
	}
	if c.fail.Load() {
		return errDBDown
	}
	return nil
}

// countingDB is an adapter that counts its reads of the key table (also
// inside transactions) in c.
type countingDB struct {
	storage.Adapter
	c *readCounter
}

func counting(c *readCounter) func(*memory.Adapter) storage.Adapter {
	return func(db *memory.Adapter) storage.Adapter { return &countingDB{Adapter: db, c: c} }
}

func (d *countingDB) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	if err := d.c.read(table); err != nil {
		return nil, err
	}
	return d.Adapter.FindMany(ctx, table, q)
}

func (d *countingDB) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	if err := d.c.read(table); err != nil {
		return nil, err
	}
	return d.Adapter.FindOne(ctx, table, where...)
}

func (d *countingDB) Count(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	if err := d.c.read(table); err != nil {
		return 0, err
	}
	return d.Adapter.Count(ctx, table, where...)
}

func (d *countingDB) Tx(ctx context.Context, fn func(tx storage.Adapter) error) error {
	return d.Adapter.Tx(ctx, func(tx storage.Adapter) error { return fn(&countingDB{Adapter: tx, c: d.c}) })
}

func (e *env) url(path string) string { return e.base + "/api/auth" + path }

// do sends a request with the env's cookie jar and returns the response
// and its body.
func (e *env) do(method, path string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.url(path), rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

type signUpResult struct {
	Token string `json:"token"`
	User  struct {
		ID    string `json:"id"`
		Email string `json:"email"`
	} `json:"user"`
}

// signUp creates a user over HTTP; the session cookie lands in the jar.
func (e *env) signUp(email string) signUpResult {
	e.t.Helper()
	resp, body := e.do("POST", "/sign-up/email", map[string]any{"name": "Jay Doe", "email": email, "password": "correct horse battery"})
	if resp.StatusCode != 200 {
		e.t.Fatalf("sign-up: %d %s", resp.StatusCode, body)
	}
	var r signUpResult
	if err := json.Unmarshal(body, &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// token gets GET /token's JWT.
func (e *env) token() string {
	e.t.Helper()
	resp, body := e.do("GET", "/token", nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET /token: %d %s", resp.StatusCode, body)
	}
	var r struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Token == "" {
		e.t.Fatalf("GET /token body %s: %v", body, err)
	}
	return r.Token
}

// jwks fetches GET /jwks and parses it.
func (e *env) jwks() map[string]ed25519.PublicKey {
	e.t.Helper()
	resp, body := e.do("GET", "/jwks", nil)
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET /jwks: %d %s", resp.StatusCode, body)
	}
	keys, err := verify.ParseJWKS(body)
	if err != nil {
		e.t.Fatal(err)
	}
	return keys
}

func (e *env) keyCount() int64 {
	e.t.Helper()
	n, err := e.db.Count(context.Background(), TableJWKS)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// decodeSegment decodes part i (0 header, 1 payload) of a compact JWS.
func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := rawB64.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// rolePlugin adds a "role" field to the user table (as the admin plugin does).
type rolePlugin struct{}

func (rolePlugin) ID() string { return "test-role" }
func (rolePlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: []storage.Field{{Name: "role", Type: storage.String}}}}}
}
