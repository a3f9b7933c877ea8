package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/plugin"
)

// slowHasher is a hasher that takes per of the fake clock for every hash
// (so the gate measures per), and, once armed, holds each call until a
// token arrives on release (or release is closed). It records the order
// in which calls reach it.
type slowHasher struct {
	clock   *testkit.Clock
	per     time.Duration
	armed   atomic.Bool
	entered chan string
	release chan struct{}

	mu    sync.Mutex
	order []string
}

func newSlowHasher(clock *testkit.Clock, per time.Duration) *slowHasher {
	return &slowHasher{clock: clock, per: per, entered: make(chan string, 1000), release: make(chan struct{})}
}

func (s *slowHasher) work(p string) {
	if s.armed.Load() {
		s.mu.Lock()
		s.order = append(s.order, p)
		s.mu.Unlock()
		s.entered <- p
		<-s.release
	}
	s.clock.Advance(s.per)
}

func (s *slowHasher) Hash(p string) (string, error) { s.work(p); return testkit.FastHasher{}.Hash(p) }
func (s *slowHasher) Verify(h, p string) (bool, error) {
	s.work(p)
	return testkit.FastHasher{}.Verify(h, p)
}

func (s *slowHasher) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order)
}

func gateClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
}

// TestHashQueueFIFO: callers that find the slot taken are served in the
// order they arrived; one that gives up (its context ends) leaves the
// queue without disturbing the order of the others.
func TestHashQueueFIFO(t *testing.T) {
	t.Parallel()
	clock := gateClock()
	sh := newSlowHasher(clock, 0)
	a := newAuth(t, func(c *auth.Config) {
		c.Hasher, c.Now, c.HashConcurrency, c.HashMaxWait = sh, clock.Now, 1, time.Hour
	})
	sh.armed.Store(true)
	ctx := context.Background()
	errs := make(chan error, 20)
	hash := func(ctx context.Context, p string) {
		go func() { _, err := a.Host().HashPassword(ctx, p); errs <- err }()
	}
	hash(ctx, "holder")
	if p := <-sh.entered; p != "holder" {
		t.Fatalf("first hash %q", p)
	}
	var want []string
	cctx, cancel := context.WithCancel(ctx)
	for i := range 10 {
		p := fmt.Sprint("waiter-", i)
		if i == 4 {
			p = "cancelled"
			hash(cctx, p)
		} else {
			hash(ctx, p)
			want = append(want, p)
		}
		waitUntil(t, p+" in the queue", func() bool { return a.Stats().HashWaiting == i+1 })
	}
	cancel()
	waitUntil(t, "the cancelled caller to leave", func() bool { return a.Stats().HashWaiting == 9 })
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	for range 10 { // the holder and nine waiters, one at a time
		sh.release <- struct{}{}
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Errorf("caller: %v", err)
		}
	}
	if got := sh.calls(); !slices.Equal(got[1:], want) {
		t.Errorf("hash order %v, want holder then %v", got, want)
	}
	if s := a.Stats(); s.HashRefused != 0 || s.HashRunning != 0 || s.HashWaiting != 0 {
		t.Errorf("stats after: %+v", s)
	}
}

// TestHashQueueManyCallers: 64 simultaneous callers on two slots and a
// slow hasher all succeed when their expected wait is within
// HashMaxWait; with a tight bound, those whose wait would pass it are
// refused at once (503 SERVICE_BUSY with Retry-After) without hashing,
// and only as many are queued as the bound allows.
func TestHashQueueManyCallers(t *testing.T) {
	t.Parallel()
	const n, per = 64, 100 * time.Millisecond
	for _, tc := range []struct {
		name    string
		maxWait time.Duration
		ok      int // 2 running + the admitted waiters
	}{
		{"generous bound", time.Hour, n},
		// The k-th waiter expects k × 100 ms / 2: k ≤ 5 fit in 250 ms.
		{"tight bound", 250 * time.Millisecond, 2 + 5},
		// Nobody may wait at all: only the two slots.
		{"tiny bound", time.Millisecond, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := gateClock()
			sh := newSlowHasher(clock, per)
			a, srv := newTestServer(t, func(c *auth.Config) {
				c.Hasher, c.Now, c.HashConcurrency, c.HashMaxWait = sh, clock.Now, 2, tc.maxWait
			})
			if got := a.Stats().HashTime; got != 0 {
				t.Fatalf("hash time %v before any hash, want 0", got)
			}
			if _, err := a.Host().HashPassword(context.Background(), "warm-up"); err != nil {
				t.Fatal(err)
			}
			if got := a.Stats().HashTime; got != per {
				t.Fatalf("measured hash time %v, want %v", got, per)
			}
			sh.armed.Store(true)
			var ok, busy atomic.Int64
			var retry sync.Map
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := a.Host().HashPassword(context.Background(), fmt.Sprint(i))
					var e *plugin.Error
					switch {
					case err == nil:
						ok.Add(1)
					case errors.Is(err, auth.ErrBusy) && errors.As(err, &e):
						busy.Add(1)
						retry.Store(e.RetryAfter, true)
					default:
						t.Errorf("caller %d: %v", i, err)
					}
				}()
			}
			close(start)
			waitUntil(t, "every caller running, queued or refused", func() bool {
				s := a.Stats()
				return s.HashRunning == 2 && s.HashRunning+s.HashWaiting+int(busy.Load()) == n
			})
			if got := int(busy.Load()); got != n-tc.ok {
				t.Errorf("%d refused, want %d", got, n-tc.ok)
			}
			if s := a.Stats(); s.HashRefused != uint64(n-tc.ok) || s.HashWaiting != tc.ok-2 {
				t.Errorf("stats %+v, want %d refused, %d waiting", s, n-tc.ok, tc.ok-2)
			}
			retry.Range(func(k, _ any) bool {
				if d := k.(time.Duration); d < time.Second {
					t.Errorf("Retry-After %v, want at least 1s", d)
				}
				return true
			})
			if tc.ok < n {
				// Over HTTP, a refusal is 503 SERVICE_BUSY with Retry-After.
				c := newClient(t, a, srv)
				r := c.post("/sign-in/email", map[string]any{"email": "nobody@example.com", "password": "whatever1"})
				wantError(t, r, http.StatusServiceUnavailable, "SERVICE_BUSY")
				if got := r.Header.Get("Retry-After"); got != "1" {
					t.Errorf("Retry-After %q, want 1", got)
				}
			}
			close(sh.release)
			wg.Wait()
			if int(ok.Load()) != tc.ok || len(sh.calls()) != tc.ok {
				t.Errorf("%d succeeded, hasher ran %d times; want %d (refused callers must not hash)", ok.Load(), len(sh.calls()), tc.ok)
			}
		})
	}
}

// TestHashQueueEstimateFollowsAStuckHash: a hash that has run longer than
// the measured average counts as that long: a stuck hasher fills no queue.
func TestHashQueueEstimateFollowsAStuckHash(t *testing.T) {
	t.Parallel()
	clock := gateClock()
	sh := newSlowHasher(clock, 10*time.Millisecond)
	a := newAuth(t, func(c *auth.Config) {
		c.Hasher, c.Now, c.HashConcurrency, c.HashMaxWait = sh, clock.Now, 1, time.Second
	})
	if _, err := a.Host().HashPassword(context.Background(), "warm-up"); err != nil {
		t.Fatal(err)
	}
	sh.armed.Store(true)
	done := make(chan error, 2)
	go func() { _, err := a.Host().HashPassword(context.Background(), "stuck"); done <- err }()
	<-sh.entered
	// 10 ms per hash: a waiter is admitted…
	go func() { _, err := a.Host().HashPassword(context.Background(), "admitted"); done <- err }()
	waitUntil(t, "the waiter", func() bool { return a.Stats().HashWaiting == 1 })
	// …but once the running hash has taken 3 s, a newcomer expects 2 × 3 s.
	clock.Advance(3 * time.Second)
	_, err := a.Host().HashPassword(context.Background(), "late")
	var e *plugin.Error
	if !errors.As(err, &e) || !errors.Is(err, auth.ErrBusy) || e.RetryAfter != 5*time.Second {
		t.Fatalf("behind a stuck hash: %v (Retry-After %v), want ErrBusy with Retry-After 5s", err, e)
	}
	close(sh.release)
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
