package auth_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// Issue 12: get-session is bounded by one indexed read. These tests count
// the database round trips of auth requests.
//
// countingDB wraps an adapter and counts the calls that reach it. Outside a
// transaction every Adapter method (and FindOneJoined) of the SQLite and
// PostgreSQL adapters sends exactly one SQL statement, i.e. makes one round
// trip, so the number of calls is the number of round trips. (Bind does not
// touch the database and is not counted; a Tx would be, once, but get-session
// runs none.) For PostgreSQL the test also counts the statements pgx really
// sends, with a tracer on the pool.
//
// countingDB does not implement storage.Joiner, so auth falls back to two
// reads; joiningDB adds FindOneJoined.
type countingDB struct {
	db    storage.Adapter
	mu    sync.Mutex
	calls []string
}

// joiningDB is a countingDB that is also a storage.Joiner.
type joiningDB struct{ *countingDB }

var (
	_ storage.Adapter = (*countingDB)(nil)
	_ storage.Adapter = joiningDB{}
	_ storage.Joiner  = joiningDB{}
)

func (c *countingDB) record(call string) {
	c.mu.Lock()
	c.calls = append(c.calls, call)
	c.mu.Unlock()
}

// take returns the calls counted since the last take and resets the count.
func (c *countingDB) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = nil
	return calls
}

func (c *countingDB) Bind(s storage.Schema) error { return c.db.Bind(s) }

func (c *countingDB) Create(ctx context.Context, table string, rec storage.Record) error {
	c.record("Create " + table)
	return c.db.Create(ctx, table, rec)
}

func (c *countingDB) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	c.record("FindOne " + table)
	return c.db.FindOne(ctx, table, where...)
}

func (c *countingDB) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	c.record("FindMany " + table)
	return c.db.FindMany(ctx, table, q)
}

func (c *countingDB) Update(ctx context.Context, table string, set storage.Record, where ...storage.Where) (int64, error) {
	c.record("Update " + table)
	return c.db.Update(ctx, table, set, where...)
}

func (c *countingDB) Delete(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	c.record("Delete " + table)
	return c.db.Delete(ctx, table, where...)
}

func (c *countingDB) Count(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	c.record("Count " + table)
	return c.db.Count(ctx, table, where...)
}

// Tx counts itself once and counts the calls inside too.
func (c *countingDB) Tx(ctx context.Context, fn func(tx storage.Adapter) error) error {
	c.record("Tx")
	return c.db.Tx(ctx, func(tx storage.Adapter) error {
		inner := &countingDB{db: tx}
		defer func() {
			for _, call := range inner.take() {
				c.record("Tx: " + call)
			}
		}()
		if _, ok := tx.(storage.Joiner); ok {
			return fn(joiningDB{inner})
		}
		return fn(inner)
	})
}

func (j joiningDB) FindOneJoined(ctx context.Context, table, ref string, where ...storage.Where) (storage.Record, storage.Record, error) {
	j.record("FindOneJoined " + table + "." + ref)
	return j.db.(storage.Joiner).FindOneJoined(ctx, table, ref, where...)
}

// pgStatements counts the statements pgx sends (QueryTracer) and the
// statements it prepares (PrepareTracer: a cache miss of the statement
// cache, itself one more round trip).
type pgStatements struct {
	mu       sync.Mutex
	queries  []string
	prepares int
}

func (p *pgStatements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	p.mu.Lock()
	p.queries = append(p.queries, d.SQL)
	p.mu.Unlock()
	return ctx
}

func (p *pgStatements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (p *pgStatements) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	p.mu.Lock()
	p.prepares++
	p.mu.Unlock()
	return ctx
}

func (p *pgStatements) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

func (p *pgStatements) take() (queries []string, prepares int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	queries, prepares = p.queries, p.prepares
	p.queries, p.prepares = nil, 0
	return queries, prepares
}

// rtBackend opens a fresh, empty database. migrate creates the tables of
// a's schema; pg is non-nil for PostgreSQL.
type rtBackend struct {
	name string
	open func(t *testing.T) (db storage.Adapter, migrate func(a *auth.Auth), pg *pgStatements)
}

func rtBackends() []rtBackend {
	return []rtBackend{
		{"memory", func(t *testing.T) (storage.Adapter, func(*auth.Auth), *pgStatements) {
			return memory.New(), func(*auth.Auth) {}, nil
		}},
		{"sqlite", func(t *testing.T) (storage.Adapter, func(*auth.Auth), *pgStatements) {
			db, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "auth.db"), Logger: discardLogger})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			return db, func(a *auth.Auth) {
				if err := db.Migrate(t.Context(), a.Schema()); err != nil {
					t.Fatal(err)
				}
			}, nil
		}},
		{"postgres", openPGForRoundTrips},
	}
}

// openPGForRoundTrips returns an adapter over a fresh PostgreSQL schema
// (dropped when the test ends) at TEST_DATABASE_URL, on a one-connection
// pool traced by a pgStatements. It skips the test when the server cannot
// be reached, unless CI=true.
func openPGForRoundTrips(t *testing.T) (storage.Adapter, func(*auth.Auth), *pgStatements) {
	url := testpg.URL()
	schema := testpg.SchemaName(t, "rt_")
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// One connection, so that a statement prepared once stays in the
	// statement cache of the connection every later request uses.
	cfg.MaxConns, cfg.MinConns = 1, 0
	tr := &pgStatements{}
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // runs before the schema is dropped
	db, err := postgres.New(pool, postgres.Options{Schema: schema, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	migrate := func(a *auth.Auth) {
		// Migrate with an adapter of its own: the traced pool has one
		// connection.
		m, err := postgres.Open(t.Context(), postgres.Options{URL: url, Schema: schema, MaxConns: 2, Logger: discardLogger})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := m.Bind(a.Schema()); err != nil {
			t.Fatal(err)
		}
		if err := m.Migrate(t.Context(), a.Schema()); err != nil {
			t.Fatal(err)
		}
	}
	return db, migrate, tr
}

// rtStep is what one get-session request answered and cost.
type rtStep struct {
	name    string
	status  int
	body    any      // decoded JSON, ids and tokens removed
	cookies []string // Set-Cookie shapes
	calls   []string // adapter calls
	pg      []string // statements pgx sent (PostgreSQL)
	pgPrep  int      // statements pgx prepared (PostgreSQL)
}

// getSessionSteps signs a user up and runs get-session through a valid
// session, an unknown token, a refresh and an expiry, with a fake clock.
func getSessionSteps(t *testing.T, b rtBackend, join bool) []rtStep {
	inner, migrate, pg := b.open(t)
	counter := &countingDB{db: inner}
	var db storage.Adapter = counter
	if join {
		db = joiningDB{counter}
	}
	clock := newClock()
	cfg := testConfig("http://localhost:3000")
	cfg.Now = clock.Now
	a, err := auth.New(cfg, db)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	migrate(a)
	res, err := a.SignUpEmail(t.Context(), auth.SignUpInput{Name: "R", Email: "rt@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	cookie := cookieHeader(res.Cookies)
	bogus := a.Host().CookieName(plugin.CookieSessionToken) + "=" + plugin.SignCookieValue(testSecret, strings.Repeat("x", 32))
	h := a.Handler()
	counter.take()
	if pg != nil {
		pg.take()
	}
	var steps []rtStep
	get := func(name, cookie string) {
		r := httptest.NewRequest("GET", "/api/auth/get-session", nil)
		r.Header.Set("Cookie", cookie)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		st := rtStep{name: name, status: w.Code, cookies: cookieShapes(w.Header().Values("Set-Cookie")), calls: counter.take()}
		if pg != nil {
			st.pg, st.pgPrep = pg.take()
		}
		if err := json.Unmarshal(w.Body.Bytes(), &st.body); err != nil {
			t.Fatalf("%s: body %q: %v", name, w.Body, err)
		}
		if m, ok := st.body.(map[string]any); ok {
			for _, k := range []string{"session", "user"} {
				if sub, ok := m[k].(map[string]any); ok {
					delete(sub, "id")
					delete(sub, "token")
					delete(sub, "userId")
				}
			}
		}
		steps = append(steps, st)
	}
	get("valid", cookie)
	get("valid again", cookie)
	get("unknown token", bogus)
	clock.Advance(2 * 24 * time.Hour) // past UpdateAge (1 day): refresh
	get("refresh due", cookie)
	get("valid after refresh", cookie)
	clock.Advance(8 * 24 * time.Hour) // past ExpiresIn (7 days): expired
	get("expired", cookie)
	get("after expiry", cookie)
	return steps
}

// TestGetSessionRoundTrips: with a storage.Joiner, get-session with a valid
// session that needs no refresh makes exactly one database round trip (one
// FindOneJoined; on PostgreSQL one statement, served from the statement
// cache); without one it falls back to two reads. Both answer alike.
func TestGetSessionRoundTrips(t *testing.T) {
	t.Parallel()
	// Calls per step, with and without the join.
	wantJoin := map[string][]string{
		"valid":               {"FindOneJoined session.userId"},
		"valid again":         {"FindOneJoined session.userId"},
		"unknown token":       {"FindOneJoined session.userId"},
		"refresh due":         {"FindOneJoined session.userId", "Update session"},
		"valid after refresh": {"FindOneJoined session.userId"},
		"expired":             {"FindOneJoined session.userId", "Delete session"},
		"after expiry":        {"FindOneJoined session.userId"},
	}
	wantPlain := map[string][]string{
		"valid":               {"FindOne session", "FindOne user"},
		"valid again":         {"FindOne session", "FindOne user"},
		"unknown token":       {"FindOne session"},
		"refresh due":         {"FindOne session", "FindOne user", "Update session"},
		"valid after refresh": {"FindOne session", "FindOne user"},
		"expired":             {"FindOne session", "Delete session"},
		"after expiry":        {"FindOne session"},
	}
	for _, b := range rtBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			joined := getSessionSteps(t, b, true)
			plain := getSessionSteps(t, b, false)
			for i, st := range joined {
				if diff := cmp.Diff(wantJoin[st.name], st.calls); diff != "" {
					t.Errorf("with the join, %s: adapter calls (-want +got):\n%s", st.name, diff)
				}
				p := plain[i]
				if diff := cmp.Diff(wantPlain[p.name], p.calls); diff != "" {
					t.Errorf("without the join, %s: adapter calls (-want +got):\n%s", p.name, diff)
				}
				if st.status != p.status || !cmp.Equal(st.cookies, p.cookies) || !cmp.Equal(st.body, p.body) {
					t.Errorf("%s: the join changed the answer:\njoin:  %d %v %v\nplain: %d %v %v",
						st.name, st.status, st.cookies, st.body, p.status, p.cookies, p.body)
				}
				if st.pg != nil || p.pg != nil {
					// Real statements: one per adapter call.
					if len(st.pg) != len(st.calls) || len(p.pg) != len(p.calls) {
						t.Errorf("%s: PostgreSQL statements %q (join) and %q (plain), want one per adapter call", st.name, st.pg, p.pg)
					}
				}
			}
			for _, st := range joined {
				if st.status != 200 { // get-session answers null without a session
					t.Errorf("%s: status %d, want 200", st.name, st.status)
				}
				valid := st.name == "valid" || st.name == "valid again" || st.name == "refresh due" || st.name == "valid after refresh"
				if m, ok := st.body.(map[string]any); valid && (!ok || m["user"] == nil || m["session"] == nil) {
					t.Errorf("%s: body %v, want a session and its user", st.name, st.body)
				}
				if !valid && st.body != nil {
					t.Errorf("%s: body %v, want null", st.name, st.body)
				}
			}
			if joined[1].pg != nil {
				// Issue 12: one round trip. The first request prepared the
				// statement; the second finds it in the cache.
				st := joined[1]
				if len(st.pg) != 1 || st.pgPrep != 0 || !strings.Contains(st.pg[0], " JOIN ") {
					t.Errorf("get-session on PostgreSQL sent %q and prepared %d statements; want one JOIN statement, none prepared", st.pg, st.pgPrep)
				}
			}
		})
	}
}
