package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
)

// TestScryptBetterAuthVectors verifies every hash Better Auth made with
// ScryptHasher, and every positive and negative case listed with it.
//
// Under -race scrypt costs about a second, so there only a representative
// subset is computed (raceVectors: the spec vector with its negative case,
// the 128-character maximum, a ligature, a decomposed form and non-Latin
// UTF-8); for the rest, and for the alternative spellings, the expected
// outcome is checked through NFKC equality without hashing. That the
// hasher itself normalises is proved by the computed decomposed and
// ligature vectors, whose stored hash is of the NFKC form.
func raceVectors(label string) bool {
	for _, p := range []string{"spec vector", "exactly 128", "fi ligature", "A-ring decomposed", "emoji and CJK"} {
		if strings.HasPrefix(label, p) {
			return true
		}
	}
	return false
}

func TestScryptBetterAuthVectors(t *testing.T) {
	// Not parallel: real scrypt (see serialHashing in helpers_test.go).
	v := loadVectors(t)
	if len(v.PasswordHashes) < 10 {
		t.Fatalf("only %d password vectors", len(v.PasswordHashes))
	}
	for i, vec := range v.PasswordHashes {
		t.Run(vec.Label, func(t *testing.T) {
			t.Parallel()
			if got := norm.NFKC.String(vec.Password); got != vec.NFKC {
				t.Errorf("NFKC(%q) = %q, Better Auth says %q", vec.Password, got, vec.NFKC)
			}
			compute := !raceEnabled || raceVectors(vec.Label)
			if compute {
				if ok, err := (auth.ScryptHasher{}).Verify(vec.Hash, vec.Password); err != nil || !ok {
					t.Errorf("Verify(stored password) = %v, %v; want true", ok, err)
				}
			}
			for j, c := range vec.Verifies {
				if c.Password == vec.Password {
					continue // computed above
				}
				if raceEnabled && !(i == 0 && !c.OK) {
					// Not computed under -race: the outcome follows from NFKC.
					if same := norm.NFKC.String(c.Password) == vec.NFKC; same != c.OK {
						t.Errorf("verifies[%d] %q: NFKC-equal = %v, Better Auth says ok = %v", j, c.Password, same, c.OK)
					}
					continue
				}
				ok, err := (auth.ScryptHasher{}).Verify(vec.Hash, c.Password)
				if err != nil || ok != c.OK {
					t.Errorf("verifies[%d] Verify(%q) = %v, %v; want %v", j, c.Password, ok, err, c.OK)
				}
			}
		})
	}
}

var scryptFormat = regexp.MustCompile(`^[0-9a-f]{32}:[0-9a-f]{128}$`)

// TestScryptRoundTrip checks our own hash: Better Auth's format, fresh salt,
// verifies with the same password (also in another Unicode normal form) and
// not with another.
func TestScryptRoundTrip(t *testing.T) {
	// Not parallel: real scrypt (see serialHashing in helpers_test.go).
	h := auth.ScryptHasher{}
	const composed = "Ångström-pass" // U+00C5, U+00F6
	const decomposed = "A\u030angstro\u0308m-pass"
	hash, err := h.Hash(decomposed)
	if err != nil {
		t.Fatal(err)
	}
	if !scryptFormat.MatchString(hash) {
		t.Fatalf("hash %q is not <32 hex>:<128 hex>", hash)
	}
	tests := []struct {
		password string
		want     bool
	}{
		{composed, true}, // NFKC makes both forms one
	}
	if !raceEnabled { // ~1 s per scrypt under -race
		tests = append(tests, []struct {
			password string
			want     bool
		}{{decomposed, true}, {"Ångström-pasS", false}, {"", false}}...)
	}
	for _, tt := range tests {
		if ok, err := h.Verify(hash, tt.password); err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
	if !raceEnabled {
		hash2, err := h.Hash(decomposed)
		if err != nil {
			t.Fatal(err)
		}
		if hash2 == hash || hash2[:32] == hash[:32] {
			t.Errorf("two hashes share their salt: %q, %q", hash, hash2)
		}
	}
}

// TestScryptMalformedHashes: stored hashes the hasher cannot use are
// refused with ErrUnsupportedHash, never computed and never a panic.
func TestScryptMalformedHashes(t *testing.T) {
	t.Parallel()
	key := strings.Repeat("ab", 64)
	tests := []string{
		"",
		":",
		"nocolon",
		strings.Repeat("a", 200),
		":" + key,                           // empty salt
		"cb467e7f0070180a3332022c1abb8d75:", // empty key
		"cb467e7f0070180a3332022c1abb8d75:" + key[:127],                // short key
		"cb467e7f0070180a3332022c1abb8d75:" + key + "ab",               // long key
		"cb467e7f0070180a3332022c1abb8d75:" + strings.Repeat("zz", 64), // not hex
		"cb467e7f0070180a3332022c1abb8d75:" + key[:126] + ":x",
		strings.Repeat("a", 65) + ":" + key, // salt over 64 chars
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"fast$abc$def",
	}
	for _, hash := range tests {
		ok, err := (auth.ScryptHasher{}).Verify(hash, "password")
		if ok || !errors.Is(err, auth.ErrUnsupportedHash) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrUnsupportedHash", hash, ok, err)
		}
	}
}

var argonFormat = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestArgon2idRoundTrip(t *testing.T) {
	// Not parallel: real scrypt (see serialHashing in helpers_test.go).
	h := auth.Argon2idHasher{Memory: 64, Time: 1, Parallelism: 1}
	hash, err := h.Hash("ﬁnance-secret") // U+FB01 ligature
	if err != nil {
		t.Fatal(err)
	}
	m := argonFormat.FindStringSubmatch(hash)
	if m == nil || m[1] != "64" || m[2] != "1" || m[3] != "1" {
		t.Fatalf("hash %q is not a PHC argon2id string with m=64,t=1,p=1", hash)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"ﬁnance-secret", true},
		{"finance-secret", true}, // NFKC
		{"finance-secreT", false},
		{"", false},
	} {
		if ok, err := h.Verify(hash, tt.password); err != nil || ok != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.password, ok, err, tt.want)
		}
	}
	// Verify reads the parameters from the hash, not from the hasher.
	if ok, err := (auth.Argon2idHasher{}).Verify(hash, "finance-secret"); err != nil || !ok {
		t.Errorf("default hasher Verify of an m=64 hash = %v, %v", ok, err)
	}
	// Zero fields take the documented defaults.
	if !raceEnabled {
		hash, err := (auth.Argon2idHasher{}).Hash("x")
		if err != nil {
			t.Fatal(err)
		}
		if m := argonFormat.FindStringSubmatch(hash); m == nil || m[1] != "19456" || m[2] != "2" || m[3] != "1" {
			t.Errorf("default hash %q, want m=19456,t=2,p=1", hash)
		}
	}
}

// TestArgon2idRefusesOutOfBounds: hashes whose cost exceeds the bounds are
// refused before any work (an attacker who can write a hash must not be
// able to make a sign-in allocate gigabytes).
func TestArgon2idRefusesOutOfBounds(t *testing.T) {
	t.Parallel()
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	phc := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	tests := []struct {
		name string
		h    auth.Argon2idHasher
		hash string
	}{
		{"memory huge", auth.Argon2idHasher{}, phc("m=4294967295,t=1,p=1")},
		{"memory over default max", auth.Argon2idHasher{}, phc("m=262145,t=1,p=1")},
		{"memory over custom max", auth.Argon2idHasher{MaxMemory: 1024}, phc("m=1025,t=1,p=1")},
		{"time huge", auth.Argon2idHasher{}, phc("m=64,t=4294967295,p=1")},
		{"time 11", auth.Argon2idHasher{}, phc("m=64,t=11,p=1")},
		{"parallelism 17", auth.Argon2idHasher{}, phc("m=64,t=1,p=17")},
		{"parallelism huge", auth.Argon2idHasher{}, phc("m=64,t=1,p=255")},
		{"parallelism overflows uint8", auth.Argon2idHasher{}, phc("m=64,t=1,p=4096")},
		{"memory 0", auth.Argon2idHasher{}, phc("m=0,t=1,p=1")},
		{"time 0", auth.Argon2idHasher{}, phc("m=64,t=0,p=1")},
		{"parallelism 0", auth.Argon2idHasher{}, phc("m=64,t=1,p=0")},
		{"negative memory", auth.Argon2idHasher{}, phc("m=-1,t=1,p=1")},
		{"wrong version", auth.Argon2idHasher{}, "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2i", auth.Argon2idHasher{}, "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing field", auth.Argon2idHasher{}, "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"extra field", auth.Argon2idHasher{}, phc("m=64,t=1,p=1") + "$x"},
		{"bad params", auth.Argon2idHasher{}, phc("t=1,m=64,p=1")},
		{"bad salt base64", auth.Argon2idHasher{}, "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{"short salt", auth.Argon2idHasher{}, "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"short key", auth.Argon2idHasher{}, "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$a2V5"},
		{"scrypt hash", auth.Argon2idHasher{}, "cb467e7f0070180a3332022c1abb8d75:" + strings.Repeat("ab", 64)},
		{"empty", auth.Argon2idHasher{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, err := tt.h.Verify(tt.hash, "password")
			if ok || !errors.Is(err, auth.ErrUnsupportedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrUnsupportedHash", tt.hash, ok, err)
			}
		})
	}
}

// TestVerifyPasswordUnsupportedHash: through the Auth an unusable stored
// hash is a mismatch, not an error.
func TestVerifyPasswordUnsupportedHash(t *testing.T) {
	t.Parallel()
	a := newAuth(t, nil)
	ok, err := a.Host().VerifyPassword(context.Background(), "garbage", "password")
	if ok || err != nil {
		t.Errorf("VerifyPassword(garbage) = %v, %v; want false, nil", ok, err)
	}
	h, err := a.Host().HashPassword(context.Background(), "password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Host().VerifyPassword(context.Background(), h, "password"); !ok || err != nil {
		t.Errorf("VerifyPassword(own hash) = %v, %v", ok, err)
	}
}

// blockingHasher blocks in every call once armed, until release is closed.
type blockingHasher struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	calls   atomic.Int64
}

func newBlockingHasher() *blockingHasher {
	return &blockingHasher{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingHasher) wait() {
	if !b.armed.Load() {
		return
	}
	b.calls.Add(1)
	b.entered <- struct{}{}
	<-b.release
}

func (b *blockingHasher) Hash(p string) (string, error) {
	b.wait()
	return testkit.FastHasher{}.Hash(p)
}
func (b *blockingHasher) Verify(h, p string) (bool, error) {
	b.wait()
	return testkit.FastHasher{}.Verify(h, p)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHashConcurrencyBound: with one slot and a queue of one, callers
// beyond the queue get ErrBusy at once, through every path that hashes.
func TestHashConcurrencyBound(t *testing.T) {
	t.Parallel()
	bh := newBlockingHasher()
	a, srv := newTestServer(t, func(c *auth.Config) {
		c.Hasher, c.HashConcurrency, c.HashQueue, c.HashMaxWait = bh, 1, 1, time.Minute
	})
	bh.armed.Store(true)
	ctx := context.Background()

	var wg sync.WaitGroup
	results := make(chan error, 10)
	run := func(f func() error) {
		wg.Add(1)
		go func() { defer wg.Done(); results <- f() }()
	}
	// The first caller takes the slot and blocks in the hasher.
	run(func() error { _, err := a.Host().HashPassword(ctx, "first"); return err })
	<-bh.entered
	// Of two more, one waits in the queue and the other is refused: the
	// first answer is that refusal, and then the queue is known to be full.
	run(func() error { _, err := a.Host().HashPassword(ctx, "second"); return err })
	run(func() error { _, err := a.Host().HashPassword(ctx, "third"); return err })
	select {
	case err := <-results:
		if !errors.Is(err, auth.ErrBusy) {
			t.Fatalf("first answer %v, want ErrBusy", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nobody was refused")
	}

	// Everyone else is refused at once, whatever the path.
	if _, err := a.Host().HashPassword(ctx, "fourth"); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("HashPassword beyond the queue: %v, want ErrBusy", err)
	}
	if _, err := a.SignInEmail(ctx, auth.SignInInput{Email: "nobody@example.com", Password: "whatever1"}); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("SignInEmail beyond the queue: %v, want ErrBusy", err)
	}
	if _, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "X", Email: "x@example.com", Password: "whatever1"}); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("SignUpEmail beyond the queue: %v, want ErrBusy", err)
	}
	if n := rowCount(t, a, "user"); n != 0 {
		t.Errorf("a refused sign-up created %d users", n)
	}
	c := newClient(t, a, srv)
	r := c.post("/sign-in/email", map[string]any{"email": "nobody@example.com", "password": "whatever1"})
	e := wantError(t, r, http.StatusServiceUnavailable, "SERVICE_BUSY")
	if e.Message == "" {
		t.Error("503 without message")
	}
	if got := r.Header.Get("Retry-After"); got == "" {
		t.Error("503 without Retry-After")
	}

	// Release: the holder and the waiter both finish.
	close(bh.release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("a caller within the bound failed: %v", err)
		}
	}
	if got := bh.calls.Load(); got != 2 {
		t.Errorf("hasher ran %d times, want 2 (refused callers must not hash)", got)
	}
}

// TestHashConcurrencyManyCallers: many simultaneous callers against one
// slot and a queue of one: exactly two get through.
func TestHashConcurrencyManyCallers(t *testing.T) {
	t.Parallel()
	bh := newBlockingHasher()
	a := newAuth(t, func(c *auth.Config) {
		c.Hasher, c.HashConcurrency, c.HashQueue, c.HashMaxWait = bh, 1, 1, time.Minute
	})
	bh.armed.Store(true)
	const n = 12
	var busy, ok atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			_, err := a.Host().HashPassword(context.Background(), fmt.Sprint(i))
			switch {
			case errors.Is(err, auth.ErrBusy):
				busy.Add(1)
			case err == nil:
				ok.Add(1)
			default:
				t.Errorf("caller %d: %v", i, err)
			}
		}(i)
	}
	close(start)
	<-bh.entered
	waitUntil(t, "all refusals", func() bool { return busy.Load() == n-2 })
	close(bh.release)
	wg.Wait()
	if busy.Load() != n-2 || ok.Load() != 2 {
		t.Errorf("busy %d, ok %d; want %d, 2", busy.Load(), ok.Load(), n-2)
	}
}

// TestHashMaxWait: a queued caller gives up with ErrBusy after HashMaxWait,
// and a cancelled one with its context error.
func TestHashMaxWait(t *testing.T) {
	t.Parallel()
	bh := newBlockingHasher()
	a := newAuth(t, func(c *auth.Config) {
		c.Hasher, c.HashConcurrency, c.HashQueue, c.HashMaxWait = bh, 1, 4, 20*time.Millisecond
	})
	a2 := newAuth(t, func(c *auth.Config) {
		c.Hasher, c.HashConcurrency, c.HashQueue, c.HashMaxWait = bh, 1, 4, time.Minute
	})
	bh.armed.Store(true) // after New, which hashes once
	done := make(chan error, 1)
	go func() { _, err := a.Host().HashPassword(context.Background(), "holder"); done <- err }()
	<-bh.entered
	if _, err := a.Host().HashPassword(context.Background(), "late"); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("after HashMaxWait: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	go func() { _, _ = a2.Host().HashPassword(context.Background(), "holder2") }()
	<-bh.entered
	if _, err := a2.Host().HashPassword(ctx, "cancelled"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v, want context.DeadlineExceeded", err)
	}
	close(bh.release)
	if err := <-done; err != nil {
		t.Errorf("holder: %v", err)
	}
}
