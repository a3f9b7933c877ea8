package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
)

// admitted returns how many of n requests of one client on path l lets
// through, all at one instant.
func admitted(t *testing.T, l *ratelimit.Limiter, key, path string, n int) int {
	t.Helper()
	got := 0
	for range n {
		allowed, retry, err := l.Check(context.Background(), key, path)
		if err != nil {
			t.Fatalf("Check(%q): %v", path, err)
		}
		if allowed {
			got++
		} else if retry <= 0 {
			t.Errorf("Check(%q): refused with retryAfter %v", path, retry)
		}
	}
	return got
}

// Rules match the exact path first, then the longest prefix, then the
// default; a rule that does not limit turns limiting off for its paths.
func TestLimiterRules(t *testing.T) {
	t.Parallel()
	rules := map[string]ratelimit.Rule{
		"/sign-in/email":  {Window: time.Minute, Max: 1},
		"/sign-in*":       {Window: time.Minute, Max: 2},
		"/sign*":          {Window: time.Minute, Max: 3},
		"/sign-in/social": {}, // exact, not limited, under a limited prefix
		"/open*":          {Window: time.Minute},
		"/closed/*":       {Window: time.Minute, Max: 5},
	}
	for _, tc := range []struct {
		name, path string
		def        ratelimit.Rule
		want       int // of 20 requests
	}{
		{"exact", "/sign-in/email", ratelimit.Rule{}, 1},
		{"exact is not a prefix", "/sign-in/email/x", ratelimit.Rule{}, 2},
		{"longest prefix", "/sign-in/passkey", ratelimit.Rule{}, 2},
		{"prefix itself", "/sign-in", ratelimit.Rule{}, 2},
		{"shorter prefix", "/sign-up/email", ratelimit.Rule{}, 3},
		{"exact rule without limit", "/sign-in/social", ratelimit.Rule{Window: time.Minute, Max: 4}, 20},
		{"prefix rule without limit", "/open/anything", ratelimit.Rule{Window: time.Minute, Max: 4}, 20},
		{"prefix with a slash", "/closed/x", ratelimit.Rule{}, 5},
		{"prefix with a slash, not below it", "/closed", ratelimit.Rule{Window: time.Minute, Max: 4}, 4},
		{"default", "/get-session", ratelimit.Rule{Window: time.Minute, Max: 4}, 4},
		{"zero default", "/get-session", ratelimit.Rule{}, 20},
		{"default without a window", "/get-session", ratelimit.Rule{Max: 4}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := ratelimit.New(ratelimit.Config{Default: tc.def, Rules: rules})
			if got := admitted(t, l, "203.0.113.7", tc.path, 20); got != tc.want {
				t.Errorf("%s: %d of 20 admitted, want %d", tc.path, got, tc.want)
			}
		})
	}
}

// New keeps its own copy of the rules.
func TestLimiterCopiesRules(t *testing.T) {
	t.Parallel()
	rules := map[string]ratelimit.Rule{"/a": {Window: time.Minute, Max: 1}}
	l := ratelimit.New(ratelimit.Config{Rules: rules})
	rules["/a"] = ratelimit.Rule{}
	rules["/b"] = ratelimit.Rule{Window: time.Minute, Max: 1}
	if got := admitted(t, l, "k", "/a", 3); got != 1 {
		t.Errorf("/a: %d admitted, want 1", got)
	}
	if got := admitted(t, l, "k", "/b", 3); got != 3 {
		t.Errorf("/b: %d admitted, want 3 (no rule)", got)
	}
}

// DefaultRules returns a new map each time.
func TestDefaultRules(t *testing.T) {
	t.Parallel()
	r := ratelimit.DefaultRules()
	want := ratelimit.Rule{Window: 10 * time.Second, Max: 3}
	if r["/sign-in*"] != want {
		t.Fatalf(`DefaultRules()["/sign-in*"] = %v, want %v`, r["/sign-in*"], want)
	}
	delete(r, "/sign-in*")
	if ratelimit.DefaultRules()["/sign-in*"] != want {
		t.Error("a change to the returned map changed the defaults")
	}
}

// recordingStore records the keys it sees and whether their context had
// a deadline, and answers with err, or waits for the context to end when
// block is set.
type recordingStore struct {
	mu        sync.Mutex
	keys      []string
	deadlines []bool
	err       error
	block     bool
}

func (s *recordingStore) Hit(ctx context.Context, key string, _ ratelimit.Rule, _ time.Time) (bool, time.Duration, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	_, ok := ctx.Deadline()
	s.deadlines = append(s.deadlines, ok)
	s.mu.Unlock()
	if s.block {
		<-ctx.Done()
		return false, 0, ctx.Err()
	}
	return s.err == nil, time.Second, s.err
}

// The store counts under "<key>|<path>" with the limiter's clock; a rule
// that does not limit never reaches the store.
func TestLimiterStoreKeys(t *testing.T) {
	t.Parallel()
	st := &recordingStore{}
	l := ratelimit.New(ratelimit.Config{
		Default: ratelimit.Rule{Window: time.Minute, Max: 10},
		Rules:   map[string]ratelimit.Rule{"/free": {}},
		Store:   st,
	})
	for _, c := range [][2]string{{"192.0.2.9", "/ok"}, {"", "/ok"}, {"2001:db8::", "/sign-in/email"}, {"192.0.2.9", "/free"}} {
		if allowed, _, err := l.Check(context.Background(), c[0], c[1]); !allowed || err != nil {
			t.Fatalf("Check(%q, %q) = %v, %v", c[0], c[1], allowed, err)
		}
	}
	if d := cmp.Diff([]string{"192.0.2.9|/ok", "|/ok", "2001:db8::|/sign-in/email"}, st.keys); d != "" {
		t.Errorf("store keys (-want +got):\n%s", d)
	}
}

// The store's refusal and retry time come through; the memory store runs
// on the limiter's clock.
func TestLimiterRefusal(t *testing.T) {
	t.Parallel()
	now := ratelimittest.T0
	l := ratelimit.New(ratelimit.Config{
		Default: ratelimit.Rule{Window: 10 * time.Second, Max: 1},
		Now:     func() time.Time { return now },
	})
	type result struct {
		Allowed bool
		Retry   time.Duration
	}
	var got []result
	for _, step := range []time.Duration{0, 2500 * time.Millisecond, 7500 * time.Millisecond} {
		now = now.Add(step)
		allowed, retry, err := l.Check(context.Background(), "k", "/p")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, result{allowed, retry})
	}
	want := []result{{true, 0}, {false, 7500 * time.Millisecond}, {true, 0}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// A failing store lets the request through and reports its error.
func TestLimiterFailsOpen(t *testing.T) {
	t.Parallel()
	down := errors.New("store down")
	l := ratelimit.New(ratelimit.Config{Default: ratelimit.Rule{Window: time.Minute, Max: 1}, Store: &recordingStore{err: down}})
	for range 3 {
		allowed, retry, err := l.Check(context.Background(), "k", "/p")
		if !allowed || retry != 0 || !errors.Is(err, down) {
			t.Fatalf("Check with a failing store = %v, %v, %v; want true, 0, %v", allowed, retry, err, down)
		}
	}
}

// A shared store gets a second to answer, then the request goes on; the
// in-memory side of a split store gets no deadline (none is needed).
func TestLimiterSharedStoreTimeout(t *testing.T) {
	t.Parallel()
	st := &recordingStore{block: true}
	l := ratelimit.New(ratelimit.Config{
		Default: ratelimit.Rule{Window: time.Minute, Max: 1000},
		Rules:   map[string]ratelimit.Rule{"/strict": {Window: time.Minute, Max: 3}},
		Store:   ratelimit.NewSplitStore(st, 10),
	})
	start := time.Now()
	allowed, _, err := l.Check(context.Background(), "k", "/strict")
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("Check on a shared store that does not answer took %v, want about 1s", elapsed)
	}
	if !allowed || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Check on a shared store that does not answer = %v, %v; want true, a deadline error", allowed, err)
	}
	if d := cmp.Diff([]bool{true}, st.deadlines); d != "" {
		t.Errorf("deadlines the shared store saw (-want +got):\n%s", d)
	}
	// The generous default goes to the process's memory: no wait.
	if allowed, _, err := l.Check(context.Background(), "k", "/other"); !allowed || err != nil {
		t.Errorf("Check on the local side = %v, %v", allowed, err)
	}
	if len(st.keys) != 1 {
		t.Errorf("the shared store saw %q, want only the strict rule's key", st.keys)
	}
}
