package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/managarten/mana-auth/ratelimit"
	ratelimitpg "github.com/managarten/mana-auth/ratelimit/postgres"
	"github.com/managarten/mana-auth/ratelimit/redis"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
)

// sharedRuleMax splits the rules between the shared store and the
// process: rules allowing at most this many requests per window (sign-in,
// sign-up, password reset, v1 login and register: 3 to 10) are counted in
// the shared store and hold exactly across instances; the generous ones
// (the default 100 per 10 s, validate's 1000 per 10 s) are counted per
// instance, so a hot read path costs no database round trip. With N
// instances a generous rule admits up to N × its Max.
const sharedRuleMax = 20

// rateLimitRetention is how long idle counters stay in the PostgreSQL
// table: longer than any rule's window (the longest is 60 s).
const rateLimitRetention = 10 * time.Minute

// rateLimitStore picks where the rate-limit counters live, so that a limit
// holds across instances: Redis when REDIS_URL is set, else the PostgreSQL
// database (table "rateLimit", created UNLOGGED with the migrations or on
// first use, written with asynchronous commits on a small pool of its
// own), else (SQLite, memory: one instance) the process's memory. Shared
// stores take the strict rules only (see sharedRuleMax). The returned func
// releases the store.
func rateLimitStore(ctx context.Context, cfg Config, db storage.Adapter, log *slog.Logger) (ratelimit.Store, func(), error) {
	if cfg.RedisURL != "" {
		st, err := redis.Open(ctx, cfg.RedisURL, redis.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		log.Info("rate limits are kept in Redis")
		return ratelimit.NewSplitStore(st, sharedRuleMax), func() { st.Close() }, nil
	}
	if pg, ok := db.(*postgres.Adapter); ok {
		// Retention: the store otherwise keeps idle rows only for the
		// longest window it has seen itself, so a fresh instance that had
		// seen only 10 s rules would delete another instance's counters
		// of a 60 s rule early, restarting that limit.
		st := ratelimitpg.New(pg, ratelimitpg.Options{Retention: rateLimitRetention})
		if cfg.AutoMigrate {
			if err := st.Migrate(ctx); err != nil {
				st.Close()
				return nil, nil, fmt.Errorf("rate-limit table: %w", err)
			}
		}
		return ratelimit.NewSplitStore(st, sharedRuleMax), func() { st.Close() }, nil
	}
	return ratelimit.NewMemoryStore(), func() {}, nil
}
