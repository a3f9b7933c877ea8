package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/managarten/mana-auth/internal/testredis"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/ratelimit/ratelimittest"
	"github.com/managarten/mana-auth/ratelimit/redis"
)

// prefix returns a random key prefix whose keys are deleted when the test
// ends.
func prefix(t *testing.T, c *goredis.Client) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	p := "mana-auth-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleaning %s*: %v", p, err)
		}
	})
	return p
}

func TestConformance(t *testing.T) {
	c := testredis.Client(t)
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Store {
		return redis.New(c, redis.Options{Prefix: prefix(t, c)})
	})
}

// Keys carry the prefix and a TTL of the window (from the last allowed
// request); refused requests write nothing.
func TestKeysAndTTL(t *testing.T) {
	ctx := context.Background()
	c := testredis.Client(t)
	p := prefix(t, c)
	s := redis.New(c, redis.Options{Prefix: p})
	rule := ratelimit.Rule{Window: 10 * time.Second, Max: 1}
	now := time.Now()
	if ok, _, err := s.Hit(ctx, "1.2.3.4|/sign-in/email", rule, now); !ok || err != nil {
		t.Fatalf("first hit: %v %v", ok, err)
	}
	key := p + "1.2.3.4|/sign-in/email"
	got, err := c.HGetAll(ctx, key).Result()
	if err != nil || got["count"] != "1" || got["last"] != fmt.Sprint(now.UnixMilli()) {
		t.Fatalf("hash = %v, %v", got, err)
	}
	ttl := c.PTTL(ctx, key).Val()
	if ttl <= 9*time.Second || ttl > 10*time.Second {
		t.Fatalf("TTL = %v, want about the 10 s window", ttl)
	}
	c.PExpire(ctx, key, 5*time.Second)
	if ok, retry, err := s.Hit(ctx, "1.2.3.4|/sign-in/email", rule, now.Add(time.Second)); ok || err != nil || retry != 9*time.Second {
		t.Fatalf("refused hit: %v %v %v", ok, retry, err)
	}
	if ttl := c.PTTL(ctx, key).Val(); ttl > 5*time.Second {
		t.Fatalf("a refused hit extended the TTL to %v", ttl)
	}
}

func TestOpen(t *testing.T) {
	c := testredis.Client(t)
	p := prefix(t, c)
	s, err := redis.Open(context.Background(), testredis.URL(), redis.Options{Prefix: p})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := s.Hit(context.Background(), "k", ratelimit.Rule{Window: time.Second, Max: 1}, time.Now()); !ok || err != nil {
		t.Fatalf("hit: %v %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Hit(context.Background(), "k", ratelimit.Rule{Window: time.Second, Max: 1}, time.Now()); err == nil {
		t.Fatal("hit on a closed store succeeded")
	}
	for _, bad := range []string{"http://x", "redis://127.0.0.1:1/0"} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if _, err := redis.Open(ctx, bad, redis.Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
		cancel()
	}
}
