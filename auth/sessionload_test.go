package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Session lookups that arrive while another is being read share the next
// read (auth.SessionConfig.DisableLookupBatching). These tests hold them
// to what a read of their own would answer, on the adapters that batch.

var batchingDBs = []string{"sqlite", "postgres"}

// gatedDB is an adapter whose FindOneJoined, once armed, reads and then
// holds its answer until release is closed (a read in flight that has
// already seen the database), and which records the token lists of
// FindManyJoined.
type gatedDB struct {
	storage.Adapter
	armed    atomic.Bool
	inFlight chan struct{} // receives when the armed read has read
	release  chan struct{}

	mu      sync.Mutex
	batches [][]string

	panicOne, panicMany atomic.Bool // the next FindOneJoined / FindManyJoined panics

	// With barrier set, each FindManyJoined waits (at most 10 s) until
	// barrier of them are in flight together, and inFlightMax records the
	// most seen at once.
	barrier     int
	arrived     atomic.Int32
	allArrived  chan struct{}
	inFlightMax atomic.Int32
}

func newGatedDB(db storage.Adapter) *gatedDB {
	return &gatedDB{Adapter: db, inFlight: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gatedDB) FindOneJoined(ctx context.Context, table, ref string, where ...storage.Where) (storage.Record, storage.Record, error) {
	if g.panicOne.CompareAndSwap(true, false) {
		panic("adapter bug")
	}
	rec, refRec, err := g.Adapter.(storage.Joiner).FindOneJoined(ctx, table, ref, where...)
	if g.armed.CompareAndSwap(true, false) {
		g.inFlight <- struct{}{}
		<-g.release
	}
	return rec, refRec, err
}

func (g *gatedDB) FindManyJoined(ctx context.Context, table, ref string, where ...storage.Where) ([]storage.Record, []storage.Record, error) {
	if g.panicMany.CompareAndSwap(true, false) {
		panic("adapter bug")
	}
	if g.barrier > 0 {
		n := g.arrived.Add(1)
		for {
			m := g.inFlightMax.Load()
			if n <= m || g.inFlightMax.CompareAndSwap(m, n) {
				break
			}
		}
		if int(n) == g.barrier {
			close(g.allArrived)
		}
		select {
		case <-g.allArrived:
		case <-time.After(10 * time.Second):
		}
		defer g.arrived.Add(-1)
	}
	if len(where) == 1 {
		if tokens, ok := where[0].Value.([]string); ok {
			g.mu.Lock()
			g.batches = append(g.batches, slices.Sorted(slices.Values(tokens)))
			g.mu.Unlock()
		}
	}
	return g.Adapter.(storage.ManyJoiner).FindManyJoined(ctx, table, ref, where...)
}

func (g *gatedDB) Batches() [][]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.batches)
}

// batchEnv is an Auth over a gated SQLite or PostgreSQL adapter with
// users "u0".."u<n-1>", each signed in once.
type batchEnv struct {
	a      *auth.Auth
	db     *gatedDB
	tokens []string // tokens[i] is u<i>'s session token
	users  []string // users[i] is u<i>'s id
}

func newBatchEnv(t *testing.T, kind string, users int, mutate func(*auth.Config)) *batchEnv {
	t.Helper()
	inner := testkit.OpenDB(t, kind, "sessload")
	e := &batchEnv{db: newGatedDB(inner)}
	cfg := testConfig("http://localhost:3000")
	if mutate != nil {
		mutate(&cfg)
	}
	ctx := context.Background()
	// The tables, made through the adapter itself (gatedDB has no Migrator).
	if m, err := auth.New(cfg, inner); err != nil || m.Migrate(ctx) != nil {
		t.Fatalf("migrating: %v", err)
	}
	a, err := auth.New(cfg, e.db)
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	for i := range users {
		u := &auth.User{Name: fmt.Sprint("u", i), Email: fmt.Sprintf("u%d@example.com", i), EmailVerified: true}
		if err := a.Host().CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		res, err := a.Host().CreateSession(ctx, u, false)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens, e.users = append(e.tokens, res.Token()), append(e.users, u.ID)
	}
	return e
}

// lookup is GetSession's answer: the user id, or the error.
func (e *batchEnv) lookup(token string) string {
	sd, err := e.a.GetSession(context.Background(), token)
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		return "none"
	case err != nil:
		return "error: " + err.Error()
	}
	return sd.User.ID
}

// holdRead starts a lookup of token whose read is held (see gatedDB) and
// returns a channel with its answer once release is closed.
func (e *batchEnv) holdRead(t *testing.T, token string) <-chan string {
	t.Helper()
	e.db.armed.Store(true)
	out := make(chan string, 1)
	go func() { out <- e.lookup(token) }()
	select {
	case <-e.db.inFlight:
	case <-time.After(10 * time.Second):
		t.Fatal("the held read never started")
	}
	return out
}

// waitQueued waits until n lookups wait for the next read.
func (e *batchEnv) waitQueued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for e.a.QueuedSessionLookups() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d lookups queued, want %d", e.a.QueuedSessionLookups(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBatchedLookupNeverJoinsReadInFlight: a session revoked while a read
// of it is in flight is refused to every lookup that arrives after the
// revocation, though that read (which began before it) still finds the
// session. A lookup joining the read in flight, as a singleflight would,
// fails this.
func TestBatchedLookupNeverJoinsReadInFlight(t *testing.T) {
	t.Parallel()
	for _, kind := range batchingDBs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newBatchEnv(t, kind, 1, nil)
			first := e.holdRead(t, e.tokens[0])
			if _, err := e.db.Delete(context.Background(), plugin.TableSession, storage.W("token", e.tokens[0])); err != nil {
				t.Fatal(err)
			}
			after := make(chan string, 1)
			go func() { after <- e.lookup(e.tokens[0]) }()
			e.waitQueued(t, 1)
			close(e.db.release)
			if got := <-first; got != e.users[0] {
				t.Errorf("the lookup that began before the revocation: %q, want the user %q", got, e.users[0])
			}
			if got := <-after; got != "none" {
				t.Errorf("the lookup that began after the revocation: %q, want none", got)
			}
		})
	}
}

// TestBatchedLookups: lookups queued behind a read in flight share one
// read (tokens once each), and each gets exactly what a read of its own
// would: its own user, nothing for a revoked session, an unknown token or
// one no database stores — never another lookup's session.
func TestBatchedLookups(t *testing.T) {
	t.Parallel()
	for _, kind := range batchingDBs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := newBatchEnv(t, kind, 5, nil)
			first := e.holdRead(t, e.tokens[0])
			// u1's session revoked before its lookups arrive.
			if _, err := e.db.Delete(context.Background(), plugin.TableSession, storage.W("token", e.tokens[1])); err != nil {
				t.Fatal(err)
			}
			unknown, unstorable := strings.Repeat("Z", 32), "bad\x00token\xff"
			queries := []struct{ token, want string }{
				{e.tokens[1], "none"},
				{e.tokens[2], e.users[2]},
				{e.tokens[3], e.users[3]},
				{e.tokens[3], e.users[3]}, // the same token twice
				{e.tokens[4], e.users[4]},
				{unknown, "none"},
				{unstorable, "none"},
			}
			got := make([]string, len(queries))
			var wg sync.WaitGroup
			for i, q := range queries {
				wg.Go(func() { got[i] = e.lookup(q.token) })
			}
			e.waitQueued(t, len(queries))
			close(e.db.release)
			wg.Wait()
			if g := <-first; g != e.users[0] {
				t.Errorf("held lookup: %q, want %q", g, e.users[0])
			}
			for i, q := range queries {
				if got[i] != q.want {
					t.Errorf("lookup %d (%.12q…): %q, want %q", i, q.token, got[i], q.want)
				}
			}
			want := [][]string{slices.Sorted(slices.Values([]string{e.tokens[1], e.tokens[2], e.tokens[3], e.tokens[4], unknown, unstorable}))}
			if diff := cmp.Diff(want, e.db.Batches()); diff != "" {
				t.Errorf("batched reads (-want +got):\n%s", diff)
			}
			// 8 lookups, 2 reads: the held one and the batch.
			if s := e.a.Stats(); s.SessionLookups != 8 || s.SessionReads != 2 {
				t.Errorf("Stats: %d lookups, %d reads; want 8, 2", s.SessionLookups, s.SessionReads)
			}
		})
	}
}

// TestQueuedLookupCancelled: a queued lookup whose request goes away
// returns at once with its context's error; the reads go on for the rest.
func TestQueuedLookupCancelled(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, "sqlite", 2, nil)
	first := e.holdRead(t, e.tokens[0])
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { _, err := e.a.GetSession(ctx, e.tokens[1]); gone <- err }()
	e.waitQueued(t, 1)
	cancel()
	select {
	case err := <-gone:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled lookup: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled lookup waited for the read in flight")
	}
	close(e.db.release)
	if g := <-first; g != e.users[0] {
		t.Errorf("held lookup: %q, want %q", g, e.users[0])
	}
	if g := e.lookup(e.tokens[1]); g != e.users[1] {
		t.Errorf("lookup after the cancelled one: %q, want %q", g, e.users[1])
	}
}

// TestDisableLookupBatching: with it, every lookup is a read of its own.
func TestDisableLookupBatching(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, "sqlite", 3, func(c *auth.Config) { c.Session.DisableLookupBatching = true })
	if n := e.a.QueuedSessionLookups(); n != -1 {
		t.Fatalf("QueuedSessionLookups = %d, want -1 (no loader)", n)
	}
	var wg sync.WaitGroup
	for range 4 {
		for i, tok := range e.tokens {
			wg.Go(func() {
				if g := e.lookup(tok); g != e.users[i] {
					t.Errorf("lookup of u%d: %q", i, g)
				}
			})
		}
	}
	wg.Wait()
	if b := e.db.Batches(); len(b) != 0 {
		t.Errorf("batched reads %v with batching off", b)
	}
	if s := e.a.Stats(); s.SessionLookups != 12 || s.SessionReads != 12 {
		t.Errorf("Stats: %d lookups, %d reads; want 12 each", s.SessionLookups, s.SessionReads)
	}
}

// TestConcurrentGetSessions: many clients asking get-session at once
// through HTTP each get their own user, never another's, and a session
// revoked meanwhile is refused from then on (run with -race).
func TestConcurrentGetSessions(t *testing.T) {
	t.Parallel()
	for _, kind := range batchingDBs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			const users, clients, rounds = 8, 24, 15
			e := newBatchEnv(t, kind, users, nil)
			srv := httptest.NewServer(e.a.Handler())
			t.Cleanup(srv.Close)
			getSession := func(token string) (int, string) {
				req, _ := http.NewRequest("GET", srv.URL+"/api/auth/get-session", nil)
				req.AddCookie(&http.Cookie{Name: "better-auth.session_token", Value: plugin.SignCookieValue(testSecret, token)})
				resp, err := srv.Client().Do(req)
				if err != nil {
					return 0, err.Error()
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					for r := range rounds {
						i := (c + r) % users
						st, body := getSession(e.tokens[i])
						if st != 200 || !strings.Contains(body, `"userId":"`+e.users[i]+`"`) || !strings.Contains(body, `"email":"u`+fmt.Sprint(i)+`@example.com"`) {
							t.Errorf("client %d round %d, u%d: %d %.200s", c, r, i, st, body)
							return
						}
					}
				})
			}
			wg.Wait()
			if _, err := e.db.Delete(context.Background(), plugin.TableSession, storage.W("token", e.tokens[0])); err != nil {
				t.Fatal(err)
			}
			for c := range clients {
				wg.Go(func() {
					if st, body := getSession(e.tokens[0]); st != 200 || body != "null" {
						t.Errorf("client %d after the revocation: %d %.200s, want 200 null", c, st, body)
					}
				})
			}
			wg.Wait()
		})
	}
}

// TestLookupAdapterPanics: an adapter that panics in a read fails that
// read's lookups (the request's own panic, or an error for a batch) and
// neither wedges the loader nor takes the process down.
func TestLookupAdapterPanics(t *testing.T) {
	t.Parallel()
	e := newBatchEnv(t, "sqlite", 3, nil)

	// The read a lookup makes itself panics in the request, as any
	// adapter call would; the next lookup reads again.
	e.db.panicOne.Store(true)
	func() {
		defer func() {
			if p := recover(); p == nil {
				t.Error("the adapter's panic did not reach the lookup that made the read")
			}
		}()
		e.lookup(e.tokens[0])
	}()
	if g := e.lookup(e.tokens[0]); g != e.users[0] {
		t.Errorf("lookup after a panicking read: %q, want %q", g, e.users[0])
	}

	// A batched read that panics fails its lookups with an error.
	first := e.holdRead(t, e.tokens[0])
	e.db.panicMany.Store(true)
	got := make([]string, 2)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = e.lookup(e.tokens[i+1]) })
	}
	e.waitQueued(t, 2)
	close(e.db.release)
	wg.Wait()
	<-first
	for i, g := range got {
		if !strings.HasPrefix(g, "error: ") || !strings.Contains(g, "panicked") {
			t.Errorf("lookup %d in a panicking batch: %q, want an error", i, g)
		}
	}
	for i, tok := range e.tokens {
		if g := e.lookup(tok); g != e.users[i] {
			t.Errorf("lookup of u%d after a panicking batch: %q", i, g)
		}
	}
}

// TestLongQueueReadsAtOnce: a queue longer than one read's tokens is read
// in several reads at once, not one after another, so that a slow database
// delays each lookup by at most the read in flight and its own.
func TestLongQueueReadsAtOnce(t *testing.T) {
	t.Parallel()
	const users = 150 // 3 reads: 64 + 64 + 22
	e := newBatchEnv(t, "sqlite", users, nil)
	e.db.barrier, e.db.allArrived = 3, make(chan struct{})
	first := e.holdRead(t, e.tokens[0])
	got := make([]string, users)
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() { got[i] = e.lookup(e.tokens[i]) })
	}
	e.waitQueued(t, users)
	close(e.db.release)
	wg.Wait()
	<-first
	for i := range users {
		if got[i] != e.users[i] {
			t.Errorf("lookup of u%d: %q, want %q", i, got[i], e.users[i])
		}
	}
	var sizes []int
	for _, b := range e.db.Batches() {
		sizes = append(sizes, len(b))
	}
	slices.Sort(sizes)
	if diff := cmp.Diff([]int{22, 64, 64}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if n := e.db.inFlightMax.Load(); n != 3 {
		t.Errorf("at most %d reads in flight together, want the 3 at once", n)
	}
}
