package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
	"github.com/managarten/mana-auth/storage/postgres"
)

func TestRateLimitStoreConformance(t *testing.T) {
	testpg.Require(t)
	ratelimittest.Run(t, func(t *testing.T) auth.RateLimitStore {
		s := postgres.NewRateLimitStore(open(t, postgres.Options{MaxConns: 8}))
		if err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// Better Auth's table: id, key (unique), count, lastRequest (ms); created
// on the first Hit when Migrate was not called.
func TestRateLimitStoreTable(t *testing.T) {
	ctx := context.Background()
	db := open(t, postgres.Options{})
	s := postgres.NewRateLimitStore(db)
	defer s.Close()
	rule := auth.RateRule{Window: 10 * time.Second, Max: 3}
	for i := range 2 {
		if ok, _, err := s.Hit(ctx, "203.0.113.7|/sign-in/email", rule, ratelimittest.T0.Add(time.Duration(i)*time.Second)); err != nil || !ok {
			t.Fatalf("hit %d: %v %v", i, ok, err)
		}
	}
	conn := raw(t)
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

// Two instances (two pools on one schema) hitting one key at once admit
// exactly Max between them.
func TestRateLimitStoreTwoInstances(t *testing.T) {
	ctx := context.Background()
	a := open(t, postgres.Options{MaxConns: 8})
	b := open(t, postgres.Options{Schema: a.SchemaName(), MaxConns: 8})
	sa, sb := postgres.NewRateLimitStore(a), postgres.NewRateLimitStore(b)
	defer sa.Close()
	defer sb.Close()
	if err := sa.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rule := auth.RateRule{Window: time.Minute, Max: 7}
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
			ok, retry, err := s.Hit(ctx, "hot", rule, ratelimittest.T0.Add(time.Duration(i)*time.Millisecond))
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
		t.Fatalf("%d allowed across two instances, want %d", allowed.Load(), rule.Max)
	}
}

// Cleanup deletes counters idle for longer than the longest window seen
// (or Retention), never younger ones; Hit runs it in the background.
func TestRateLimitStoreCleanup(t *testing.T) {
	ctx := context.Background()
	db := open(t, postgres.Options{})
	s := postgres.NewRateLimitStore(db, postgres.RateLimitOptions{CleanupInterval: -1})
	defer s.Close()
	if n, err := s.Cleanup(ctx, ratelimittest.T0); err != nil || n != 0 {
		t.Fatalf("cleanup before any hit: %d %v", n, err)
	}
	short := auth.RateRule{Window: 10 * time.Second, Max: 3}
	long := auth.RateRule{Window: time.Minute, Max: 3}
	hit := func(s *postgres.RateLimitStore, key string, r auth.RateRule, at time.Duration) {
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
	bg := postgres.NewRateLimitStore(db, postgres.RateLimitOptions{CleanupInterval: time.Minute, Retention: time.Hour})
	hit(bg, "c", short, 2*time.Hour) // schedules the sweep for 2h01
	hit(bg, "c", short, 2*time.Hour+2*time.Minute)
	bg.Close() // waits for the sweep
	var left int
	if err := raw(t).QueryRow(ctx, `SELECT count(*) FROM "`+db.SchemaName()+`"."rateLimit"`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 1 { // only c, touched at 2h02
		t.Fatalf("%d rows after the background sweep, want 1", left)
	}
}
