package ratelimit

import (
	"context"
	"time"
)

// SplitStore counts strict rules in a shared store and generous ones in
// this process. A shared store costs a round trip per request; for a rule
// such as sign-in's 3 per 10 s that is what makes the limit hold across
// instances, but for a generous rule on a hot path (100 token requests
// per 10 s) the round trip costs more than the limit protects. With N
// instances behind a load balancer a local rule admits up to N × Max per
// window; the strict rules stay exact.
type SplitStore struct {
	shared    Store
	local     *MemoryStore
	sharedMax int
}

// NewSplitStore returns a store that sends the rules allowing at most
// sharedMax requests per window to shared, and the others to an in-memory
// store of this process.
func NewSplitStore(shared Store, sharedMax int) *SplitStore {
	return &SplitStore{shared: shared, local: NewMemoryStore(), sharedMax: sharedMax}
}

// Shared returns the shared store the strict rules go to.
func (s *SplitStore) Shared() Store { return s.shared }

func (s *SplitStore) pick(rule Rule) Store {
	if rule.Max <= s.sharedMax {
		return s.shared
	}
	return s.local
}

// Hit implements [Store].
func (s *SplitStore) Hit(ctx context.Context, key string, rule Rule, now time.Time) (bool, time.Duration, error) {
	return s.pick(rule).Hit(ctx, key, rule, now)
}
