package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/managarten/mana-auth/ratelimit"
)

// DefaultPrefix is the key prefix when Options.Prefix is empty.
const DefaultPrefix = "mana-auth:rl:"

// Options configures New and Open.
type Options struct {
	// Prefix is put before every key. Default DefaultPrefix.
	Prefix string
}

// Store is the Redis [ratelimit.Store]. It is safe for concurrent use.
type Store struct {
	c      goredis.Scripter
	prefix string
	close  func() error
}

var _ ratelimit.Store = (*Store)(nil)

// hitScript is Better Auth's algorithm on the hash KEYS[1] = {count, last}.
// ARGV: now (Unix ms), window (ms), max. It returns {allowed (0|1),
// retryAfter (ms)}.
var hitScript = goredis.NewScript(`
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local ttl = win
if ttl < 1 then ttl = 1 end
local v = redis.call('HMGET', KEYS[1], 'count', 'last')
local count = tonumber(v[1])
local last = tonumber(v[2])
if count == nil or last == nil or now - last >= win then
	redis.call('HSET', KEYS[1], 'count', 1, 'last', ARGV[1])
	redis.call('PEXPIRE', KEYS[1], ttl)
	return {1, 0}
end
if count >= max then
	return {0, last + win - now}
end
redis.call('HSET', KEYS[1], 'count', count + 1, 'last', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, 0}
`)

// New returns a store over a client the caller owns (Close leaves it
// open).
func New(c goredis.Scripter, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Store{c: c, prefix: opts.Prefix, close: func() error { return nil }}
}

// Open connects to the Redis server of url (redis://[user:pass@]host:port/db
// or rediss:// for TLS, as go-redis's ParseURL reads it), checks that it
// answers, and returns a store whose Close closes the client.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	c := goredis.NewClient(o)
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis: connect: %w", err)
	}
	s := New(c, opts)
	s.close = c.Close
	return s, nil
}

// Hit implements [ratelimit.Store].
func (s *Store) Hit(ctx context.Context, key string, rule ratelimit.Rule, now time.Time) (bool, time.Duration, error) {
	res, err := hitScript.Run(ctx, s.c, []string{s.prefix + key},
		now.UnixMilli(), rule.Window.Milliseconds(), rule.Max).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("redis: rate limit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, errors.New("redis: rate limit: unexpected script result")
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	retry := time.Duration(res[1]) * time.Millisecond
	retry = min(max(retry, 0), rule.Window)
	return false, retry, nil
}

// Close closes the client if Open created it.
func (s *Store) Close() error { return s.close() }
