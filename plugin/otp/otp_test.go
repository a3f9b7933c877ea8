package otp_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/otp"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

const id = "sign-in-otp-ada@example.com"

var dbs = []string{"memory", "sqlite", "postgres"}

// newHost returns the plugin.Host of an auth.Auth on the adapter kind,
// with a test clock.
func newHost(t *testing.T, kind string) (plugin.Host, *testkit.Clock) {
	t.Helper()
	var db storage.Adapter
	switch kind {
	case "sqlite":
		s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "otp.db"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		db = s
	case "postgres":
		testpg.Require(t)
		p, err := postgres.Open(context.Background(), postgres.Options{URL: testpg.URL(), Schema: testpg.SchemaName(t, "otp_"), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		db = p
	default:
		db = memory.New()
	}
	clock := testkit.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	a, err := auth.New(auth.Config{BaseURL: "http://localhost", Secret: "a-test-secret-that-is-long-enough-to-use",
		Now: clock.Now, Hasher: testkit.FastHasher{}, Logger: slog.New(slog.DiscardHandler)}, db)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a.Host(), clock
}

// row returns the value stored under identifier ("" if none).
func row(t *testing.T, h plugin.Host, identifier string) string {
	t.Helper()
	v, err := h.FindVerification(context.Background(), identifier)
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return v.Value
}

// rows counts the rows under identifier, expired ones included.
func rows(t *testing.T, h plugin.Host, identifier string) int64 {
	t.Helper()
	n, err := h.DB().Count(context.Background(), plugin.TableVerification, storage.W("identifier", identifier))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// TestVerify runs Better Auth's atomicVerifyOTP sequence on every
// adapter: wrong codes count, the right one after the attempts are spent
// is refused and the row is gone; a right code is consumed; a second code
// replaces the first.
func TestVerify(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h, _ := newHost(t, kind)
			ctx := context.Background()
			code, err := otp.Issue(ctx, h, id, otp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
				t.Fatalf("code %q is not 6 digits", code)
			}
			if got, want := row(t, h, id), code+":0"; got != want {
				t.Fatalf("row %q, want %q (Better Auth's format)", got, want)
			}
			var got []error
			for range 3 {
				_, err := otp.Verify(ctx, h, id, wrong(code), otp.Options{})
				got = append(got, err)
			}
			if v := row(t, h, id); v != code+":3" {
				t.Errorf("after 3 wrong codes the row is %q", v)
			}
			_, err = otp.Verify(ctx, h, id, code, otp.Options{})
			got = append(got, err)
			_, err = otp.Verify(ctx, h, id, code, otp.Options{})
			got = append(got, err)
			want := []error{otp.ErrMismatch, otp.ErrMismatch, otp.ErrMismatch, otp.ErrTooManyAttempts, otp.ErrNotFound}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
			if n := rows(t, h, id); n != 0 {
				t.Errorf("%d rows left after too many attempts", n)
			}

			first, _ := otp.Issue(ctx, h, id, otp.Options{})
			second, _ := otp.Issue(ctx, h, id, otp.Options{})
			if n := rows(t, h, id); n != 1 {
				t.Errorf("%d rows after a second code, want 1 (it replaces the first)", n)
			}
			if first != second {
				if _, err := otp.Verify(ctx, h, id, first, otp.Options{}); !errors.Is(err, otp.ErrMismatch) {
					t.Errorf("the replaced code: %v, want ErrMismatch", err)
				}
			}
			if _, err := otp.Verify(ctx, h, id, second, otp.Options{}); err != nil {
				t.Errorf("the right code: %v", err)
			}
			if _, err := otp.Verify(ctx, h, id, second, otp.Options{}); !errors.Is(err, otp.ErrNotFound) {
				t.Errorf("the same code again: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestExpiry: an expired code is ErrExpired, even when right, and deleted;
// a wrong code keeps the original expiry.
func TestExpiry(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h, clock := newHost(t, kind)
			ctx := context.Background()
			o := otp.Options{ExpiresIn: time.Minute}
			code, err := otp.Issue(ctx, h, id, o)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(50 * time.Second)
			if _, err := otp.Verify(ctx, h, id, wrong(code), o); !errors.Is(err, otp.ErrMismatch) {
				t.Fatalf("wrong code: %v", err)
			}
			clock.Advance(10 * time.Second) // the original minute is over
			if _, err := otp.Verify(ctx, h, id, code, o); !errors.Is(err, otp.ErrExpired) {
				t.Errorf("right code after expiry: %v, want ErrExpired", err)
			}
			if n := rows(t, h, id); n != 0 {
				t.Errorf("%d rows left after expiry", n)
			}
			if _, err := otp.Verify(ctx, h, id, code, o); !errors.Is(err, otp.ErrNotFound) {
				t.Errorf("again: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestConcurrentVerify: of many concurrent checks of the right code,
// exactly one succeeds; of many concurrent wrong guesses, no more than the
// attempts allowed are compared, and the right code is refused after.
func TestConcurrentVerify(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h, _ := newHost(t, kind)
			ctx := context.Background()
			// race runs n concurrent checks of guess and counts the outcomes.
			race := func(guess string) map[string]int {
				const n = 10
				counts := map[string]int{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				for range n {
					wg.Go(func() {
						_, err := otp.Verify(ctx, h, id, guess, otp.Options{})
						k := "ok"
						switch {
						case errors.Is(err, otp.ErrMismatch):
							k = "mismatch"
						case errors.Is(err, otp.ErrNotFound):
							k = "busy"
						case errors.Is(err, otp.ErrTooManyAttempts):
							k = "too many"
						case err != nil:
							k = err.Error()
						}
						mu.Lock()
						counts[k]++
						mu.Unlock()
					})
				}
				wg.Wait()
				return counts
			}
			code, err := otp.Issue(ctx, h, id, otp.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := race(code); got["ok"] != 1 || got["ok"]+got["busy"] != 10 {
				t.Errorf("10 concurrent checks of the right code: %v, want exactly one ok", got)
			}
			if code, err = otp.Issue(ctx, h, id, otp.Options{}); err != nil {
				t.Fatal(err)
			}
			got := race(wrong(code))
			if got["mismatch"] < 1 || got["mismatch"] > 3 || got["ok"] != 0 {
				t.Errorf("10 concurrent wrong guesses: %v, want 1 to 3 compared", got)
			}
			compared := got["mismatch"]
			for {
				_, err := otp.Verify(ctx, h, id, wrong(code), otp.Options{})
				if !errors.Is(err, otp.ErrMismatch) {
					break
				}
				compared++
			}
			if compared != 3 {
				t.Errorf("%d wrong codes compared in all, want 3", compared)
			}
			if _, err := otp.Verify(ctx, h, id, code, otp.Options{}); err == nil {
				t.Error("the right code was accepted after the attempts were spent")
			}
		})
	}
}

// TestStorage: each Storage keeps the code in Better Auth's form, and
// verifies it.
func TestStorage(t *testing.T) {
	t.Parallel()
	h, _ := newHost(t, "memory")
	ctx := context.Background()
	for _, tc := range []struct {
		storage otp.Storage
		check   func(code, stored string) bool
	}{
		{otp.Plain, func(code, stored string) bool { return stored == code }},
		{otp.Hashed, func(code, stored string) bool {
			sum := sha256.Sum256([]byte(code))
			return stored == base64.RawURLEncoding.EncodeToString(sum[:])
		}},
		{otp.Encrypted, func(code, stored string) bool {
			plain, err := h.Keyring().Decrypt(stored)
			return err == nil && plain == code && !strings.Contains(stored, code)
		}},
	} {
		t.Run(string(tc.storage), func(t *testing.T) {
			ident := "forget-password-otp-" + string(tc.storage) + "@example.com"
			o := otp.Options{Storage: tc.storage, Length: 8}
			code, err := otp.Issue(ctx, h, ident, o)
			if err != nil {
				t.Fatal(err)
			}
			stored, count, _ := strings.Cut(row(t, h, ident), ":")
			if len(code) != 8 || count != "0" || !tc.check(code, stored) {
				t.Errorf("code %q stored as %q:%s", code, stored, count)
			}
			if _, err := otp.Verify(ctx, h, ident, wrong(code), o); !errors.Is(err, otp.ErrMismatch) {
				t.Errorf("wrong code: %v", err)
			}
			if _, err := otp.Verify(ctx, h, ident, code, o); err != nil {
				t.Errorf("right code: %v", err)
			}
		})
	}
}

// TestForeignRows: rows another server wrote (Better Auth, or an older
// configuration) are read as Better Auth reads them.
func TestForeignRows(t *testing.T) {
	t.Parallel()
	h, _ := newHost(t, "memory")
	ctx := context.Background()
	for _, tc := range []struct {
		name, value, code string
		o                 otp.Options
		want              error
	}{
		{"plain, one attempt left", "482913:2", "482913", otp.Options{}, nil},
		{"plain, attempts spent", "482913:3", "482913", otp.Options{}, otp.ErrTooManyAttempts},
		{"no count", "482913", "482913", otp.Options{}, nil},
		{"empty count", "482913:", "482913", otp.Options{}, nil},
		{"count not a number", "482913:x", "482913", otp.Options{}, otp.ErrTooManyAttempts},
		{"negative count", "482913:-5", "482913", otp.Options{}, otp.ErrTooManyAttempts},
		{"encrypted, stored plain", "482913:0", "482913", otp.Options{Storage: otp.Encrypted}, otp.ErrMismatch},
		{"hashed, stored plain", "482913:0", "482913", otp.Options{Storage: otp.Hashed}, otp.ErrMismatch},
		{"sealed by Better Auth's keyring", h.Keyring().Encrypt("482913") + ":1", "482913", otp.Options{Storage: otp.Encrypted}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ident := "email-verification-otp-" + strings.ReplaceAll(tc.name, " ", "") + "@example.com"
			if err := h.CreateVerification(ctx, ident, tc.value, time.Minute); err != nil {
				t.Fatal(err)
			}
			_, err := otp.Verify(ctx, h, ident, tc.code, tc.o)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCheckAndRestore: Check leaves a right code usable and unchanged;
// Restore puts a consumed code back with its attempts and expiry.
func TestCheckAndRestore(t *testing.T) {
	t.Parallel()
	for _, kind := range dbs {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h, clock := newHost(t, kind)
			ctx := context.Background()
			o := otp.Options{ExpiresIn: time.Minute}
			code, _ := otp.Issue(ctx, h, id, o)
			if _, err := otp.Verify(ctx, h, id, wrong(code), o); !errors.Is(err, otp.ErrMismatch) {
				t.Fatal(err)
			}
			if err := otp.Check(ctx, h, id, code, o); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := row(t, h, id); got != code+":1" {
				t.Errorf("after Check the row is %q, want %q", got, code+":1")
			}
			c, err := otp.Verify(ctx, h, id, code, o)
			if err != nil {
				t.Fatal(err)
			}
			if n := rows(t, h, id); n != 0 {
				t.Fatalf("%d rows after Verify", n)
			}
			if err := c.Restore(ctx); err != nil {
				t.Fatal(err)
			}
			if got := row(t, h, id); got != code+":1" {
				t.Errorf("after Restore the row is %q", got)
			}
			clock.Advance(time.Minute)
			if err := otp.Check(ctx, h, id, code, o); !errors.Is(err, otp.ErrExpired) {
				t.Errorf("Check after the original expiry: %v, want ErrExpired", err)
			}
			if err := c.Restore(ctx); err != nil || rows(t, h, id) != 0 {
				t.Errorf("Restore of an expired code: %v, %d rows", err, rows(t, h, id))
			}
		})
	}
}

// TestHash: a caller's own Hash is what is stored and compared.
func TestHash(t *testing.T) {
	t.Parallel()
	h, _ := newHost(t, "memory")
	ctx := context.Background()
	o := otp.Options{Hash: func(code string) string { return "h(" + code + ")" }, AllowedAttempts: 1}
	code, err := otp.Issue(ctx, h, id, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := row(t, h, id); got != "h("+code+"):0" {
		t.Errorf("row %q", got)
	}
	if _, err := otp.Verify(ctx, h, id, wrong(code), o); !errors.Is(err, otp.ErrMismatch) {
		t.Fatal(err)
	}
	if _, err := otp.Verify(ctx, h, id, code, o); !errors.Is(err, otp.ErrTooManyAttempts) {
		t.Errorf("right code after the one allowed attempt: %v", err)
	}
}

// TestInvalidIdentifier: an identifier PostgreSQL cannot store is a 400
// INVALID_INPUT on every adapter that refuses it, never a 500.
func TestInvalidIdentifier(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h, _ := newHost(t, kind)
			ctx := context.Background()
			for _, ident := range []string{"sign-in-otp-a\x00@example.com", "sign-in-otp-\xff@example.com"} {
				if _, err := otp.Issue(ctx, h, ident, otp.Options{}); err != nil && plugin.AsError(err).Status != 400 {
					t.Errorf("Issue(%q): %v", ident, err)
				}
				_, err := otp.Verify(ctx, h, ident, "123456", otp.Options{})
				if !errors.Is(err, otp.ErrMismatch) && !errors.Is(err, otp.ErrNotFound) && plugin.AsError(err).Status != 400 {
					t.Errorf("Verify(%q): %v", ident, err)
				}
			}
		})
	}
}

func TestOptionsCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		o    otp.Options
		want string
	}{
		{otp.Options{}, ""},
		{otp.Options{Length: 8, ExpiresIn: time.Hour, AllowedAttempts: 5, Storage: otp.Encrypted}, ""},
		{otp.Options{Length: -1}, "Length"},
		{otp.Options{Length: 65}, "Length"},
		{otp.Options{ExpiresIn: -time.Second}, "ExpiresIn"},
		{otp.Options{AllowedAttempts: -1}, "AllowedAttempts"},
		{otp.Options{Storage: "rot13"}, "rot13"},
	} {
		err := tc.o.Check()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v.Check() = %v, want an error naming %q", tc.o, err, tc.want)
		}
	}
}
