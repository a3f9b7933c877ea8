// Package redis is a [ratelimit.Store] on Redis (through
// github.com/redis/go-redis/v9), for deployments that run several
// instances and want a rate limit to hold across them without using the
// SQL database for it.
//
// Usage:
//
//	store, err := redis.Open(ctx, os.Getenv("REDIS_URL"), redis.Options{})
//	if err != nil {
//		return err
//	}
//	defer store.Close()
//	cfg.RateLimit.Store = store // auth.Config
//
// or, over a client the caller owns (a *goredis.Client, ClusterClient or
// Ring):
//
//	store := redis.New(client, redis.Options{Prefix: "myapp:rl:"})
//
// # Algorithm
//
// Each Hit runs one Lua script, atomically on the Redis server, that
// applies Better Auth's algorithm to a hash {count, last} under
// Prefix+key: when the window since the last allowed request has passed
// (or there is no hash) the count restarts at 1; else at Max the request
// is refused (nothing is written, so refused requests do not extend the
// window) with the time left until the window ends; else the count grows
// and last becomes now. Every write sets the key's TTL to the window, so
// idle counters disappear by themselves.
//
// The time is the caller's clock (the now passed to Hit); the TTL runs on
// the Redis server's clock. The instances' clocks should agree to well
// within a window.
package redis
