package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
)

// miClock is the clock both instances share (server.Deps.Now).
type miClock struct{ ns atomic.Int64 }

func (c *miClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *miClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// miCluster is two instances on one PostgreSQL schema behind a
// round-robin client.
type miCluster struct {
	clock *miClock
	s     [2]*Server
	srv   [2]*httptest.Server
	urls  [2]string
	next  atomic.Uint64
	base  string
}

func miRandHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newMICluster starts two instances, each with its own pool, on a fresh
// schema (dropped when the test ends); the first migrates.
func newMICluster(t *testing.T) *miCluster {
	t.Helper()
	ctx := context.Background()
	schema := testpg.SchemaName(t, "mi_")
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	c := &miCluster{clock: &miClock{}, base: "http://auth.mana.test"}
	c.clock.ns.Store(time.Now().UTC().Truncate(time.Millisecond).UnixNano())
	log := slog.New(slog.DiscardHandler)
	for i := range 2 {
		db, err := postgres.Open(ctx, postgres.Options{URL: testpg.URL(), Schema: schema, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{
			BaseURL: c.base, Secret: "a-multi-instance-test-secret-of-enough-length",
			AutoMigrate: i == 0, AdminEmails: []string{"admin@example.com"}, ServiceKey: "internal-service-key-123",
			JWTAudience: "mana", DataDir: t.TempDir(), TrustedProxies: []string{"127.0.0.1", "::1"},
			KEK: base64.StdEncoding.EncodeToString(kek),
		}
		s, err := NewWithStorage(ctx, cfg, db, Deps{Mailer: &outbox{}, Now: c.clock.now}, log)
		if err != nil {
			db.Close()
			t.Fatalf("instance %d: %v", i, err)
		}
		srv := httptest.NewServer(s.Handler())
		c.s[i], c.srv[i], c.urls[i] = s, srv, srv.URL
		t.Cleanup(func() { srv.Close(); s.Close(); db.Close() })
	}
	return c
}

type miResp struct {
	instance int
	status   int
	header   http.Header
	body     map[string]any
	raw      string
}

// do sends a request to the next instance in turn (round robin).
func (c *miCluster) do(t *testing.T, method, path, body string, hdr ...string) miResp {
	t.Helper()
	return c.on(t, int((c.next.Add(1)-1)%2), method, path, body, hdr...)
}

// on sends a request to instance i.
func (c *miCluster) on(t *testing.T, i int, method, path, body string, hdr ...string) miResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.urls[i]+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for j := 0; j+1 < len(hdr); j += 2 {
		req.Header.Set(hdr[j], hdr[j+1])
	}
	res, err := c.srv[i].Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := miResp{instance: i, status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

type miUser struct {
	id, email, cookie, jwt string
}

// register signs email up from its own client IP (round robin) and
// returns the user id.
func (c *miCluster) register(t *testing.T, email, ip string) string {
	t.Helper()
	r := c.do(t, "POST", "/api/v1/auth/register", `{"email":"`+email+`","password":"password123"}`, "X-Forwarded-For", ip)
	if r.status != 200 {
		t.Fatalf("register %s on %d: %d %s", email, r.instance, r.status, r.raw)
	}
	return r.body["user"].(map[string]any)["id"].(string)
}

// login signs email in on instance i: a new session and access token.
func (c *miCluster) login(t *testing.T, i int, id, email, ip string) miUser {
	t.Helper()
	r := c.on(t, i, "POST", "/api/v1/auth/login", `{"email":"`+email+`","password":"password123"}`, "X-Forwarded-For", ip)
	if r.status != 200 {
		t.Fatalf("login %s on %d: %d %s", email, i, r.status, r.raw)
	}
	u := miUser{id: id, email: email}
	u.jwt, _ = r.body["accessToken"].(string)
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == "mana.session_token" {
			u.cookie = ck.Name + "=" + ck.Value
		}
	}
	if u.jwt == "" || u.cookie == "" {
		t.Fatalf("login gave no access token or cookie: %s", r.raw)
	}
	return u
}

// user registers email and logs it in on instance i.
func (c *miCluster) user(t *testing.T, i int, email, ip string) miUser {
	t.Helper()
	return c.login(t, i, c.register(t, email, ip), email, ip)
}

func miKid(t *testing.T, tok string) string {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err != nil || json.Unmarshal(b, &hdr) != nil || hdr.Kid == "" {
		t.Fatalf("no kid in token header %q", h)
	}
	return hdr.Kid
}

// TestMultiInstance: several instances behind a load balancer share one PostgreSQL database.
// What one instance changes, the others see within these bounds (also in
// docs/SCALING.md):
//
//   - rate limits: at once (the counters are in the shared "rateLimit"
//     table, or Redis with REDIS_URL; one atomic statement per request);
//   - sessions (sign-out, revocation): at once, every request reads the
//     session table; an access token (JWT) already minted stays valid until
//     it expires (jwt.DefaultExpiration, 15 min): it is not checked against
//     the session table;
//   - JWT signing keys: a new key is listed by the JWKS of the instance
//     that made it at once, and by the others within jwt.DefaultKeyCacheTTL
//     (1 min: each serves /jwks from a snapshot of the table, reread every
//     30–45 s); every instance signs with it from its activation delay on
//     (KeyCacheTTL + JWKSMaxAge, 2 min), with the retired key (published
//     for the 30-day grace period) until then, so that every token's key
//     is in every instance's JWKS;
//   - vault keys, access tiers, roles: at once (read from the database on
//     every request).
func TestMultiInstance(t *testing.T) {
	c := newMICluster(t)
	origin := []string{"Origin", c.base}

	t.Run("rate limit holds across instances", func(t *testing.T) {
		// /sign-in/email: 3 per 10 s per IP. Requests alternate A, B, A, B:
		// each instance sees two, yet the fourth is refused. (The bodies
		// lack the password: the limit applies before validation, and no
		// password hash slows the test.)
		ip := []string{"X-Forwarded-For", "198.51.100.10"}
		for n := 1; n <= 3; n++ {
			r := c.do(t, "POST", "/api/auth/sign-in/email", `{"email":"nobody@example.com"}`, ip...)
			if r.status != 400 {
				t.Fatalf("sign-in %d on %d: %d %s", n, r.instance, r.status, r.raw)
			}
		}
		r := c.do(t, "POST", "/api/auth/sign-in/email", `{"email":"nobody@example.com"}`, ip...)
		if r.status != 429 || r.header.Get("X-Retry-After") != "10" {
			t.Fatalf("4th sign-in (on %d, which saw only 2): %d X-Retry-After %q %s", r.instance, r.status, r.header.Get("X-Retry-After"), r.raw)
		}
		// Another client is not affected; the window ends for everyone.
		if r := c.do(t, "POST", "/api/auth/sign-in/email", `{"email":"nobody@example.com"}`,
			"X-Forwarded-For", "198.51.100.11"); r.status != 400 {
			t.Fatalf("other IP: %d %s", r.status, r.raw)
		}
		c.clock.advance(10 * time.Second)
		for i := range 2 {
			if r := c.on(t, i, "POST", "/api/auth/sign-in/email", `{"email":"nobody@example.com"}`, ip...); r.status != 400 {
				t.Fatalf("after the window, on %d: %d %s", i, r.status, r.raw)
			}
		}
		// The /api/v1 routes share the counters too (login: 10 per 10 s).
		ip = []string{"X-Forwarded-For", "198.51.100.12"}
		for n := 1; n <= 10; n++ {
			if r := c.do(t, "POST", "/api/v1/auth/login", `[1]`, ip...); r.status != 400 {
				t.Fatalf("login %d: %d %s", n, r.status, r.raw)
			}
		}
		if r := c.do(t, "POST", "/api/v1/auth/login", `[1]`, ip...); r.status != 429 {
			t.Fatalf("11th v1 login: %d %s", r.status, r.raw)
		}
	})

	t.Run("session revoked on one instance is refused on the other at once", func(t *testing.T) {
		u := c.user(t, 0, "revoke@example.com", "198.51.100.20")
		other := c.login(t, 1, u.id, u.email, "198.51.100.20") // a second session
		if r := c.on(t, 1, "GET", "/api/auth/get-session", "", "Cookie", u.cookie); r.status != 200 || r.body["session"] == nil {
			t.Fatalf("session on B: %d %s", r.status, r.raw)
		}
		// Revoke the second session from the first, on A; B refuses it.
		r := c.on(t, 0, "POST", "/api/auth/revoke-other-sessions", "{}", append([]string{"Cookie", u.cookie}, origin...)...)
		if r.status != 200 {
			t.Fatalf("revoke-other-sessions on A: %d %s", r.status, r.raw)
		}
		if r := c.on(t, 1, "GET", "/api/v1/me/data", "", "Cookie", other.cookie); r.status != 401 {
			t.Fatalf("revoked session on B: %d %s", r.status, r.raw)
		}
		// Sign out on B; A refuses the cookie.
		if r := c.on(t, 1, "POST", "/api/auth/sign-out", "{}", append([]string{"Cookie", u.cookie}, origin...)...); r.status != 200 {
			t.Fatalf("sign-out on B: %d %s", r.status, r.raw)
		}
		for i := range 2 {
			if r := c.on(t, i, "GET", "/api/auth/get-session", "", "Cookie", u.cookie); r.status != 200 || r.raw != "null" {
				t.Fatalf("signed-out session on %d: %d %s", i, r.status, r.raw)
			}
			if r := c.on(t, i, "GET", "/api/v1/me/data", "", "Cookie", u.cookie); r.status != 401 {
				t.Fatalf("signed-out cookie on /me/data on %d: %d %s", i, r.status, r.raw)
			}
		}
		// Documented bound: an access token minted before stays valid until
		// it expires (stateless; 15 min).
		if r := c.on(t, 1, "POST", "/api/v1/auth/validate", `{"token":"`+u.jwt+`"}`); r.body["valid"] != true {
			t.Fatalf("access token after sign-out: %s", r.raw)
		}
	})

	t.Run("JWT key rotation reaches the other instance", func(t *testing.T) {
		u := c.user(t, 0, "jwt@example.com", "198.51.100.30")
		mint := func(i int) string {
			t.Helper()
			r := c.on(t, i, "GET", "/api/auth/token", "", "Cookie", u.cookie)
			tok, _ := r.body["token"].(string)
			if r.status != 200 || tok == "" {
				t.Fatalf("token on %d: %d %s", i, r.status, r.raw)
			}
			return tok
		}
		old := miKid(t, mint(0))
		if k := miKid(t, mint(1)); k != old {
			t.Fatalf("instances sign with %s and %s before any rotation", old, k)
		}
		listed := func(i int, kids ...string) bool {
			t.Helper()
			r := c.on(t, i, "GET", "/api/auth/jwks", "")
			for _, k := range kids {
				if !strings.Contains(r.raw, `"kid":"`+k+`"`) {
					return false
				}
			}
			return r.status == 200
		}
		// A moment passes between the first key and the rotation: keys
		// made in the same millisecond have no order (the jwks table
		// orders keys by createdAt), which no real rotation meets.
		c.clock.advance(time.Second)
		rotatedAt := c.clock.now()
		newKid, err := c.s[0].JWT().RotateKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// A's JWKS publishes the new key at once (and still the old one);
		// A, like B, keeps signing with the old key, whose tokens verify
		// everywhere.
		if !listed(0, newKid, old) {
			t.Fatalf("A's JWKS right after its rotation lacks %s or %s", newKid, old)
		}
		for i := range 2 {
			tok := mint(i)
			if k := miKid(t, tok); k != old {
				t.Fatalf("%d signs with %s right after the rotation to %s, want the old key until the activation delay", i, k, newKid)
			}
			for j := range 2 {
				if r := c.on(t, j, "POST", "/api/v1/auth/validate", `{"token":"`+tok+`"}`); r.body["valid"] != true {
					t.Fatalf("old-key token of %d on %d: %s", i, j, r.raw)
				}
			}
		}
		// B lists the new key within KeyCacheTTL.
		c.clock.ns.Store(rotatedAt.Add(jwt.DefaultKeyCacheTTL).UnixNano())
		if !listed(1, newKid, old) {
			t.Fatalf("B's JWKS %v after the rotation lacks %s or %s", jwt.DefaultKeyCacheTTL, newKid, old)
		}
		// From the activation delay (KeyCacheTTL + JWKSMaxAge) both sign
		// with the new key; its tokens verify on both.
		c.clock.ns.Store(rotatedAt.Add(jwt.DefaultKeyCacheTTL + jwt.DefaultJWKSMaxAge).UnixNano())
		for i := range 2 {
			if k := miKid(t, mint(i)); k != newKid {
				t.Fatalf("%d signs with %s after the activation delay, want %s", i, k, newKid)
			}
		}
		fresh := mint(0)
		if r := c.on(t, 1, "POST", "/api/v1/auth/validate", `{"token":"`+fresh+`"}`); r.body["valid"] != true {
			t.Fatalf("new-key token on B: %s", r.raw)
		}
		if r := c.on(t, 1, "GET", "/api/v1/me/data", "", "Authorization", "Bearer "+fresh); r.status != 200 {
			t.Fatalf("new-key token on B's /me/data: %d %s", r.status, r.raw)
		}
	})

	t.Run("vault rotation on one instance is seen by the other", func(t *testing.T) {
		u := c.user(t, 0, "vault@example.com", "198.51.100.40")
		auth := []string{"Authorization", "Bearer " + u.jwt}
		r := c.on(t, 0, "POST", "/api/v1/me/encryption-vault/init", "", auth...)
		mk1, _ := r.body["masterKey"].(string)
		if r.status != 200 || mk1 == "" {
			t.Fatalf("init on A: %d %s", r.status, r.raw)
		}
		if r := c.on(t, 1, "GET", "/api/v1/me/encryption-vault/key", "", auth...); r.body["masterKey"] != mk1 {
			t.Fatalf("key on B: %d %s", r.status, r.raw)
		}
		r = c.on(t, 1, "POST", "/api/v1/me/encryption-vault/rotate", "", auth...)
		mk2, _ := r.body["masterKey"].(string)
		if r.status != 200 || mk2 == "" || mk2 == mk1 {
			t.Fatalf("rotate on B: %d %s", r.status, r.raw)
		}
		for i := range 2 {
			if r := c.on(t, i, "GET", "/api/v1/me/encryption-vault/key", "", auth...); r.body["masterKey"] != mk2 {
				t.Fatalf("key on %d after the rotation on B: %d %s", i, r.status, r.raw)
			}
		}
		// A recovery wrap set on A shows in B's status.
		wrap := base64.StdEncoding.EncodeToString(make([]byte, 48))
		iv := base64.StdEncoding.EncodeToString(make([]byte, 12))
		if r := c.on(t, 0, "POST", "/api/v1/me/encryption-vault/recovery-wrap", `{"recoveryWrappedMk":"`+wrap+`","recoveryIv":"`+iv+`"}`, auth...); r.status != 200 {
			t.Fatalf("recovery-wrap on A: %d %s", r.status, r.raw)
		}
		if r := c.on(t, 1, "GET", "/api/v1/me/encryption-vault/status", "", auth...); r.body["hasRecoveryWrap"] != true {
			t.Fatalf("status on B: %d %s", r.status, r.raw)
		}
	})

	t.Run("admin changes on one instance are seen by the other", func(t *testing.T) {
		adminID := c.register(t, "admin@example.com", "198.51.100.50")
		verifyAddress(t, c.s[0], adminID) // MANA_ADMIN_EMAILS holds verified addresses only
		admin := c.login(t, 0, adminID, "admin@example.com", "198.51.100.50")
		u := c.user(t, 1, "tier@example.com", "198.51.100.51")
		bearer := []string{"Authorization", "Bearer " + admin.jwt}
		path := "/api/v1/admin/users/" + u.id + "/tier"
		if r := c.on(t, 0, "PUT", path, `{"tier":"beta"}`, bearer...); r.status != 200 {
			t.Fatalf("set tier on A: %d %s", r.status, r.raw)
		}
		if r := c.on(t, 1, "GET", path, "", bearer...); r.status != 200 || r.body["accessTier"] != "beta" {
			t.Fatalf("tier on B: %d %s", r.status, r.raw)
		}
		if r := c.on(t, 1, "PUT", path, `{"tier":"alpha"}`, bearer...); r.status != 200 {
			t.Fatalf("set tier on B: %d %s", r.status, r.raw)
		}
		if r := c.on(t, 0, "GET", path, "", bearer...); r.body["accessTier"] != "alpha" {
			t.Fatalf("tier on A: %d %s", r.status, r.raw)
		}
		// The role is read from the database: an admin demoted through A
		// loses access on B at once, though the token still says admin.
		if _, err := c.s[0].db.Update(context.Background(), "user", storage.Record{"role": RoleUser}, storage.W("id", admin.id)); err != nil {
			t.Fatal(err)
		}
		if r := c.on(t, 1, "GET", path, "", bearer...); r.status != 403 {
			t.Fatalf("demoted admin on B: %d %s", r.status, r.raw)
		}
	})
}
