package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/ratelimit/redis"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/postgres"
)

// rateLimitStore picks where the rate-limit counters live, so that a limit
// holds across instances: Redis when REDIS_URL is set, else the PostgreSQL
// database (table "rateLimit", created with the migrations or on first
// use), else (SQLite, memory: one instance) the process's memory. The
// returned func releases the store.
func rateLimitStore(ctx context.Context, cfg Config, db storage.Adapter, log *slog.Logger) (auth.RateLimitStore, func(), error) {
	if cfg.RedisURL != "" {
		st, err := redis.Open(ctx, cfg.RedisURL, redis.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		log.Info("rate limits are kept in Redis")
		return st, func() { st.Close() }, nil
	}
	if pg, ok := db.(*postgres.Adapter); ok {
		st := postgres.NewRateLimitStore(pg)
		if cfg.AutoMigrate {
			if err := st.Migrate(ctx); err != nil {
				return nil, nil, fmt.Errorf("rate-limit table: %w", err)
			}
		}
		return st, func() { st.Close() }, nil
	}
	return auth.NewMemoryRateLimitStore(), func() {}, nil
}
