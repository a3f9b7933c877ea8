// Package otp issues and verifies one-time codes kept in the host's
// verification table (plugin.Host's verification values), for plugins that
// send a code and take it back: the email-otp plugin, and the two-factor
// plugin's codes by mail.
//
// A code is stored under an identifier the caller chooses, as Better
// Auth's email-otp and two-factor plugins store theirs: the value is
// "<stored code>:<failed attempts>", where the stored code is the code
// itself, its SHA-256, the host keyring's envelope of it, or the caller's
// own keyed hash (Options.Storage, Options.Hash), so that rows written by
// Better Auth keep working.
//
//	code, err := otp.Issue(ctx, h, "sign-in-otp-"+email, otp.Options{})
//	// … mail the code …
//	if _, err := otp.Verify(ctx, h, "sign-in-otp-"+email, typed, otp.Options{}); err != nil {
//		// otp.ErrMismatch, otp.ErrTooManyAttempts, otp.ErrExpired, otp.ErrNotFound, or a storage error
//	}
//
// Verify is Better Auth's atomicVerifyOTP: it consumes the row (of two
// concurrent checks of one code, exactly one gets it: the other sees
// ErrNotFound), refuses once the attempts are used up (the row stays
// consumed), and after a wrong code puts the row back with one more
// failed attempt and its original expiry. Codes are compared in constant
// time. A code that is right is consumed; Consumed.Restore puts it back
// unchanged (to check a code without using it: Check).
package otp

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Storage says how a code is kept at rest.
type Storage string

// The ways to keep a code, as Better Auth's storeOTP option names them.
const (
	// Plain stores the code as is (Better Auth's default).
	Plain Storage = "plain"
	// Hashed stores base64url(SHA-256(code)), unpadded. A database leak
	// reveals no code directly, but a short code is quickly found from
	// its hash: prefer Encrypted.
	Hashed Storage = "hashed"
	// Encrypted stores the host keyring's envelope of the code
	// (plugin.Host.Keyring), which Better Auth opens too.
	Encrypted Storage = "encrypted"
)

// Options says what codes are made and how they are checked. The zero
// value is Better Auth's email-otp defaults.
type Options struct {
	// Length is the number of digits of a code. Default 6.
	Length int
	// ExpiresIn is the lifetime of a code. Default 5 minutes.
	ExpiresIn time.Duration
	// AllowedAttempts is how many wrong codes a code survives: the next
	// check, even with the right code, is ErrTooManyAttempts. Default 3.
	AllowedAttempts int
	// Storage says how the code is stored. Default Plain.
	Storage Storage
	// Hash, if set, is the stored form of a code (a keyed hash of the
	// caller's own); it replaces Storage.
	Hash func(code string) string
}

// Check reports a mistake in o: a negative number, or an unknown Storage.
// Zero values stand for the defaults.
func (o Options) Check() error {
	switch {
	case o.Length < 0 || o.Length > 64:
		return fmt.Errorf("otp: Length must be between 1 and 64 (0 for the default 6), not %d", o.Length)
	case o.ExpiresIn < 0:
		return fmt.Errorf("otp: ExpiresIn must not be negative (0 for the default 5m), not %v", o.ExpiresIn)
	case o.AllowedAttempts < 0:
		return fmt.Errorf("otp: AllowedAttempts must not be negative (0 for the default 3), not %d", o.AllowedAttempts)
	}
	switch o.Storage {
	case "", Plain, Hashed, Encrypted:
		return nil
	}
	return fmt.Errorf("otp: unknown Storage %q (want %q, %q or %q)", o.Storage, Plain, Hashed, Encrypted)
}

func (o Options) withDefaults() Options {
	if o.Length <= 0 {
		o.Length = 6
	}
	if o.ExpiresIn <= 0 {
		o.ExpiresIn = 5 * time.Minute
	}
	if o.AllowedAttempts <= 0 {
		o.AllowedAttempts = 3
	}
	if o.Storage == "" {
		o.Storage = Plain
	}
	return o
}

// The outcomes of Verify other than success. Callers map them to their
// own error codes.
var (
	// ErrNotFound: no code under the identifier (never issued, used,
	// replaced, or being checked by a concurrent request).
	ErrNotFound = errors.New("otp: no code")
	// ErrExpired: the code under the identifier has expired (it is
	// deleted).
	ErrExpired = errors.New("otp: code expired")
	// ErrTooManyAttempts: the code's attempts are used up (it is
	// deleted, and stays so).
	ErrTooManyAttempts = errors.New("otp: too many attempts")
	// ErrMismatch: a wrong code (one more failed attempt is counted).
	ErrMismatch = errors.New("otp: wrong code")
)

const digits = "0123456789"

// Generate returns a new random code of o.Length digits.
func Generate(o Options) string {
	return plugin.RandomString(o.withDefaults().Length, digits)
}

// stored returns the form of code kept at rest.
func (o Options) stored(h plugin.Host, code string) string {
	switch {
	case o.Hash != nil:
		return o.Hash(code)
	case o.Storage == Hashed:
		return sha256B64(code)
	case o.Storage == Encrypted:
		return h.Keyring().Encrypt(code)
	}
	return code
}

func sha256B64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// matches reports in constant time whether code is the code stored.
func (o Options) matches(ctx context.Context, h plugin.Host, stored, code string) bool {
	var want, got string
	switch {
	case o.Hash != nil:
		want, got = stored, o.Hash(code)
	case o.Storage == Hashed:
		want, got = stored, sha256B64(code)
	case o.Storage == Encrypted:
		plain, err := h.Keyring().Decrypt(stored)
		if err != nil {
			// Sealed under a secret no longer held, or stored another way
			// (Storage changed): no code can match it.
			h.Logger().WarnContext(ctx, "otp: a stored code cannot be decrypted", "err", err)
			return false
		}
		want, got = plain, code
	default:
		want, got = stored, code
	}
	return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1
}

// Issue makes a new code, stores it under identifier for o.ExpiresIn with
// no failed attempt, replacing any code stored there before, and returns
// it.
func Issue(ctx context.Context, h plugin.Host, identifier string, o Options) (string, error) {
	o = o.withDefaults()
	code := Generate(o)
	if err := h.DeleteVerification(ctx, identifier); err != nil {
		return "", err
	}
	if err := h.CreateVerification(ctx, identifier, o.stored(h, code)+":0", o.ExpiresIn); err != nil {
		return "", err
	}
	return code, nil
}

// Consumed is a code Verify accepted, taken out of the table.
type Consumed struct {
	h          plugin.Host
	identifier string
	value      string
	expiresAt  time.Time
}

// Restore puts the code back unchanged (same value, attempts and expiry),
// for a caller that checked it without using it, or could not finish
// what it was for. An expired code is not put back.
func (c *Consumed) Restore(ctx context.Context) error {
	ttl := c.expiresAt.Sub(c.h.Now())
	if ttl <= 0 {
		return nil
	}
	return c.h.CreateVerification(context.WithoutCancel(ctx), c.identifier, c.value, ttl)
}

// Verify checks code against the code stored under identifier and
// consumes it when it is right (see the package documentation). Its
// errors are ErrNotFound, ErrExpired, ErrTooManyAttempts, ErrMismatch, or
// the host's (storage) errors.
func Verify(ctx context.Context, h plugin.Host, identifier, code string, o Options) (*Consumed, error) {
	o = o.withDefaults()
	v, err := h.ConsumeVerification(ctx, identifier)
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return nil, missing(ctx, h, identifier)
	}
	if err != nil {
		return nil, err
	}
	stored, attempts := split(v.Value)
	if attempts < 0 || attempts >= o.AllowedAttempts {
		return nil, ErrTooManyAttempts // the row stays consumed
	}
	if !o.matches(ctx, h, stored, code) {
		if ttl := v.ExpiresAt.Sub(h.Now()); ttl > 0 {
			err := h.CreateVerification(context.WithoutCancel(ctx), identifier, stored+":"+strconv.Itoa(attempts+1), ttl)
			if err != nil {
				h.Logger().ErrorContext(ctx, "otp: storing a code's failed attempts", "err", err)
			}
		}
		return nil, ErrMismatch
	}
	return &Consumed{h: h, identifier: identifier, value: v.Value, expiresAt: v.ExpiresAt}, nil
}

// Check verifies code as Verify does and, when it is right, puts it back
// unchanged: the code stays usable. Wrong codes count as attempts.
func Check(ctx context.Context, h plugin.Host, identifier, code string, o Options) error {
	c, err := Verify(ctx, h, identifier, code, o)
	if err != nil {
		return err
	}
	return c.Restore(ctx)
}

// missing tells an expired code (deleted now) from no code at all, once
// the consumption found none.
func missing(ctx context.Context, h plugin.Host, identifier string) error {
	expired := []storage.Where{storage.W("identifier", identifier), {Field: "expiresAt", Op: storage.Lte, Value: h.Now()}}
	n, err := h.DB().Delete(ctx, plugin.TableVerification, expired...)
	if err != nil {
		return plugin.StorageError(err)
	}
	if n > 0 {
		return ErrExpired
	}
	return ErrNotFound
}

// split reads "<stored>:<attempts>" at its last colon, as Better Auth
// does. No colon or an empty count is 0 attempts; a count that is not a
// number is -1 (spent: the row was not written by Issue or Verify).
func split(value string) (stored string, attempts int) {
	i := strings.LastIndexByte(value, ':')
	if i < 0 {
		return value, 0
	}
	stored, count := value[:i], value[i+1:]
	if count == "" {
		return stored, 0
	}
	n, err := strconv.Atoi(count)
	if err != nil || n < 0 {
		return stored, -1
	}
	return stored, n
}
