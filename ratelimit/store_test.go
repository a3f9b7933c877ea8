package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
)

// The in-memory store is the reference the shared stores are held to.
func TestMemoryStore(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store { return ratelimit.NewMemoryStore() })
}

// Concurrent hits never let more than Max through in a window, and the
// retry time runs from the last allowed request.
func TestMemoryStoreConcurrent(t *testing.T) {
	t.Parallel()
	s := ratelimit.NewMemoryStore()
	rule := ratelimit.Rule{Window: time.Minute, Max: 5}
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				// All within one window (not in order across goroutines).
				now := base.Add(time.Duration(g*50+i) * time.Millisecond)
				ok, wait, err := s.Hit(context.Background(), "k", rule, now)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					allowed.Add(1)
				} else if wait <= 0 {
					t.Errorf("refusal with retry-after %v", wait)
				}
				// Another key is independent.
				_, _, _ = s.Hit(context.Background(), "other", rule, now)
			}
		}()
	}
	wg.Wait()
	if got := allowed.Load(); got != int64(rule.Max) {
		t.Errorf("%d hits allowed, want exactly %d", got, rule.Max)
	}
	ok, wait, _ := s.Hit(context.Background(), "fresh", rule, base)
	if !ok || wait != 0 {
		t.Errorf("first hit of a new key: %v %v", ok, wait)
	}
	for range 4 {
		_, _, _ = s.Hit(context.Background(), "fresh", rule, base.Add(10*time.Second))
	}
	if ok, wait, _ := s.Hit(context.Background(), "fresh", rule, base.Add(13*time.Second)); ok || wait != 57*time.Second {
		t.Errorf("6th hit: %v, retry %v; want refused, 57s", ok, wait)
	}
	if ok, _, _ := s.Hit(context.Background(), "fresh", rule, base.Add(70*time.Second)); !ok {
		t.Error("hit after the window refused")
	}
}

// countingStore counts the hits that reach it.
type countingStore struct {
	ratelimit.Store
	hits atomic.Int64
}

func (c *countingStore) Hit(ctx context.Context, key string, rule ratelimit.Rule, now time.Time) (bool, time.Duration, error) {
	c.hits.Add(1)
	return c.Store.Hit(ctx, key, rule, now)
}

// A split store behaves as one store whichever side a rule goes to, and
// sends exactly the rules with Max <= sharedMax to the shared side.
func TestSplitStore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sharedMax int
	}{{"all shared", 1 << 30}, {"all local", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var sharedHits int64
			ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
				shared := &countingStore{Store: ratelimit.NewMemoryStore()}
				t.Cleanup(func() { sharedHits += shared.hits.Load() })
				return ratelimit.NewSplitStore(shared, tc.sharedMax)
			})
			if got := sharedHits; (got > 0) != (tc.sharedMax > 0) {
				t.Fatalf("shared store saw %d hits with sharedMax %d", got, tc.sharedMax)
			}
		})
	}
	t.Run("routing by Max", func(t *testing.T) {
		shared := &countingStore{Store: ratelimit.NewMemoryStore()}
		s := ratelimit.NewSplitStore(shared, 10)
		if s.Shared() != ratelimit.Store(shared) {
			t.Errorf("Shared() = %v, want the shared store", s.Shared())
		}
		ctx := context.Background()
		for _, tc := range []struct {
			max        int
			wantShared int64
		}{{3, 1}, {10, 1}, {11, 0}, {1000, 0}} {
			before := shared.hits.Load()
			if ok, _, err := s.Hit(ctx, "k", ratelimit.Rule{Window: time.Second, Max: tc.max}, ratelimittest.T0); err != nil || !ok {
				t.Fatalf("Max %d: %v %v", tc.max, ok, err)
			}
			if got := shared.hits.Load() - before; got != tc.wantShared {
				t.Errorf("Max %d: %d shared hits, want %d", tc.max, got, tc.wantShared)
			}
		}
	})
}
