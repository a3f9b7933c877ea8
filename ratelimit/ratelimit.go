package ratelimit

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// Rule is a window and the number of requests allowed in it. A rule with
// Max or Window zero (or negative) does not limit.
type Rule struct {
	Window time.Duration
	Max    int
}

// limits reports whether the rule limits anything.
func (r Rule) limits() bool { return r.Max > 0 && r.Window > 0 }

// Store keeps rate-limit counters. [NewMemoryStore] is in one process; a
// shared store (PostgreSQL, Redis) makes a limit hold across instances.
// Implementations must be safe for concurrent use; ratelimittest.Run
// checks one.
type Store interface {
	// Hit records a request for key under rule at now. It reports whether
	// the request is allowed and, if not, how long until one would be.
	// Better Auth's algorithm: when the window since the last allowed
	// request has passed the count restarts at 1; else at Max the request is
	// refused; else the count grows and the window restarts.
	Hit(ctx context.Context, key string, rule Rule, now time.Time) (allowed bool, retryAfter time.Duration, err error)
}

// DefaultRules returns, in a new map, the rules package auth applies to
// its routes unless configured otherwise: Better Auth's (3 per 10 s on
// sign-in, sign-up, change-password and change-email, 3 per minute on the
// routes that send mail) and 3 per 10 s on the other routes that check a
// password. Paths are relative to auth's BasePath.
func DefaultRules() map[string]Rule {
	short := Rule{Window: 10 * time.Second, Max: 3}
	long := Rule{Window: 60 * time.Second, Max: 3}
	return map[string]Rule{
		"/sign-in*": short, "/sign-up*": short, "/change-password*": short, "/change-email*": short,
		// Ours: every other route that checks a password.
		"/verify-password": short, "/delete-user": short,
		"/request-password-reset": long, "/send-verification-email": long, "/forget-password*": long,
		"/email-otp/send-verification-otp": long, "/email-otp/request-password-reset": long,
	}
}

// Config configures a [Limiter].
type Config struct {
	// Default is the rule of the paths no entry of Rules matches. The
	// zero Rule limits nothing.
	Default Rule
	// Rules are the rules per path. A path ending in "*" matches every
	// path with that prefix; an exact path wins over a prefix, and a
	// longer prefix over a shorter one. A rule that does not limit (Max 0)
	// turns limiting off for its paths.
	Rules map[string]Rule
	// Store keeps the counters. Default [NewMemoryStore]().
	Store Store
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Limiter applies rules per path to requests of clients. It is safe for
// concurrent use.
type Limiter struct {
	def      Rule
	exact    map[string]Rule
	prefixes []prefixRule // longest first
	store    Store
	now      func() time.Time
}

type prefixRule struct {
	prefix string
	rule   Rule
}

// sharedTimeout bounds a Hit on a store other than a [MemoryStore]: a
// shared store that does not answer must not hold the request.
const sharedTimeout = time.Second

// New returns a Limiter for cfg. It keeps its own copy of cfg.Rules.
func New(cfg Config) *Limiter {
	l := &Limiter{def: cfg.Default, exact: map[string]Rule{}, store: cfg.Store, now: cfg.Now}
	for p, r := range cfg.Rules {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			l.prefixes = append(l.prefixes, prefixRule{prefix, r})
		} else {
			l.exact[p] = r
		}
	}
	slices.SortFunc(l.prefixes, func(a, b prefixRule) int {
		return cmp.Or(cmp.Compare(len(b.prefix), len(a.prefix)), strings.Compare(a.prefix, b.prefix))
	})
	if l.store == nil {
		l.store = NewMemoryStore()
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// rule returns the rule of path.
func (l *Limiter) rule(path string) Rule {
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

// Check counts a request of the client key (an IP address, say) on path
// under the rule of path, in the store under key + "|" + path. It reports
// whether the request is allowed and, if not, how long until one would
// be.
//
// A store error is returned with allowed true: the limiter fails open,
// which keeps sign-in available when a shared store is down; the caller
// should log the error. A Hit on a store other than a [MemoryStore] (a
// [SplitStore] counts by the side the rule goes to) that has not answered
// within a second is abandoned the same way.
func (l *Limiter) Check(ctx context.Context, key, path string) (allowed bool, retryAfter time.Duration, err error) {
	rule := l.rule(path)
	if !rule.limits() {
		return true, 0, nil
	}
	store := l.store
	if s, ok := store.(*SplitStore); ok {
		store = s.pick(rule)
	}
	if _, local := store.(*MemoryStore); !local {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, sharedTimeout)
		defer cancel()
	}
	ok, wait, err := store.Hit(ctx, key+"|"+path, rule, l.now())
	if err != nil {
		return true, 0, err
	}
	if ok {
		return true, 0, nil
	}
	return false, wait, nil
}
