package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/managarten/mana-auth/internal/scrypt"
)

// Hasher hashes and verifies passwords. Implementations must be safe for
// concurrent use. Auth runs every call under its hashing concurrency bound
// (Config.HashConcurrency), so a Hasher need not limit itself.
type Hasher interface {
	// Hash returns the encoded hash of password.
	Hash(password string) (string, error)
	// Verify reports whether password matches hash. A hash the Hasher does
	// not understand, or whose parameters exceed its bounds, is an error
	// (and is refused without being computed).
	Verify(hash, password string) (bool, error)
}

// ErrUnsupportedHash is returned by a Hasher for a stored hash it refuses.
var ErrUnsupportedHash = errors.New("auth: unsupported or out-of-bounds password hash")

// ScryptHasher is Better Auth's default password hash: scrypt with N=16384,
// r=16, p=1, a 64-byte key, the NFKC-normalised password, and a 16-byte salt
// whose 32-character lower-case hex form (not the raw bytes) is the scrypt
// salt. The encoding is "<saltHex>:<keyHex>", so hashes written by a Better
// Auth server verify here and the other way round. Each hash needs about
// 32 MiB of memory.
type ScryptHasher struct{}

// Hash implements Hasher.
func (ScryptHasher) Hash(password string) (string, error) {
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	saltHex := hex.EncodeToString(salt[:])
	key, err := scryptKey(saltHex, password)
	if err != nil {
		return "", err
	}
	return saltHex + ":" + hex.EncodeToString(key), nil
}

// Verify implements Hasher.
func (ScryptHasher) Verify(hash, password string) (bool, error) {
	saltHex, keyHex, ok := strings.Cut(hash, ":")
	if !ok || len(saltHex) == 0 || len(saltHex) > 64 || len(keyHex) != 2*scrypt.BetterAuthKeyLen {
		return false, ErrUnsupportedHash
	}
	want, err := hex.DecodeString(keyHex)
	if err != nil {
		return false, ErrUnsupportedHash
	}
	got, err := scryptKey(saltHex, password)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// scryptKey is Better Auth's key: scrypt of the NFKC password with the hex
// salt as bytes. internal/scrypt reuses its 32 MiB buffers between calls.
func scryptKey(saltHex, password string) ([]byte, error) {
	return scrypt.Key([]byte(norm.NFKC.String(password)), []byte(saltHex),
		scrypt.BetterAuthN, scrypt.BetterAuthR, scrypt.BetterAuthP, scrypt.BetterAuthKeyLen)
}

// Argon2idHasher hashes with Argon2id in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$key), the OWASP-recommended choice for new
// deployments that need no Better Auth compatibility. Zero fields take the
// defaults m=19456 KiB, t=2, p=1. Verify refuses hashes whose memory exceeds
// MaxMemory KiB (default 262144, 256 MiB), whose time cost exceeds 10 or
// whose parallelism exceeds 16, without computing them.
type Argon2idHasher struct {
	Memory      uint32 // KiB
	Time        uint32
	Parallelism uint8
	MaxMemory   uint32 // KiB
}

func (h Argon2idHasher) params() (m, t uint32, p uint8, maxM uint32) {
	m, t, p, maxM = h.Memory, h.Time, h.Parallelism, h.MaxMemory
	if m == 0 {
		m = 19456
	}
	if t == 0 {
		t = 2
	}
	if p == 0 {
		p = 1
	}
	if maxM == 0 {
		maxM = 262144
	}
	return
}

// Hash implements Hasher.
func (h Argon2idHasher) Hash(password string) (string, error) {
	m, t, p, _ := h.params()
	var salt [16]byte
	_, _ = rand.Read(salt[:])
	key := argon2.IDKey([]byte(norm.NFKC.String(password)), salt[:], t, m, p, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, p, b64.EncodeToString(salt[:]), b64.EncodeToString(key)), nil
}

// Verify implements Hasher.
func (h Argon2idHasher) Verify(hash, password string) (bool, error) {
	_, _, _, maxM := h.params()
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, ErrUnsupportedHash
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, ErrUnsupportedHash
	}
	if m == 0 || m > maxM || t == 0 || t > 10 || p == 0 || p > 16 {
		return false, ErrUnsupportedHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 || len(want) > 128 {
		return false, ErrUnsupportedHash
	}
	got := argon2.IDKey([]byte(norm.NFKC.String(password)), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// hashGate bounds how many password hashes run at once (slots) and queues
// the rest in arrival order. A caller that finds every slot taken joins the
// queue only if its expected wait — the hashes ahead of it, at the measured
// time per hash — stays within maxWait; otherwise it is refused at once
// with ErrBusy and a Retry-After of when the queue should have room. A
// queued caller is handed the next free slot in turn (no caller arriving
// later can take it first); it gives up with ErrBusy only if it has waited
// twice maxWait (the hashes slowed down after it was admitted), or with its
// context's error.
type hashGate struct {
	now      func() time.Time
	log      *slog.Logger
	maxQueue int
	maxWait  time.Duration

	mu      sync.Mutex
	free    []int       // indexes of the free slots
	started []time.Time // per slot: when its hash started (zero: free)
	queue   []*hashWaiter
	perHash time.Duration // moving average of the measured hash time (0: none yet)

	refused atomic.Uint64
	logged  throttle // the refusal summaries in the log
}

// hashWaiter is a queued caller; slot is set, and ready closed, when a
// slot is handed to it.
type hashWaiter struct {
	ready chan struct{}
	slot  int
}

func newHashGate(cfg Config) *hashGate {
	g := &hashGate{now: cfg.Now, log: cfg.Logger, maxQueue: cfg.HashQueue, maxWait: cfg.HashMaxWait,
		started: make([]time.Time, cfg.HashConcurrency)}
	for i := cfg.HashConcurrency - 1; i >= 0; i-- {
		g.free = append(g.free, i)
	}
	return g
}

// do runs fn in a slot, waiting for one in turn (see hashGate).
func (g *hashGate) do(ctx context.Context, fn func() error) error {
	slot, err := g.acquire(ctx)
	if err != nil {
		return err
	}
	start := g.now()
	g.mu.Lock()
	g.started[slot] = start
	g.mu.Unlock()
	defer func() { g.release(slot, g.now().Sub(start)) }()
	return fn()
}

func (g *hashGate) acquire(ctx context.Context) (int, error) {
	g.mu.Lock()
	if len(g.queue) == 0 && len(g.free) > 0 {
		slot := g.free[len(g.free)-1]
		g.free = g.free[:len(g.free)-1]
		g.started[slot] = g.now() // taken: reset by do when the hash starts
		g.mu.Unlock()
		return slot, nil
	}
	wait := g.expectedWaitLocked(len(g.queue) + 1)
	if len(g.queue) >= g.maxQueue || wait > g.maxWait {
		queued := len(g.queue)
		g.mu.Unlock()
		return 0, g.refuse(ctx, queued, wait)
	}
	w := &hashWaiter{ready: make(chan struct{})}
	g.queue = append(g.queue, w)
	g.mu.Unlock()

	t := time.NewTimer(2 * g.maxWait)
	defer t.Stop()
	var err error
	select {
	case <-w.ready:
		return w.slot, nil
	case <-t.C:
		err = ErrBusy.WithRetryAfter(time.Second)
	case <-ctx.Done():
		err = ctx.Err()
	}
	g.mu.Lock()
	select {
	case <-w.ready: // handed a slot as we gave up: pass it on
		g.handOffLocked(w.slot)
	default:
		if i := slices.Index(g.queue, w); i >= 0 {
			g.queue = slices.Delete(g.queue, i, i+1)
		}
	}
	g.mu.Unlock()
	if errors.Is(err, ErrBusy) {
		return 0, g.refuse(ctx, -1, 0)
	}
	return 0, err
}

// release frees slot after a hash that took d, handing it to the first
// caller in the queue.
func (g *hashGate) release(slot int, d time.Duration) {
	g.mu.Lock()
	switch {
	case d < 0:
	case g.perHash == 0:
		g.perHash = d
	case d < g.perHash:
		g.perHash += (d - g.perHash) / 4
	default:
		// Slowly up, quickly down: neither a cold hash (its buffers not
		// yet mapped) nor one stalled hash turns a burst of callers
		// away; a lasting slowdown shows within some 30 hashes.
		g.perHash += (d - g.perHash) / 32
	}
	g.handOffLocked(slot)
	g.mu.Unlock()
}

func (g *hashGate) handOffLocked(slot int) {
	if len(g.queue) == 0 {
		g.started[slot] = time.Time{}
		g.free = append(g.free, slot)
		return
	}
	w := g.queue[0]
	g.queue[0] = nil
	g.queue = g.queue[1:]
	g.started[slot] = g.now()
	w.slot = slot
	close(w.ready)
}

// expectedWaitLocked estimates how long the n-th caller in the queue waits
// for a slot: every slot busy, n hashes must finish first, and they
// finish at len(slots) per hash time. A hash takes the measured average;
// if a running one has already taken far longer — twice the average and a
// quarter of maxWait: a hasher that hangs or crawls, not one descheduled
// for a moment — each takes as long as that one has so far.
func (g *hashGate) expectedWaitLocked(n int) time.Duration {
	per := g.perHash
	now := g.now()
	stuck := max(2*g.perHash, g.maxWait/4)
	for _, s := range g.started {
		if e := now.Sub(s); !s.IsZero() && e > stuck {
			per = max(per, e)
		}
	}
	return time.Duration(n) * per / time.Duration(len(g.started))
}

// refuse counts and logs a refusal (wait is the expected wait, queued the
// queue's length; -1 for a caller that waited too long) and returns
// ErrBusy with a Retry-After: when the queue should be short enough again.
func (g *hashGate) refuse(ctx context.Context, queued int, wait time.Duration) error {
	g.refused.Add(1)
	if n, ok := g.logged.tick(g.now(), 10*time.Second); ok {
		g.log.WarnContext(ctx, "auth: password hashing is saturated: requests refused with 503 SERVICE_BUSY",
			"refused", n, "queued", queued, "expected_wait", wait, "max_wait", g.maxWait)
	}
	return ErrBusy.WithRetryAfter(max(time.Second, wait-g.maxWait))
}

// stats reports the gate's state.
func (g *hashGate) stats() (running, waiting int, refused uint64, perHash time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.started) - len(g.free), len(g.queue), g.refused.Load(), g.perHash
}

// hashPassword hashes password with the configured Hasher under the hashing
// concurrency bound.
func (a *Auth) hashPassword(ctx context.Context, password string) (string, error) {
	var h string
	err := a.hashGate.do(ctx, func() (err error) {
		h, err = a.hasher.Hash(password)
		return err
	})
	return h, err
}

// verifyPassword checks password against hash with the configured Hasher
// under the hashing concurrency bound. An unusable stored hash counts as a
// mismatch (and is logged), never as a server error.
func (a *Auth) verifyPassword(ctx context.Context, hash, password string) (bool, error) {
	var ok bool
	err := a.hashGate.do(ctx, func() (err error) {
		ok, err = a.hasher.Verify(hash, password)
		return err
	})
	if errors.Is(err, ErrUnsupportedHash) {
		a.log.WarnContext(ctx, "auth: stored password hash refused", "err", err)
		return false, nil
	}
	return ok, err
}

// dummyVerify spends the same work as a real verification, so that an
// unknown email answers in the same time as a wrong password.
func (a *Auth) dummyVerify(ctx context.Context, password string) error {
	_, err := a.verifyPassword(ctx, a.dummyHash, password)
	return err
}
