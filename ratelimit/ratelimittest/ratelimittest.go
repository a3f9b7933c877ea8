// Package ratelimittest is the conformance test of [ratelimit.Store]
// implementations: every store (the in-memory one, PostgreSQL, Redis)
// must apply Better Auth's algorithm exactly, as Run checks.
package ratelimittest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/ratelimit"
)

// T0 is the start of the clock the cases use.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type step struct {
	at      time.Duration // since T0
	key     string        // default "k"
	allowed bool
	retry   time.Duration // when refused
}

// Cases are the sequential cases, with the rule 3 per 10 s unless noted.
var cases = []struct {
	name  string
	rule  ratelimit.Rule
	steps []step
}{
	{"first hit allowed", ratelimit.Rule{Window: 10 * time.Second, Max: 3}, []step{{at: 0, allowed: true}}},
	{"up to Max allowed, Max+1 refused", ratelimit.Rule{Window: 10 * time.Second, Max: 3}, []step{
		{at: 0, allowed: true},
		{at: time.Second, allowed: true},
		{at: 2 * time.Second, allowed: true},
		// Better Auth: the window runs from the last allowed request.
		{at: 3 * time.Second, retry: 9 * time.Second},
		{at: 3*time.Second + 250*time.Millisecond, retry: 8750 * time.Millisecond},
	}},
	{"refused hits do not extend the window", ratelimit.Rule{Window: 10 * time.Second, Max: 2}, []step{
		{at: 0, allowed: true},
		{at: 0, allowed: true},
		{at: 5 * time.Second, retry: 5 * time.Second},
		{at: 9 * time.Second, retry: time.Second},
		{at: 9999 * time.Millisecond, retry: time.Millisecond},
		{at: 10 * time.Second, allowed: true}, // window passed since the last allowed: restart at 1
		{at: 10 * time.Second, allowed: true}, // 2
		{at: 10 * time.Second, retry: 10 * time.Second},
	}},
	{"window passes: restart at 1", ratelimit.Rule{Window: 10 * time.Second, Max: 3}, []step{
		{at: 0, allowed: true},
		{at: time.Second, allowed: true},
		{at: 30 * time.Second, allowed: true}, // restart: count 1
		{at: 31 * time.Second, allowed: true}, // 2
		{at: 32 * time.Second, allowed: true}, // 3
		{at: 33 * time.Second, retry: 9 * time.Second},
	}},
	{"allowed hits slide the window", ratelimit.Rule{Window: 10 * time.Second, Max: 3}, []step{
		{at: 0, allowed: true},
		{at: 9 * time.Second, allowed: true},
		{at: 18 * time.Second, allowed: true}, // 9 s after the last allowed: still counting
		{at: 19 * time.Second, retry: 9 * time.Second},
	}},
	{"keys are independent", ratelimit.Rule{Window: time.Minute, Max: 1}, []step{
		{at: 0, key: "a", allowed: true},
		{at: 0, key: "a", retry: time.Minute},
		{at: 0, key: "b", allowed: true},
		{at: time.Second, key: "b", retry: 59 * time.Second},
		{at: time.Second, key: "1.2.3.4|/sign-in/email", allowed: true},
		{at: time.Second, key: "a", retry: 59 * time.Second},
	}},
	// Keys hold the request path, which the client chooses: strings no
	// database stores (NUL, invalid UTF-8) count like any other key, each
	// on its own, and never fail the store (which would let the request
	// through unlimited).
	{"keys no database stores", ratelimit.Rule{Window: time.Minute, Max: 1}, []step{
		{at: 0, key: "1.2.3.4|/sign-in/email\x00", allowed: true},
		{at: 0, key: "1.2.3.4|/sign-in/email\x00", retry: time.Minute},
		{at: 0, key: "1.2.3.4|/sign-in/\xff", allowed: true},
		{at: time.Second, key: "1.2.3.4|/sign-in/\xff", retry: 59 * time.Second},
		{at: time.Second, key: "1.2.3.4|/sign-in/\xc3(", allowed: true},
		{at: time.Second, key: "1.2.3.4|/sign-in/email", allowed: true},
		{at: time.Second, key: "1.2.3.4|/sign-in/email\x00", retry: 59 * time.Second},
	}},
}

// Run checks the store newStore returns (a fresh, empty one per call)
// against Better Auth's algorithm: the sequential cases, then Concurrent
// goroutines hitting one key at once admitting exactly Max.
func Run(t *testing.T, newStore func(t *testing.T) ratelimit.Store) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			for i, st := range tc.steps {
				key := st.key
				if key == "" {
					key = "k"
				}
				ok, retry, err := s.Hit(ctx, key, tc.rule, T0.Add(st.at))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if ok != st.allowed {
					t.Fatalf("step %d (at %v, key %q): allowed = %v, want %v", i, st.at, key, ok, st.allowed)
				}
				if ok && retry != 0 {
					t.Errorf("step %d: allowed with retryAfter %v", i, retry)
				}
				if !ok && (retry < st.retry-time.Millisecond || retry > st.retry+time.Millisecond) {
					t.Errorf("step %d (at %v): retryAfter = %v, want %v", i, st.at, retry, st.retry)
				}
			}
		})
	}
	t.Run("concurrent hits admit exactly Max", func(t *testing.T) {
		s := newStore(t)
		rule := ratelimit.Rule{Window: time.Minute, Max: 5}
		for round, at := range []time.Duration{0, 2 * time.Minute} { // fresh key, then a restart
			var allowed, refused atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range Concurrent {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					// Distinct clocks within the window, as on several instances.
					ok, _, err := s.Hit(ctx, "hot", rule, T0.Add(at+time.Duration(i)*time.Millisecond))
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						allowed.Add(1)
					} else {
						refused.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if allowed.Load() != int32(rule.Max) || refused.Load() != Concurrent-int32(rule.Max) {
				t.Fatalf("round %d: %d allowed, %d refused; want exactly %d allowed", round, allowed.Load(), refused.Load(), rule.Max)
			}
		}
	})
}

// Concurrent is the number of goroutines of the concurrency case.
const Concurrent = 32
