package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/internal/testredis"
	"github.com/managarten/mana-auth/ratelimit"
	ratelimitpg "github.com/managarten/mana-auth/ratelimit/postgres"
	"github.com/managarten/mana-auth/ratelimit/redis"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
)

const (
	rlTestKEK = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=" // 32 bytes of 0x01
)

// REDIS_URL picks Redis; else a PostgreSQL adapter picks its table; else
// memory.
func TestRateLimitStoreSelection(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)

	st, done, err := rateLimitStore(ctx, Config{}, memory.New(), log)
	if _, ok := st.(*ratelimit.MemoryStore); err != nil || !ok {
		t.Fatalf("memory storage: %T %v", st, err)
	}
	done()

	t.Run("postgres", func(t *testing.T) {
		testpg.Require(t)
		schema := "rl_" + miRandHex(6)
		db, err := postgres.Open(ctx, postgres.Options{URL: testpg.URL(), Schema: schema, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		defer db.Pool().Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
		st, done, err := rateLimitStore(ctx, Config{AutoMigrate: true}, db, log)
		if sp, ok := st.(*ratelimit.SplitStore); err != nil || !ok {
			t.Fatalf("postgres storage: %T %v", st, err)
		} else if _, ok := sp.Shared().(*ratelimitpg.Store); !ok {
			t.Fatalf("postgres storage: shared store %T", sp.Shared())
		}
		defer done()
		var n int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM "`+schema+`"."rateLimit"`).Scan(&n); err != nil {
			t.Fatalf("the rateLimit table was not created: %v", err)
		}
		// Strict rules are counted in the table, generous ones in the
		// process only.
		now := time.Now()
		for _, rule := range []ratelimit.Rule{{Window: 10 * time.Second, Max: 3}, {Window: 10 * time.Second, Max: sharedRuleMax}, {Window: 10 * time.Second, Max: 1000}} {
			if ok, _, err := st.Hit(ctx, fmt.Sprintf("ip|max%d", rule.Max), rule, now); err != nil || !ok {
				t.Fatalf("Hit Max %d: %v %v", rule.Max, ok, err)
			}
		}
		rows, _ := db.Pool().Query(ctx, `SELECT "key" FROM "`+schema+`"."rateLimit" ORDER BY "key"`)
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if want := []string{"ip|max20", "ip|max3"}; err != nil || !slices.Equal(keys, want) {
			t.Fatalf("counters in the table: %q %v; want %q", keys, err, want)
		}
	})

	t.Run("redis", func(t *testing.T) {
		testredis.Client(t)
		st, done, err := rateLimitStore(ctx, Config{RedisURL: testredis.URL()}, memory.New(), log)
		if sp, ok := st.(*ratelimit.SplitStore); err != nil || !ok {
			t.Fatalf("REDIS_URL: %T %v", st, err)
		} else if _, ok := sp.Shared().(*redis.Store); !ok {
			t.Fatalf("REDIS_URL: %T %v", st, err)
		}
		done()
	})

	t.Run("unreachable redis", func(t *testing.T) {
		cfg := Config{RedisURL: "redis://127.0.0.1:1/0", BaseURL: "http://localhost:3001",
			Secret: "a-server-test-secret-of-enough-length", DataDir: t.TempDir(), KEK: rlTestKEK}
		short := func() context.Context {
			c, cancel := context.WithTimeout(ctx, time.Second)
			t.Cleanup(cancel)
			return c
		}
		if _, _, err := rateLimitStore(short(), cfg, memory.New(), log); err == nil || !strings.HasPrefix(err.Error(), "REDIS_URL: ") {
			t.Fatalf("err = %v", err)
		}
		if _, err := NewWithStorage(short(), cfg, memory.New(), Deps{Mailer: &outbox{}}, log); err == nil || !strings.HasPrefix(err.Error(), "REDIS_URL: ") {
			t.Fatalf("NewWithStorage with an unreachable REDIS_URL: %v", err)
		}
	})
}

// Two instances with REDIS_URL share the rate-limit counters (here each
// has its own memory storage: only Redis is shared).
func TestRedisRateLimitAcrossInstances(t *testing.T) {
	rc := testredis.Client(t)
	ctx := context.Background()
	// The server uses the default key prefix; the client's /64 (the unit
	// an IPv6 client is limited by), random per run, keeps the keys
	// apart, and they are deleted at the end.
	// Groups with a leading zero would be written shorter in the key
	// (2001:db8:a:…): start each with a letter.
	g1, g2 := "a"+miRandHex(2)[1:], "b"+miRandHex(2)[1:]
	ip := "2001:db8:" + g1 + ":" + g2 + "::1"
	pattern := redis.DefaultPrefix + "*" + g1 + ":" + g2 + "*"
	keys := func() []string {
		var out []string
		iter := rc.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			out = append(out, iter.Val())
		}
		return out
	}
	t.Cleanup(func() {
		for _, k := range keys() {
			rc.Del(ctx, k)
		}
	})
	var urls []string
	for range 2 {
		cfg := Config{BaseURL: "http://auth.mana.test", Secret: "a-server-test-secret-of-enough-length",
			AutoMigrate: true, DataDir: t.TempDir(), TrustedProxies: []string{"127.0.0.1", "::1"}, RedisURL: testredis.URL(), KEK: rlTestKEK}
		s, err := NewWithStorage(ctx, cfg, memory.New(), Deps{Mailer: &outbox{}}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(func() { srv.Close(); s.Close() })
		urls = append(urls, srv.URL)
	}
	for n := range 4 {
		req, _ := http.NewRequest("POST", urls[n%2]+"/api/auth/sign-in/email", strings.NewReader(`{"email":"nobody@example.com"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", ip)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		want := 400
		if n == 3 {
			want = 429
		}
		if res.StatusCode != want {
			t.Fatalf("sign-in %d on instance %d: %d %s", n+1, n%2, res.StatusCode, body)
		}
	}
	if k := keys(); len(k) != 1 || !strings.HasSuffix(k[0], "|/sign-in/email") {
		t.Fatalf("counter keys in Redis: %q", k)
	}
}

// What auth.ProtectWith refuses on /api/v1 is answered in the route's own
// error shape: the auth envelope on /api/v1/auth/*, {"statusCode",
// "message","code"} elsewhere. /api/auth keeps Better Auth's.
func TestV1RefusalShapes(t *testing.T) {
	t.Parallel()
	env := newE2E(t, nil)
	flood := func(path string, n int) resp {
		t.Helper()
		ip := []string{"X-Forwarded-For", "198.51.100.77"}
		var r resp
		for range n {
			if r = env.do(t, req{method: "POST", path: path, body: `[1]`, hdr: ip}); r.status == 429 {
				return r
			}
		}
		t.Fatalf("%s: no 429 after %d requests (last %d %s)", path, n, r.status, r.raw)
		return r
	}
	for _, tc := range []struct {
		name string
		r    resp
		want map[string]any
	}{
		{"rate limit, /api/v1/auth", flood("/api/v1/auth/login", 20), map[string]any{
			"error": "RATE_LIMITED", "message": auth.ErrTooManyRequests.Message, "status": float64(429), "retryAfterSec": float64(10)}},
		{"rate limit, /api/v1/me", flood("/api/v1/me/data", 200), map[string]any{
			"statusCode": float64(429), "message": auth.ErrTooManyRequests.Message}},
		{"origin, /api/v1/auth", env.do(t, req{method: "POST", path: "/api/v1/auth/logout", hdr: []string{"Cookie", "mana.session_token=x", "Origin", "https://evil.example"}}), map[string]any{
			"error": "INVALID_ORIGIN", "message": auth.ErrInvalidOrigin.Message, "status": float64(403)}},
		{"rate limit, /api/auth", flood("/api/auth/sign-in/email", 10), map[string]any{
			"message": auth.ErrTooManyRequests.Message}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.r.body); diff != "" {
				t.Errorf("body (-want +got):\n%s\nraw %s", diff, tc.r.raw)
			}
			if tc.want["status"] == float64(429) || tc.want["statusCode"] == float64(429) {
				if got := tc.r.header.Get("Retry-After"); got == "" {
					t.Errorf("no Retry-After")
				}
			}
		})
	}
}

// The PostgreSQL counters outlive every window of the server's rules, or
// one instance's cleanup would restart another's limits.
func TestRateLimitRetentionCoversRules(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "http://localhost:3001"}.AuthConfig(slog.New(slog.DiscardHandler), nil)
	var windows []time.Duration
	for _, rules := range []map[string]ratelimit.Rule{ratelimit.DefaultRules(), cfg.RateLimit.Rules} {
		for _, r := range rules {
			windows = append(windows, r.Window)
		}
	}
	for _, w := range windows {
		if w >= rateLimitRetention {
			t.Errorf("a rule's window %v is not shorter than rateLimitRetention %v", w, rateLimitRetention)
		}
	}
}
