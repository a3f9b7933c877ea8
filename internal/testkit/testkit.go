// Package testkit holds what the tests of several packages share: a clock
// to set and advance, and a cheap password hasher for tests that are not
// about hashing.
package testkit

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// Clock is a clock for tests: it stands still until set or advanced (or
// ticks a fixed step per reading). It is safe for concurrent use; its Now
// fits Config.Now.
type Clock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// NewTickingClock returns a clock that moves on by step at each reading,
// starting after t, so that records created one after the other have
// distinct, ordered times.
func NewTickingClock(t time.Time, step time.Duration) *Clock { return &Clock{t: t, step: step} }

// Now returns the clock's time (after a tick, for a ticking clock).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// FastHasher is a cheap salted SHA-256 password hasher (auth.Hasher) for
// tests that are not about password hashing: scrypt costs about a second
// per call under -race. Like the real hashers it compares NFKC forms.
type FastHasher struct{}

// Hash returns "fast$<salt>$<hex sha256>".
func (FastHasher) Hash(p string) (string, error) {
	salt := plugin.RandomString(8, "")
	return "fast$" + salt + "$" + fastSum(salt, p), nil
}

// Verify checks p against a hash made by Hash (auth.ErrUnsupportedHash
// for any other).
func (FastHasher) Verify(h, p string) (bool, error) {
	parts := strings.Split(h, "$")
	if len(parts) != 3 || parts[0] != "fast" {
		return false, auth.ErrUnsupportedHash
	}
	return subtle.ConstantTimeCompare([]byte(parts[2]), []byte(fastSum(parts[1], p))) == 1, nil
}

func fastSum(salt, p string) string {
	s := sha256.Sum256([]byte(salt + "\x00" + norm.NFKC.String(p)))
	return hex.EncodeToString(s[:])
}
