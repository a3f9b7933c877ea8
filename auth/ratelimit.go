package auth

import (
	"context"
	"math"
	"sort"
	"strings"
	"sync"
	"time"
)

// RateLimitStore keeps rate-limit counters. The default is in memory (one
// process); a shared store (PostgreSQL, Redis) makes a limit hold across
// instances. Implementations must be safe for concurrent use.
type RateLimitStore interface {
	// Hit records a request for key under rule at now. It reports whether
	// the request is allowed and, if not, how long until one would be.
	// Better Auth's algorithm: when the window since the last allowed
	// request has passed the count restarts at 1; else at Max the request is
	// refused; else the count grows and the window restarts.
	Hit(ctx context.Context, key string, rule RateRule, now time.Time) (allowed bool, retryAfter time.Duration, err error)
}

func defaultRateRules() map[string]RateRule {
	short := RateRule{Window: 10 * time.Second, Max: 3}
	long := RateRule{Window: 60 * time.Second, Max: 3}
	return map[string]RateRule{
		"/sign-in*": short, "/sign-up*": short, "/change-password*": short, "/change-email*": short,
		// Ours: every other route that checks a password.
		"/verify-password": short, "/delete-user": short,
		"/request-password-reset": long, "/send-verification-email": long, "/forget-password*": long,
		"/email-otp/send-verification-otp": long, "/email-otp/request-password-reset": long,
	}
}

type rateLimiter struct {
	disabled bool
	def      RateRule
	exact    map[string]RateRule
	prefixes []prefixRule // longest first
	store    RateLimitStore
	now      func() time.Time
}

type prefixRule struct {
	prefix string
	rule   RateRule
}

func newRateLimiter(cfg RateLimitConfig, rules map[string]RateRule, now func() time.Time) *rateLimiter {
	l := &rateLimiter{disabled: cfg.Disabled, def: RateRule{Window: cfg.Window, Max: cfg.Max}, exact: map[string]RateRule{}, store: cfg.Store, now: now}
	for p, r := range rules {
		if strings.HasSuffix(p, "*") {
			l.prefixes = append(l.prefixes, prefixRule{strings.TrimSuffix(p, "*"), r})
		} else {
			l.exact[p] = r
		}
	}
	sort.Slice(l.prefixes, func(i, j int) bool { return len(l.prefixes[i].prefix) > len(l.prefixes[j].prefix) })
	if l.store == nil {
		l.store = NewMemoryRateLimitStore()
	}
	return l
}

func (l *rateLimiter) rule(path string) RateRule {
	if r, ok := l.exact[path]; ok {
		return r
	}
	for _, p := range l.prefixes {
		if strings.HasPrefix(path, p.prefix) {
			return p.rule
		}
	}
	return l.def
}

// check applies the rule for path to ip. It returns ErrTooManyRequests with
// the seconds to wait, or nil. Store failures let the request through
// (failing open keeps sign-in available) and are logged by the caller.
func (l *rateLimiter) check(ctx context.Context, ip, path string) (retry int, err error) {
	if l.disabled {
		return 0, nil
	}
	rule := l.rule(path)
	if rule.Max <= 0 || rule.Window <= 0 {
		return 0, nil
	}
	if ip == "" {
		ip = "no-trusted-ip"
	}
	store := l.store
	if s, ok := store.(*SplitRateLimitStore); ok {
		store = s.pick(rule)
	}
	if _, local := store.(*MemoryRateLimitStore); !local {
		// A shared store that does not answer must not hold the request:
		// after a second the request goes on (failing open, as for store
		// errors).
		hctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		ctx = hctx
	}
	ok, wait, err := store.Hit(ctx, ip+"|"+path, rule, l.now())
	if err != nil || ok {
		return 0, err
	}
	return int(math.Ceil(wait.Seconds())), ErrTooManyRequests
}

// MemoryRateLimitStore is the in-process RateLimitStore.
type MemoryRateLimitStore struct {
	mu      sync.Mutex
	entries map[string]*rlEntry
	sweepAt time.Time
}

type rlEntry struct {
	count  int
	last   time.Time
	window time.Duration
}

// NewMemoryRateLimitStore returns an empty in-memory store.
func NewMemoryRateLimitStore() *MemoryRateLimitStore {
	return &MemoryRateLimitStore{entries: map[string]*rlEntry{}}
}

// Hit implements RateLimitStore.
func (s *MemoryRateLimitStore) Hit(_ context.Context, key string, rule RateRule, now time.Time) (bool, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.After(s.sweepAt) {
		// Drop entries whose window has passed, at most once a minute, so
		// the map cannot grow without bound under a spray of addresses.
		for k, e := range s.entries {
			if now.Sub(e.last) >= e.window {
				delete(s.entries, k)
			}
		}
		s.sweepAt = now.Add(time.Minute)
	}
	e := s.entries[key]
	switch {
	case e == nil || now.Sub(e.last) >= rule.Window:
		s.entries[key] = &rlEntry{count: 1, last: now, window: rule.Window}
		return true, 0, nil
	case e.count >= rule.Max:
		return false, e.last.Add(rule.Window).Sub(now), nil
	default:
		e.count++
		e.last = now
		e.window = rule.Window
		return true, 0, nil
	}
}

// SplitRateLimitStore counts strict rules in a shared store and generous
// ones in this process. A shared store costs a round trip per request;
// for a rule such as sign-in's 3 per 10 s that is what makes the limit
// hold across instances, but for a generous rule on a hot path (100
// token requests per 10 s) the round trip costs more than the limit
// protects. With N instances behind a load balancer a local rule admits
// up to N × Max per window; the strict rules stay exact.
type SplitRateLimitStore struct {
	shared    RateLimitStore
	local     *MemoryRateLimitStore
	sharedMax int
}

// NewSplitRateLimitStore returns a store that sends the rules allowing at
// most sharedMax requests per window to shared, and the others to an
// in-memory store of this process.
func NewSplitRateLimitStore(shared RateLimitStore, sharedMax int) *SplitRateLimitStore {
	return &SplitRateLimitStore{shared: shared, local: NewMemoryRateLimitStore(), sharedMax: sharedMax}
}

// Shared returns the shared store the strict rules go to.
func (s *SplitRateLimitStore) Shared() RateLimitStore { return s.shared }

func (s *SplitRateLimitStore) pick(rule RateRule) RateLimitStore {
	if rule.Max <= s.sharedMax {
		return s.shared
	}
	return s.local
}

// Hit implements RateLimitStore.
func (s *SplitRateLimitStore) Hit(ctx context.Context, key string, rule RateRule, now time.Time) (bool, time.Duration, error) {
	return s.pick(rule).Hit(ctx, key, rule, now)
}
