package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/managarten/mana-auth/ratelimit"
)

// A limiter with a strict rule for one path and a generous default, on
// the in-memory store, with a clock that stands still.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	l := ratelimit.New(ratelimit.Config{
		Default: ratelimit.Rule{Window: 10 * time.Second, Max: 100},
		Rules:   map[string]ratelimit.Rule{"/login": {Window: time.Minute, Max: 2}},
		Now:     func() time.Time { return now },
	})
	for range 3 {
		allowed, retryAfter, err := l.Check(ctx, "203.0.113.7", "/login")
		fmt.Println("203.0.113.7 /login:", allowed, retryAfter, err)
	}
	// Another client, or another path, has counters of its own.
	allowed, _, _ := l.Check(ctx, "198.51.100.2", "/login")
	fmt.Println("198.51.100.2 /login:", allowed)
	allowed, _, _ = l.Check(ctx, "203.0.113.7", "/profile")
	fmt.Println("203.0.113.7 /profile:", allowed)
	// Output:
	// 203.0.113.7 /login: true 0s <nil>
	// 203.0.113.7 /login: true 0s <nil>
	// 203.0.113.7 /login: false 1m0s <nil>
	// 198.51.100.2 /login: true
	// 203.0.113.7 /profile: true
}
