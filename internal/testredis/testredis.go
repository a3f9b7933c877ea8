// Package testredis gives tests a client on the Redis server of the test
// environment (TEST_REDIS_URL, default DefaultURL), as internal/testpg does
// for PostgreSQL.
package testredis

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultURL is the server used when TEST_REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns TEST_REDIS_URL, or DefaultURL when it is not set.
func URL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	reachOnce sync.Once
	reachErr  error
)

// Client returns a client on URL, closed when the test ends. It skips the
// test when no Redis answers there, and fails it when CI=true.
func Client(t testing.TB) *goredis.Client {
	t.Helper()
	reachOnce.Do(func() {
		o, err := goredis.ParseURL(URL())
		if err != nil {
			reachErr = err
			return
		}
		c := goredis.NewClient(o)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reachErr = c.Ping(ctx).Err()
	})
	if reachErr != nil {
		msg := fmt.Sprintf("Redis not reachable at TEST_REDIS_URL (default %s): %v", DefaultURL, reachErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	o, _ := goredis.ParseURL(URL())
	c := goredis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}
