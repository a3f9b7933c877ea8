package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/ratelimit/postgres"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
	"github.com/managarten/mana-auth/storage"
	storagepg "github.com/managarten/mana-auth/storage/postgres"
)

// optionCases are the option sets the behaviour tests run with.
var optionCases = []struct {
	name string
	opts postgres.Options
}{
	{"default", postgres.Options{}},
	{"durable", postgres.Options{Durable: true}},
	{"adapter pool", postgres.Options{MaxConns: -1}},
	{"two connections", postgres.Options{MaxConns: 2}},
	{"no refusal cache", postgres.Options{RefusalCache: -1}},
	{"tiny refusal cache", postgres.Options{RefusalCache: 1}},
}

func TestStoreConformance(t *testing.T) {
	testpg.Require(t)
	for _, tc := range optionCases {
		t.Run(tc.name, func(t *testing.T) {
			ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
				s := postgres.New(open(t, storagepg.Options{MaxConns: 8}), tc.opts)
				if err := s.Migrate(context.Background()); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// Keys hold a request path, which the client chooses: one that is not
// valid UTF-8 or holds a NUL is counted (PostgreSQL refuses it as text),
// apart from every other key.
func TestStoreUnstorableKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := postgres.New(open(t, storagepg.Options{}), postgres.Options{RefusalCache: -1})
	defer s.Close()
	rule := ratelimit.Rule{Window: 10 * time.Second, Max: 1}
	keys := []string{"203.0.113.7|/reset-password/\xc3(", "203.0.113.7|/reset-password/\xed\xa0\x80",
		"203.0.113.7|/reset-password/a\x00b", "203.0.113.7|/reset-password/a", "203.0.113.7|/reset-password/\xc3"}
	for i, want := range []bool{true, false} {
		for _, key := range keys {
			ok, _, err := s.Hit(ctx, key, rule, ratelimittest.T0.Add(time.Duration(i)*time.Second))
			if err != nil || ok != want {
				t.Errorf("hit %d on %q = %v, %v; want %v", i+1, key, ok, err, want)
			}
		}
	}
}

// Better Auth's table: id, key (unique), count, lastRequest (ms); created
// on the first Hit when Migrate was not called.
func TestStoreTable(t *testing.T) {
	ctx := context.Background()
	db := open(t, storagepg.Options{})
	s := postgres.New(db, postgres.Options{})
	defer s.Close()
	rule := ratelimit.Rule{Window: 10 * time.Second, Max: 3}
	for i := range 2 {
		if ok, _, err := s.Hit(ctx, "203.0.113.7|/sign-in/email", rule, ratelimittest.T0.Add(time.Duration(i)*time.Second)); err != nil || !ok {
			t.Fatalf("hit %d: %v %v", i, ok, err)
		}
	}
	conn := testpg.Conn(t)
	rows, err := conn.Query(ctx, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
WHERE table_schema = $1 AND table_name = 'rateLimit' ORDER BY ordinal_position`, db.SchemaName())
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var n, typ, null string
		if err := rows.Scan(&n, &typ, &null); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, n+" "+typ+" "+null)
	}
	want := []string{"id text NO", "key text NO", "count integer NO", "lastRequest bigint NO"}
	if len(cols) != len(want) {
		t.Fatalf("columns = %q, want %q", cols, want)
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Fatalf("columns = %q, want %q", cols, want)
		}
	}
	var count int
	var last int64
	if err := conn.QueryRow(ctx, `SELECT "count", "lastRequest" FROM "`+db.SchemaName()+`"."rateLimit" WHERE "key" = $1`,
		"203.0.113.7|/sign-in/email").Scan(&count, &last); err != nil {
		t.Fatal(err)
	}
	if count != 2 || last != ratelimittest.T0.Add(time.Second).UnixMilli() {
		t.Fatalf("row = count %d lastRequest %d", count, last)
	}
	// Migrate after the lazy creation is a no-op.
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

// Migrate takes turns with the adapter's migrations of the schema: both
// wait while another transaction holds storagepg.LockMigrations for it.
func TestStoreMigrateLock(t *testing.T) {
	ctx := context.Background()
	db := open(t, storagepg.Options{})
	s := postgres.New(db, postgres.Options{})
	defer s.Close()
	tx, err := testpg.Conn(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := storagepg.LockMigrations(ctx, tx, db.SchemaName()); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name    string
		migrate func(context.Context) error
	}{
		{"the store's", s.Migrate},
		{"the adapter's", func(ctx context.Context) error { return db.Migrate(ctx, storage.Schema{}) }},
	} {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := m.migrate(wctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s Migrate while the lock is held: %v, want it to wait past the deadline", m.name, err)
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after the lock is released: %v", err)
	}
}

// Two instances (two stores, each on its own adapter, on one schema)
// hitting one key at once admit exactly Max between them, window after
// window, whatever the options (refusals answered from memory included).
func TestStoreTwoInstances(t *testing.T) {
	ctx := context.Background()
	for _, tc := range optionCases {
		t.Run(tc.name, func(t *testing.T) {
			a := open(t, storagepg.Options{MaxConns: 8})
			b := open(t, storagepg.Options{Schema: a.SchemaName(), MaxConns: 8})
			sa, sb := postgres.New(a, tc.opts), postgres.New(b, tc.opts)
			defer sa.Close()
			defer sb.Close()
			if err := sa.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			rule := ratelimit.Rule{Window: time.Minute, Max: 7}
			for round := range 3 {
				start := ratelimittest.T0.Add(time.Duration(round) * 2 * rule.Window)
				var allowed atomic.Int32
				var wg sync.WaitGroup
				for i := range 64 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						s := sa
						if i%2 == 1 {
							s = sb
						}
						ok, retry, err := s.Hit(ctx, "hot", rule, start.Add(time.Duration(i)*time.Millisecond))
						if err != nil {
							t.Error(err)
							return
						}
						if ok {
							allowed.Add(1)
						} else if retry <= 0 || retry > rule.Window {
							t.Errorf("refused with retryAfter %v", retry)
						}
					}()
				}
				wg.Wait()
				if allowed.Load() != int32(rule.Max) {
					t.Fatalf("round %d: %d allowed across two instances, want %d", round, allowed.Load(), rule.Max)
				}
			}
		})
	}
}

// Cleanup deletes counters idle for longer than the longest window seen
// (or Retention), never younger ones; Hit runs it in the background.
func TestStoreCleanup(t *testing.T) {
	ctx := context.Background()
	db := open(t, storagepg.Options{})
	s := postgres.New(db, postgres.Options{CleanupInterval: -1})
	defer s.Close()
	if n, err := s.Cleanup(ctx, ratelimittest.T0); err != nil || n != 0 {
		t.Fatalf("cleanup before any hit: %d %v", n, err)
	}
	short := ratelimit.Rule{Window: 10 * time.Second, Max: 3}
	long := ratelimit.Rule{Window: time.Minute, Max: 3}
	hit := func(s *postgres.Store, key string, r ratelimit.Rule, at time.Duration) {
		t.Helper()
		if _, _, err := s.Hit(ctx, key, r, ratelimittest.T0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	hit(s, "a", short, 0)
	hit(s, "b", long, 0)
	hit(s, "c", short, 50*time.Second)
	// The longest window seen is 1 minute: at 59 s nothing is stale.
	if n, err := s.Cleanup(ctx, ratelimittest.T0.Add(59*time.Second)); err != nil || n != 0 {
		t.Fatalf("cleanup at 59s: %d %v", n, err)
	}
	if n, err := s.Cleanup(ctx, ratelimittest.T0.Add(61*time.Second)); err != nil || n != 2 {
		t.Fatalf("cleanup at 61s: %d %v, want a and b deleted", n, err)
	}
	// A refused hit after the cleanup starts afresh: count 1.
	if ok, _, _ := s.Hit(ctx, "a", short, ratelimittest.T0.Add(61*time.Second)); !ok {
		t.Fatal("a counter deleted by the cleanup refused")
	}

	// Background: the first Hit schedules, one after the interval sweeps.
	bg := postgres.New(db, postgres.Options{CleanupInterval: time.Minute, Retention: time.Hour})
	hit(bg, "c", short, 2*time.Hour) // schedules the sweep for 2h01
	hit(bg, "c", short, 2*time.Hour+2*time.Minute)
	bg.Close() // waits for the sweep
	var left int
	if err := testpg.Conn(t).QueryRow(ctx, `SELECT count(*) FROM "`+db.SchemaName()+`"."rateLimit"`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 1 { // only c, touched at 2h02
		t.Fatalf("%d rows after the background sweep, want 1", left)
	}
}

// The store's own pool (or the adapter's), its size and application
// name, the table it creates (UNLOGGED unless Durable; an existing table
// is left as it is), and what Close closes.
func TestStoreOptions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		opts        postgres.Options
		preexisting bool  // the table exists (ordinary) before the store's Migrate
		own         bool  // the store has a pool of its own
		maxConns    int32 // of the store's pool
		persistence string
	}{
		{"default", postgres.Options{}, false, true, postgres.DefaultMaxConns, "u"},
		{"durable", postgres.Options{Durable: true}, false, true, postgres.DefaultMaxConns, "p"},
		{"max conns", postgres.Options{MaxConns: 3}, false, true, 3, "u"},
		{"adapter pool", postgres.Options{MaxConns: -1}, false, false, 4, "u"},
		{"adapter pool, durable", postgres.Options{MaxConns: -1, Durable: true}, false, false, 4, "p"},
		{"existing table", postgres.Options{}, true, true, postgres.DefaultMaxConns, "p"},
		{"existing table, other name", postgres.Options{Table: "limits"}, true, true, postgres.DefaultMaxConns, "p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t, storagepg.Options{MaxConns: 4})
			table := tc.opts.Table
			if table == "" {
				table = postgres.DefaultTable
			}
			qualified := `"` + db.SchemaName() + `"."` + table + `"`
			conn := testpg.Conn(t)
			if tc.preexisting { // as Better Auth's migrations create it
				if _, err := conn.Exec(ctx, `CREATE SCHEMA "`+db.SchemaName()+`"; CREATE TABLE `+qualified+
					` ("id" text PRIMARY KEY, "key" text NOT NULL UNIQUE, "count" integer NOT NULL, "lastRequest" bigint NOT NULL)`); err != nil {
					t.Fatal(err)
				}
			}
			s := postgres.New(db, tc.opts)
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if ok, _, err := s.Hit(ctx, "k", ratelimit.Rule{Window: time.Minute, Max: 1}, ratelimittest.T0); err != nil || !ok {
				t.Fatalf("hit: %v %v", ok, err)
			}
			if got := s.Pool() != db.Pool(); got != tc.own {
				t.Errorf("own pool = %v, want %v", got, tc.own)
			}
			if got := s.Pool().Config().MaxConns; got != tc.maxConns {
				t.Errorf("pool MaxConns = %d, want %d", got, tc.maxConns)
			}
			var app, persistence string
			if err := s.Pool().QueryRow(ctx, `SELECT current_setting('application_name')`).Scan(&app); err != nil {
				t.Fatal(err)
			}
			wantApp := "mana-auth"
			if tc.own {
				wantApp = "mana-auth/ratelimit"
			}
			if app != wantApp {
				t.Errorf("application_name = %q, want %q", app, wantApp)
			}
			if err := conn.QueryRow(ctx, `SELECT relpersistence::text FROM pg_class WHERE oid = to_regclass($1)`, qualified).Scan(&persistence); err != nil {
				t.Fatal(err)
			}
			if persistence != tc.persistence {
				t.Errorf("relpersistence = %q, want %q", persistence, tc.persistence)
			}
			// Close closes the store's own pool, never the adapter's.
			s.Close()
			if err := db.Ping(ctx); err != nil {
				t.Fatalf("adapter after the store's Close: %v", err)
			}
			err := s.Pool().Ping(ctx)
			if tc.own && err == nil {
				t.Error("the store's own pool is open after Close")
			} else if !tc.own && err != nil {
				t.Errorf("the adapter's pool after the store's Close: %v", err)
			}
		})
	}
}

// A caller's pool (NewFromPool) stays the caller's: the store
// runs on a pool of its own, which works whether the caller closes its
// pool before or after the store's Close.
func TestStoreFromPool(t *testing.T) {
	ctx := context.Background()
	schema := testpg.SchemaName(t, "rl_")
	pool, err := pgxpool.New(ctx, testpg.URL())
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.NewFromPool(pool, schema, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool.Close() // the caller is done with its pool
	if ok, _, err := s.Hit(ctx, "k", ratelimit.Rule{Window: time.Minute, Max: 1}, ratelimittest.T0); err != nil || !ok {
		t.Fatalf("hit after the caller's pool closed: %v %v", ok, err)
	}
	if _, err := postgres.NewFromPool(nil, schema, postgres.Options{}); err == nil {
		t.Error("nil pool accepted")
	}
	if _, err := postgres.NewFromPool(s.Pool(), schema, postgres.Options{Table: `bad"name`}); err == nil {
		t.Error("invalid table name accepted")
	}
}

// walSyncs returns the server's count of WAL flushes to disk.
func walSyncs(t *testing.T, conn *pgx.Conn) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), `SELECT wal_sync FROM pg_stat_wal`).Scan(&n); err != nil {
		t.Skipf("pg_stat_wal: %v", err) // before PostgreSQL 14
	}
	return n
}

// backendPID returns the server process of pool's connection.
func backendPID(t *testing.T, pool *pgxpool.Pool) int32 {
	t.Helper()
	var pid int32
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// Hit commits asynchronously (does not wait for a WAL flush) unless
// Durable, even on an ordinary (logged) table. Observed through the
// server-wide count of WAL flushes, which server processes report when
// they exit (at the latest): sequential synchronous commits flush once
// each, unless another process's flush covers them; asynchronous ones
// leave the flushing to the WAL writer, a few times a second. Other
// clients of the server can only add flushes, so the asynchronous case is
// tried up to three times.
func TestStoreAsyncCommit(t *testing.T) {
	ctx := context.Background()
	schema := testpg.SchemaName(t, "rl_")
	conn := testpg.Conn(t)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA "`+schema+`"; CREATE TABLE "`+schema+`"."rateLimit"`+
		` ("id" text PRIMARY KEY, "key" text NOT NULL UNIQUE, "count" integer NOT NULL, "lastRequest" bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const n = 100
	rule := ratelimit.Rule{Window: time.Minute, Max: 10}
	var round int
	// flushes returns the WAL flushes during n hits on a store (and
	// adapter) of one connection each, closed before counting.
	flushes := func(t *testing.T, opts postgres.Options) int64 {
		t.Helper()
		db := open(t, storagepg.Options{Schema: schema, MaxConns: 1})
		s := postgres.New(db, opts)
		defer s.Close()
		pids := []int32{backendPID(t, db.Pool()), backendPID(t, s.Pool())}
		round++
		before := walSyncs(t, conn)
		for i := range n {
			if _, _, err := s.Hit(ctx, fmt.Sprintf("%d|%d", round, i), rule, ratelimittest.T0); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		db.Close()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var alive bool
			if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1))`, pids).Scan(&alive); err != nil {
				t.Fatal(err)
			}
			if !alive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the pools' server processes have not exited")
			}
		}
		return walSyncs(t, conn) - before
	}
	for _, tc := range []struct {
		name  string
		opts  postgres.Options
		async bool
	}{
		{"durable", postgres.Options{Durable: true, MaxConns: 1}, false},
		{"durable, adapter pool", postgres.Options{Durable: true, MaxConns: -1}, false},
		{"default", postgres.Options{MaxConns: 1}, true},
		{"adapter pool", postgres.Options{MaxConns: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.async {
				got := flushes(t, tc.opts)
				if got < n/2 {
					t.Skipf("%d WAL flushes for %d synchronous commits: fsync off?", got, n)
				}
				t.Logf("%d WAL flushes for %d synchronous commits", got, n)
				return
			}
			var got int64
			for range 3 {
				if got = flushes(t, tc.opts); got < n/10 {
					t.Logf("%d WAL flushes for %d asynchronous commits", got, n)
					return
				}
			}
			t.Fatalf("%d WAL flushes for %d asynchronous commits", got, n)
		})
	}
}

// countingTracer counts the statements run on a pool's connections.
type countingTracer struct{ n atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// tracedStore is a store in schema over a pool of the caller's whose
// statements (and so the store's own pool's, derived from its
// configuration) tr counts.
func tracedStore(t *testing.T, schema string, tr pgx.QueryTracer, opts postgres.Options) *postgres.Store {
	t.Helper()
	opts.CleanupInterval = -1 // no background statements
	s, err := postgres.NewFromPool(testpg.TracedPool(t, tr), schema, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// After a refusal, Hits on the key under the same rule are refused from
// memory, without a statement, with the remaining time, until the window
// has passed; then the database answers again. A different rule, another
// key, or the key allowed again go to the database.
func TestStoreRefusalCache(t *testing.T) {
	ctx := context.Background()
	r2 := ratelimit.Rule{Window: 10 * time.Second, Max: 2}
	r3 := ratelimit.Rule{Window: 10 * time.Second, Max: 3}
	type step struct {
		at      time.Duration // since T0
		key     string
		rule    ratelimit.Rule
		allowed bool
		retry   time.Duration // when refused
		trip    bool          // a statement, with the refusal cache
	}
	long := strings.Repeat("x", 513) // not remembered
	steps := []step{
		{0, long, r2, true, 0, true},
		{0, long, r2, true, 0, true},
		{0, long, r2, false, 10 * time.Second, true},
		{time.Second, long, r2, false, 9 * time.Second, true},
		{0, "k", r2, true, 0, true},
		{time.Second, "k", r2, true, 0, true},
		{2 * time.Second, "k", r2, false, 9 * time.Second, true}, // remembered until 11 s
		{3 * time.Second, "k", r2, false, 8 * time.Second, false},
		{10999 * time.Millisecond, "k", r2, false, time.Millisecond, false},
		{4 * time.Second, "k", r2, false, 7 * time.Second, false}, // an earlier clock (another request)
		{5 * time.Second, "other", r2, true, 0, true},
		{5 * time.Second, "k", r3, true, 0, true},                // another rule: count 3 of 3, lastRequest 5 s
		{6 * time.Second, "k", r2, false, 9 * time.Second, true}, // remembered until 15 s
		{7 * time.Second, "k", r2, false, 8 * time.Second, false},
		{7 * time.Second, "k", r3, false, 8 * time.Second, true}, // one rule remembered per key: now r3's
		{14998 * time.Millisecond, "k", r2, false, 2 * time.Millisecond, true},
		{14999 * time.Millisecond, "k", r2, false, time.Millisecond, false},
		{-time.Second, "k", r2, false, 10 * time.Second, false}, // a clock before lastRequest: at most the window, as from the database
		{15 * time.Second, "k", r2, true, 0, true},              // the window has passed: count 1
		{15 * time.Second, "k", r2, true, 0, true},
		{15 * time.Second, "k", r2, false, 10 * time.Second, true},
		{16 * time.Second, "k", r2, false, 9 * time.Second, false},
	}
	for _, tc := range []struct {
		name  string
		opts  postgres.Options
		cache bool
	}{
		{"default", postgres.Options{}, true},
		{"durable", postgres.Options{Durable: true}, true},
		{"adapter pool", postgres.Options{MaxConns: -1}, true},
		{"no refusal cache", postgres.Options{RefusalCache: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &countingTracer{}
			s := tracedStore(t, testpg.SchemaName(t, "rl_"), tr, tc.opts)
			for i, st := range steps {
				before := tr.n.Load()
				ok, retry, err := s.Hit(ctx, st.key, st.rule, ratelimittest.T0.Add(st.at))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if ok != st.allowed || retry != st.retry {
					t.Fatalf("step %d (at %v, %q, max %d): %v %v, want %v %v", i, st.at, st.key, st.rule.Max, ok, retry, st.allowed, st.retry)
				}
				want := int64(0)
				if st.trip || !tc.cache {
					want = 1
				}
				if got := tr.n.Load() - before; got != want {
					t.Fatalf("step %d (at %v, %q, max %d): %d statements, want %d", i, st.at, st.key, st.rule.Max, got, want)
				}
			}
		})
	}
}

// A refusal cache smaller than the refused keys remembers some of them,
// and the others are answered by the database, as right.
func TestStoreRefusalCacheBound(t *testing.T) {
	ctx := context.Background()
	tr := &countingTracer{}
	s := tracedStore(t, testpg.SchemaName(t, "rl_"), tr, postgres.Options{RefusalCache: 32})
	rule := ratelimit.Rule{Window: time.Minute, Max: 1}
	const keys = 200
	for _, st := range []struct {
		at      time.Duration
		allowed bool
		retry   time.Duration
	}{{0, true, 0}, {0, false, time.Minute}, {time.Second, false, 59 * time.Second}} {
		before := tr.n.Load()
		for i := range keys {
			if st.at > 0 { // the last remembered first
				i = keys - 1 - i
			}
			ok, retry, err := s.Hit(ctx, fmt.Sprintf("192.0.2.%d|/sign-in/email", i), rule, ratelimittest.T0.Add(st.at))
			if err != nil || ok != st.allowed || retry != st.retry {
				t.Fatalf("at %v key %d: %v %v %v, want %v %v", st.at, i, ok, retry, err, st.allowed, st.retry)
			}
		}
		trips := tr.n.Load() - before
		if st.at == 0 && trips != keys {
			t.Fatalf("at %v: %d statements for %d keys", st.at, trips, keys)
		}
		if st.at > 0 && (trips < keys-32 || trips >= keys) {
			t.Fatalf("%d statements for %d refused keys, a cache of 32", trips, keys)
		}
	}
}

// A refusal remembered by one instance ends when the window passes, so it
// never refuses a request another instance's reset would allow; the other
// instance, without the memory, gets the database's answer.
func TestStoreRefusalCacheTwoInstances(t *testing.T) {
	ctx := context.Background()
	schema := testpg.SchemaName(t, "rl_")
	ta, tb := &countingTracer{}, &countingTracer{}
	a, b := tracedStore(t, schema, ta, postgres.Options{}), tracedStore(t, schema, tb, postgres.Options{})
	rule := ratelimit.Rule{Window: 10 * time.Second, Max: 2}
	for i, st := range []struct {
		s       *postgres.Store
		at      time.Duration
		allowed bool
		retry   time.Duration
		trips   int64 // statements on a and b
	}{
		{a, 0, true, 0, 1},
		{b, 0, true, 0, 1},
		{a, time.Second, false, 9 * time.Second, 1}, // a remembers until 10 s
		{b, 2 * time.Second, false, 8 * time.Second, 1},
		{a, 9 * time.Second, false, time.Second, 0},
		{b, 10 * time.Second, true, 0, 1},         // b restarts the count
		{a, 10500 * time.Millisecond, true, 0, 1}, // count 2
		{a, 10600 * time.Millisecond, false, 9900 * time.Millisecond, 1},
		{b, 11 * time.Second, false, 9500 * time.Millisecond, 1},
		{a, 11 * time.Second, false, 9500 * time.Millisecond, 0},
	} {
		before := ta.n.Load() + tb.n.Load()
		ok, retry, err := st.s.Hit(ctx, "k", rule, ratelimittest.T0.Add(st.at))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ok != st.allowed || retry != st.retry {
			t.Fatalf("step %d (at %v): %v %v, want %v %v", i, st.at, ok, retry, st.allowed, st.retry)
		}
		if got := ta.n.Load() + tb.n.Load() - before; got != st.trips {
			t.Fatalf("step %d (at %v): %d statements, want %d", i, st.at, got, st.trips)
		}
	}
}

// benchStore is a store over a fresh schema, on an adapter with the pool
// size a server gets by default on this machine (max(4, CPUs)); logged
// creates the table beforehand as Better Auth's migrations do (an
// ordinary table).
func benchStore(b *testing.B, opts postgres.Options, logged bool) *postgres.Store {
	b.Helper()
	ctx := context.Background()
	db, err := storagepg.Open(ctx, storagepg.Options{URL: testpg.URL(), Schema: testpg.SchemaName(b, "rl_")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if logged {
		if _, err := db.Pool().Exec(ctx, `CREATE SCHEMA "`+db.SchemaName()+`"; CREATE TABLE "`+db.SchemaName()+`"."rateLimit"`+
			` ("id" text PRIMARY KEY, "key" text NOT NULL UNIQUE, "count" integer NOT NULL, "lastRequest" bigint NOT NULL)`); err != nil {
			b.Fatal(err)
		}
	}
	s := postgres.New(db, opts)
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return s
}

// benchHits runs allowed hits on distinct keys, in parallel.
func benchHits(b *testing.B, s *postgres.Store) {
	ctx := context.Background()
	rule := ratelimit.Rule{Window: time.Minute, Max: 100}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := "198.51.100." + strconv.FormatInt(n.Add(1), 10) + "|/get-session"
			ok, _, err := s.Hit(ctx, key, rule, time.Now())
			if err != nil || !ok {
				b.Fatalf("hit: %v %v", ok, err)
			}
		}
	})
}

// BenchmarkHit: allowed hits on distinct keys, in parallel, with
// the default options (the store creates its table: UNLOGGED).
func BenchmarkHit(b *testing.B) {
	benchHits(b, benchStore(b, postgres.Options{}, false))
}

// BenchmarkHitLoggedTable: as BenchmarkHit on an
// ordinary table created beforehand (asynchronous commits only).
func BenchmarkHitLoggedTable(b *testing.B) {
	benchHits(b, benchStore(b, postgres.Options{}, true))
}

// BenchmarkHitDurable: as BenchmarkHit with Durable
// (synchronous commits, ordinary table).
func BenchmarkHitDurable(b *testing.B) {
	benchHits(b, benchStore(b, postgres.Options{Durable: true}, false))
}

// BenchmarkHitRefused: a flood on a few keys already at their
// limit, in parallel.
func BenchmarkHitRefused(b *testing.B) {
	s := benchStore(b, postgres.Options{}, false)
	ctx := context.Background()
	rule := ratelimit.Rule{Window: time.Hour, Max: 1}
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = "203.0.113." + strconv.Itoa(i) + "|/sign-in/email"
		if _, _, err := s.Hit(ctx, keys[i], rule, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ok, retry, err := s.Hit(ctx, keys[n.Add(1)%int64(len(keys))], rule, time.Now())
			if err != nil || ok || retry <= 0 {
				b.Fatalf("hit: %v %v %v", ok, retry, err)
			}
		}
	})
}
