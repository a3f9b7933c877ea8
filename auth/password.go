package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// hashGate bounds how many password hashes run at once and how many wait.
type hashGate struct {
	slots   chan struct{}
	waiters chan struct{}
	maxWait time.Duration
}

func newHashGate(concurrency, queue int, maxWait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, concurrency), waiters: make(chan struct{}, queue), maxWait: maxWait}
}

// do runs fn when a slot is free. If too many callers already wait, or the
// wait exceeds maxWait, it returns ErrBusy without running fn.
func (g *hashGate) do(ctx context.Context, fn func() error) error {
	select {
	case g.slots <- struct{}{}:
	default:
		select {
		case g.waiters <- struct{}{}:
		default:
			return ErrBusy
		}
		t := time.NewTimer(g.maxWait)
		select {
		case g.slots <- struct{}{}:
			<-g.waiters
			t.Stop()
		case <-t.C:
			<-g.waiters
			return ErrBusy
		case <-ctx.Done():
			<-g.waiters
			t.Stop()
			return ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	return fn()
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
