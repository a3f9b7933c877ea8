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
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
)

// hashedPrefix marks backup codes stored hashed:
//
//	hashed:v1:<salt>:["<hex>", …]
//
// each entry hex(HMAC-SHA256(key = auth secret, "two-factor-backup-code\x00"
// + salt + "\x00" + code)), the code without its dash. Better Auth's
// formats (an XChaCha envelope in hex, or a plain JSON array) never start
// with it. The HMAC key keeps a database dump alone from allowing offline
// guessing of the codes (which have ~60 bits), as OWASP ASVS 6.5.2 asks.
const hashedPrefix = "hashed:v1:"

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
		c := auth.RandomString(n, codeAlphabet)
		if half > 0 {
			c = c[:half] + "-" + c[half:]
		}
		out[i] = c
	}
	return out
}

func (p *Plugin) codeDigest(salt, code string) string {
	m := hmac.New(sha256.New, []byte(p.a.Secret()))
	m.Write([]byte("two-factor-backup-code\x00" + salt + "\x00" + normalizeCode(code)))
	return hex.EncodeToString(m.Sum(nil))
}

// encodeCodes stores codes hashed under a fresh salt.
func (p *Plugin) encodeCodes(codes []string) string {
	salt := base64.RawURLEncoding.EncodeToString([]byte(auth.RandomString(16, "")))
	return p.encodeDigests(salt, p.digests(salt, codes))
}

func (p *Plugin) digests(salt string, codes []string) []string {
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = p.codeDigest(salt, c)
	}
	return out
}

func (p *Plugin) encodeDigests(salt string, digests []string) string {
	if digests == nil {
		digests = []string{}
	}
	b, _ := json.Marshal(digests)
	return hashedPrefix + salt + ":" + string(b)
}

// storedCodes is a decoded backupCodes value.
type storedCodes struct {
	hashed  bool
	salt    string
	entries []string // digests (hashed) or the codes (Better Auth's formats)
}

var errBadCodes = errors.New("twofactor: unreadable backup codes")

func (p *Plugin) decodeCodes(stored string) (*storedCodes, error) {
	if rest, ok := strings.CutPrefix(stored, hashedPrefix); ok {
		salt, list, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, errBadCodes
		}
		var d []string
		if json.Unmarshal([]byte(list), &d) != nil {
			return nil, errBadCodes
		}
		return &storedCodes{hashed: true, salt: salt, entries: d}, nil
	}
	plain := stored
	if !strings.HasPrefix(stored, "[") { // Better Auth's default: encrypted
		var err error
		if plain, err = auth.Decrypt(p.a.Secret(), stored); err != nil {
			return nil, fmt.Errorf("%w: %w", errBadCodes, err)
		}
	}
	var codes []string
	if json.Unmarshal([]byte(plain), &codes) != nil {
		return nil, errBadCodes
	}
	return &storedCodes{entries: codes}, nil
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
		d := p.codeDigest(sc.salt, code)
		for i, e := range sc.entries {
			if hmac.Equal([]byte(e), []byte(d)) && idx < 0 {
				idx = i
			}
		}
	} else {
		c := normalizeCode(code)
		for i, e := range sc.entries {
			if auth.SecureEqual(normalizeCode(e), c) && idx < 0 {
				idx = i
			}
		}
	}
	if idx < 0 {
		return "", false, nil
	}
	rest := append(append([]string{}, sc.entries[:idx]...), sc.entries[idx+1:]...)
	if sc.hashed {
		return p.encodeDigests(sc.salt, rest), true, nil
	}
	return p.encodeCodes(rest), true, nil // Better Auth's format: re-store hashed
}

// VerifyBackupCode checks and spends a backup code: each code works once,
// even when two requests race. Signing in, it creates the session unless
// disableSession.
func (p *Plugin) VerifyBackupCode(ctx context.Context, at Attempt, code string, disableSession bool) (*auth.AuthResult, error) {
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
			return false, auth.StorageError(err)
		}
		if n > 0 {
			return true, nil
		}
		rec, err := db.FindOne(ctx, TableTwoFactor, storage.W("id", r.ID))
		if errors.Is(err, storage.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, auth.StorageError(err)
		}
		stored = rec.String("backupCodes")
	}
	return false, auth.NewError(409, "CONFLICT", "Failed to verify backup code. Please try again.")
}

// GenerateBackupCodes replaces the user's backup codes after checking the
// password and returns the new ones (shown once; only hashes are kept).
func (p *Plugin) GenerateBackupCodes(ctx context.Context, sd *auth.SessionData, password string) ([]string, error) {
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
		return nil, auth.StorageError(err)
	}
	return codes, nil
}
