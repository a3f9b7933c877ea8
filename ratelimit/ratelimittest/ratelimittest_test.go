package ratelimittest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
)

// The in-memory store is the reference the shared stores are held to.
func TestMemoryRateLimitStore(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) auth.RateLimitStore { return auth.NewMemoryRateLimitStore() })
}

// countingStore counts the hits that reach it.
type countingStore struct {
	auth.RateLimitStore
	hits atomic.Int64
}

func (c *countingStore) Hit(ctx context.Context, key string, rule auth.RateRule, now time.Time) (bool, time.Duration, error) {
	c.hits.Add(1)
	return c.RateLimitStore.Hit(ctx, key, rule, now)
}

// A split store behaves as one store whichever side a rule goes to, and
// sends exactly the rules with Max <= sharedMax to the shared side.
func TestSplitRateLimitStore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sharedMax int
	}{{"all shared", 1 << 30}, {"all local", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			var sharedHits int64
			ratelimittest.Run(t, func(t *testing.T) auth.RateLimitStore {
				shared := &countingStore{RateLimitStore: auth.NewMemoryRateLimitStore()}
				t.Cleanup(func() { sharedHits += shared.hits.Load() })
				return auth.NewSplitRateLimitStore(shared, tc.sharedMax)
			})
			if got := sharedHits; (got > 0) != (tc.sharedMax > 0) {
				t.Fatalf("shared store saw %d hits with sharedMax %d", got, tc.sharedMax)
			}
		})
	}
	t.Run("routing by Max", func(t *testing.T) {
		shared := &countingStore{RateLimitStore: auth.NewMemoryRateLimitStore()}
		s := auth.NewSplitRateLimitStore(shared, 10)
		ctx := context.Background()
		for _, tc := range []struct {
			max        int
			wantShared int64
		}{{3, 1}, {10, 1}, {11, 0}, {1000, 0}} {
			before := shared.hits.Load()
			if ok, _, err := s.Hit(ctx, "k", auth.RateRule{Window: time.Second, Max: tc.max}, ratelimittest.T0); err != nil || !ok {
				t.Fatalf("Max %d: %v %v", tc.max, ok, err)
			}
			if got := shared.hits.Load() - before; got != tc.wantShared {
				t.Errorf("Max %d: %d shared hits, want %d", tc.max, got, tc.wantShared)
			}
		}
	})
}
