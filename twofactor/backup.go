package twofactor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// hashedPrefix marks backup codes stored hashed:
//
//	hashed:v1:<salt>:["<hex>", …]
//	hashed:v2:<version>:<salt>:["<hex>", …]
//
// each entry hex(HMAC-SHA256(key, "two-factor-backup-code\x00" + salt +
// "\x00" + code)), the code without its dash. The key of v1 is the
// un-versioned secret (Config.Secret, keyring.Ring.Legacy); that of v2 is
// the secret of <version> (Config.Secrets), so codes stay usable after a
// rotation for as long as their version is configured. Better Auth's
// formats (an XChaCha envelope in hex or "$ba$…", or a plain JSON array)
// never start with it. The HMAC key keeps a database dump alone from
// allowing offline guessing of the codes (which have ~60 bits), as OWASP
// ASVS 6.5.2 asks.
const (
	hashedPrefix   = "hashed:"
	hashedV1Prefix = hashedPrefix + "v1:"
	hashedV2Prefix = hashedPrefix + "v2:"
)

const codeAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// maxCodeLen bounds a presented backup code (longer input is refused
// before any work).
const maxCodeLen = 64

// normalizeCode drops the dash and white space users may type.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, code)
}

// newBackupCodes returns fresh codes shown as "XXXXX-XXXXX".
func (p *Plugin) newBackupCodes() []string {
	n, half := p.opts.BackupCodeLength, p.opts.BackupCodeLength/2
	out := make([]string, p.opts.BackupCodeAmount)
	for i := range out {
		c := plugin.RandomString(n, codeAlphabet)
		if half > 0 {
			c = c[:half] + "-" + c[half:]
		}
		out[i] = c
	}
	return out
}

func codeDigest(key, salt, code string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("two-factor-backup-code\x00" + salt + "\x00" + normalizeCode(code)))
	return hex.EncodeToString(m.Sum(nil))
}

// codeKey returns the HMAC key for new codes and the head of their stored
// value: the current secret, under its version when secrets are versioned.
func (p *Plugin) codeKey() (key, head string) {
	k := p.a.Keyring()
	if v, ok := k.CurrentVersion(); ok {
		return k.Current(), hashedV2Prefix + strconv.Itoa(v) + ":"
	}
	return k.Current(), hashedV1Prefix
}

// encodeCodes stores codes hashed under a fresh salt and the current secret.
func (p *Plugin) encodeCodes(codes []string) string {
	key, head := p.codeKey()
	salt := base64.RawURLEncoding.EncodeToString([]byte(plugin.RandomString(16, "")))
	digests := make([]string, len(codes))
	for i, c := range codes {
		digests[i] = codeDigest(key, salt, c)
	}
	return encodeDigests(head, salt, digests)
}

func encodeDigests(head, salt string, digests []string) string {
	if digests == nil {
		digests = []string{}
	}
	b, _ := json.Marshal(digests)
	return head + salt + ":" + string(b)
}

// storedCodes is a decoded backupCodes value.
type storedCodes struct {
	hashed  bool
	key     string // HMAC key of the digests (hashed)
	head    string // "hashed:v1:" or "hashed:v2:<version>:" (hashed)
	salt    string
	entries []string // digests (hashed) or the codes (Better Auth's formats)
}

var errBadCodes = errors.New("twofactor: unreadable backup codes")

func (p *Plugin) decodeCodes(stored string) (*storedCodes, error) {
	if strings.HasPrefix(stored, hashedPrefix) {
		return p.decodeHashed(stored)
	}
	plain := stored
	if !strings.HasPrefix(stored, "[") { // Better Auth's default: encrypted
		var err error
		if plain, err = p.a.Keyring().Decrypt(stored); err != nil {
			return nil, fmt.Errorf("%w: %w", errBadCodes, err)
		}
	}
	var codes []string
	if json.Unmarshal([]byte(plain), &codes) != nil {
		return nil, errBadCodes
	}
	return &storedCodes{entries: codes}, nil
}

// decodeHashed reads our hashed format and resolves its HMAC key.
func (p *Plugin) decodeHashed(stored string) (*storedCodes, error) {
	k := p.a.Keyring()
	sc := &storedCodes{hashed: true}
	var rest string
	if r, ok := strings.CutPrefix(stored, hashedV1Prefix); ok {
		key, ok := k.Legacy()
		if !ok {
			return nil, fmt.Errorf("%w: they were hashed with the un-versioned secret, which is not set (Config.Secret, BETTER_AUTH_SECRET): %w",
				errBadCodes, keyring.ErrNotConfigured)
		}
		sc.key, sc.head, rest = key, hashedV1Prefix, r
	} else if r, ok := strings.CutPrefix(stored, hashedV2Prefix); ok {
		ver, r, ok := strings.Cut(r, ":")
		v, err := strconv.Atoi(ver)
		if !ok || err != nil || v < 0 {
			return nil, errBadCodes
		}
		key, ok := k.Version(v)
		if !ok {
			return nil, fmt.Errorf("%w: they were hashed with secret version %d, which is not configured (Config.Secrets, BETTER_AUTH_SECRETS): %w",
				errBadCodes, v, keyring.ErrNotConfigured)
		}
		sc.key, sc.head, rest = key, hashedV2Prefix+ver+":", r
	} else {
		return nil, errBadCodes
	}
	salt, list, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, errBadCodes
	}
	if json.Unmarshal([]byte(list), &sc.entries) != nil {
		return nil, errBadCodes
	}
	sc.salt = salt
	return sc, nil
}

// remaining returns how many codes are left in a stored value.
func (p *Plugin) remaining(stored string) (int, error) {
	sc, err := p.decodeCodes(stored)
	if err != nil {
		return 0, err
	}
	return len(sc.entries), nil
}

// spend returns the stored value without code, or false if code is not
// among the stored codes. Every entry is compared, in constant time.
func (p *Plugin) spend(stored, code string) (string, bool, error) {
	sc, err := p.decodeCodes(stored)
	if err != nil {
		return "", false, err
	}
	idx := -1
	if sc.hashed {
		d := codeDigest(sc.key, sc.salt, code)
		for i, e := range sc.entries {
			if hmac.Equal([]byte(e), []byte(d)) && idx < 0 {
				idx = i
			}
		}
	} else {
		c := normalizeCode(code)
		for i, e := range sc.entries {
			if plugin.SecureEqual(normalizeCode(e), c) && idx < 0 {
				idx = i
			}
		}
	}
	if idx < 0 {
		return "", false, nil
	}
	rest := append(append([]string{}, sc.entries[:idx]...), sc.entries[idx+1:]...)
	if sc.hashed {
		return encodeDigests(sc.head, sc.salt, rest), true, nil // same key: the others' codes are unknown
	}
	return p.encodeCodes(rest), true, nil // Better Auth's format: re-store hashed
}

// VerifyBackupCode checks and spends a backup code: each code works once,
// even when two requests race. Signing in, it creates the session unless
// disableSession.
func (p *Plugin) VerifyBackupCode(ctx context.Context, at Attempt, code string, disableSession bool) (*plugin.AuthResult, error) {
	pd, err := p.resolve(ctx, at)
	if err != nil {
		return nil, err
	}
	r, err := p.findRow(ctx, pd.user.ID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, ErrBackupCodesNotEnabled
	}
	if err := p.assertNotLocked(ctx, r); err != nil {
		return nil, err
	}
	if code == "" || len(code) > maxCodeLen {
		return nil, ErrInvalidBackupCode
	}
	att, err := p.beginAttempt(ctx, pd)
	if err != nil {
		return nil, err
	}
	ok, err := p.spendCode(ctx, r, code)
	if err != nil {
		att.restore(ctx)
		return nil, err
	}
	if !ok {
		att.fail(ctx)
		p.recordFailure(ctx, r)
		return nil, ErrInvalidBackupCode
	}
	p.resetFailures(ctx, r)
	return p.complete(ctx, pd, at, !disableSession)
}

// spendCode removes code from the row's codes with a compare-and-swap on
// the stored value, retrying when another code was spent concurrently.
func (p *Plugin) spendCode(ctx context.Context, r *row, code string) (bool, error) {
	db := p.a.DB()
	stored := r.BackupCodes
	for range 8 {
		next, ok, err := p.spend(stored, code)
		if err != nil {
			if errors.Is(err, errBadCodes) {
				p.a.Logger().ErrorContext(ctx, "twofactor: backup codes unreadable", "user", r.UserID, "err", err)
				return false, nil
			}
			return false, err
		}
		if !ok {
			return false, nil
		}
		n, err := db.Update(ctx, TableTwoFactor, storage.Record{"backupCodes": next},
			storage.W("id", r.ID), storage.W("backupCodes", stored))
		if err != nil {
			return false, plugin.StorageError(err)
		}
		if n > 0 {
			return true, nil
		}
		rec, err := db.FindOne(ctx, TableTwoFactor, storage.W("id", r.ID))
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, plugin.StorageError(err)
		}
		stored = rec.String("backupCodes")
	}
	return false, plugin.NewError(409, "CONFLICT", "Failed to verify backup code. Please try again.")
}

// GenerateBackupCodes replaces the user's backup codes after checking the
// password and returns the new ones (shown once; only hashes are kept).
func (p *Plugin) GenerateBackupCodes(ctx context.Context, sd *plugin.SessionData, password string) ([]string, error) {
	u := sd.User
	if !Enabled(u) {
		return nil, ErrTwoFactorNotEnabled
	}
	if err := p.checkPassword(ctx, u.ID, password); err != nil {
		return nil, err
	}
	r, err := p.findRow(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, ErrTwoFactorNotEnabled
	}
	codes := p.newBackupCodes()
	if _, err := p.a.DB().Update(ctx, TableTwoFactor, storage.Record{"backupCodes": p.encodeCodes(codes)}, storage.W("id", r.ID)); err != nil {
		return nil, plugin.StorageError(err)
	}
	return codes, nil
}
