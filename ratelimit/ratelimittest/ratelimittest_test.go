package ratelimittest_test

import (
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
)

// The in-memory store is the reference the shared stores are held to.
func TestMemoryRateLimitStore(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) auth.RateLimitStore { return auth.NewMemoryRateLimitStore() })
}
