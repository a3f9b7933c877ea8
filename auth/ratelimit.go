package auth

import (
	"context"
	"math"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
)

// newLimiter returns the rate limiter of cfg, or nil when it is disabled:
// Better Auth's rules (ratelimit.DefaultRules), overridden by the
// plugins', overridden by cfg.Rules.
func newLimiter(cfg RateLimitConfig, plugins []Plugin, now func() time.Time) *ratelimit.Limiter {
	if cfg.Disabled {
		return nil
	}
	rules := ratelimit.DefaultRules()
	for _, p := range plugins {
		if rs, ok := p.(plugin.RateLimitSource); ok {
			for k, v := range rs.RateLimits() {
				rules[k] = v
			}
		}
	}
	for k, v := range cfg.Rules {
		rules[k] = v
	}
	return ratelimit.New(ratelimit.Config{
		Default: ratelimit.Rule{Window: cfg.Window, Max: cfg.Max},
		Rules:   rules,
		Store:   cfg.Store,
		Now:     now,
	})
}

// rateLimit counts a request of the client ip (empty: not known) on path.
// It reports whether the request is refused and, if so, the seconds to
// wait (rounded up). A failing store lets the request through (failing
// open keeps sign-in available) and is logged.
func (a *Auth) rateLimit(ctx context.Context, ip, path string) (retry int, refused bool) {
	if a.limiter == nil {
		return 0, false
	}
	key := rateKey(ip)
	if ip == "" {
		key = "no-trusted-ip"
	}
	allowed, wait, err := a.limiter.Check(ctx, key, path)
	if err != nil {
		a.log.WarnContext(ctx, "auth: rate limit store failed", "err", err)
	}
	if allowed {
		return 0, false
	}
	return int(math.Ceil(wait.Seconds())), true
}
