package twofactor

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TOTP parameters, Better Auth's.
const (
	totpDigits = 6
	totpPeriod = 30 // seconds
	totpSkew   = 1  // steps accepted before and after the current one
)

// secretAlphabet is Better Auth's generateRandomString alphabet, used for
// TOTP secrets and pending sign-in identifiers.
const secretAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"

// base32Prefix marks secrets imported from other providers, stored as
// "base32:<secret>" (Better Auth decodes them).
const base32Prefix = "base32:"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// totpKey returns the HMAC key of a decrypted secret: its UTF-8 bytes, or
// the decoded bytes of a "base32:" secret.
func totpKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, base32Prefix)
	if !ok {
		return []byte(secret), nil
	}
	return b32.DecodeString(strings.TrimRight(strings.ToUpper(rest), "="))
}

// hotpCode is RFC 4226's code for key and counter (SHA-1, 6 digits).
func hotpCode(key []byte, counter uint64) string {
	code, err := hotp.GenerateCodeCustom(b32.EncodeToString(key), counter,
		hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil { // only for a secret that is not base32, which ours always is
		panic("twofactor: " + err.Error())
	}
	return code
}

func timeStep(t time.Time) uint64 { return uint64(t.Unix() / totpPeriod) }

// TOTPCode returns the current code of a TOTP secret (as stored, once
// decrypted: the 32-character secret or a "base32:" secret) at t.
func TOTPCode(secret string, t time.Time) (string, error) {
	key, err := totpKey(secret)
	if err != nil {
		return "", err
	}
	return hotpCode(key, timeStep(t)), nil
}

// TOTPURI returns the otpauth URI an authenticator app scans, in Better
// Auth's form: otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=…&digits=6&period=30.
func TOTPURI(issuer, account, secret string) (string, error) {
	key, err := totpKey(secret)
	if err != nil {
		return "", err
	}
	return "otpauth://totp/" + plugin.EncodeURIComponent(issuer) + ":" + plugin.EncodeURIComponent(account) +
		"?secret=" + b32.EncodeToString(key) + "&issuer=" + formEncode(issuer) +
		fmt.Sprintf("&digits=%d&period=%d", totpDigits, totpPeriod), nil
}

// formEncode encodes s as URLSearchParams does
// (application/x-www-form-urlencoded): alphanumerics and *-._ are kept,
// space becomes +, everything else is percent-encoded UTF-8.
func formEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// validCodeFormat reports whether code can be a one-time code: exactly six
// ASCII digits.
func validCodeFormat(code string) bool {
	if len(code) != totpDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

// matchStep returns the time step (current ±1) whose code is code. All
// candidates are computed and compared in constant time.
func matchStep(key []byte, code string, now time.Time) (uint64, bool) {
	cur := timeStep(now)
	var step uint64
	found := false
	for d := -totpSkew; d <= totpSkew; d++ {
		s := uint64(int64(cur) + int64(d))
		if plugin.SecureEqual(hotpCode(key, s), code) {
			step, found = s, true
		}
	}
	return step, found
}

// stepRowID is the deterministic primary key of the verification row that
// holds the user's last accepted TOTP step: the key makes its creation
// first-writer-wins.
func stepRowID(userID string) string {
	sum := sha256.Sum256([]byte("two-factor-totp-step:" + userID))
	return "2fa-totp-" + hex.EncodeToString(sum[:])[:23]
}

func stepIdentifier(userID string) string { return "2fa-totp-step-" + userID }

// claimStep records step as the user's last accepted TOTP step if it is
// newer than the recorded one, and reports whether it was. Of concurrent
// claims of the same step exactly one wins; an older step never wins.
func (p *Plugin) claimStep(ctx context.Context, userID string, step uint64) (bool, error) {
	db := p.a.DB()
	id := stepRowID(userID)
	val := fmt.Sprintf("%020d", step) // fixed width: string order is numeric order
	for range 8 {
		now := p.a.Now()
		exp := now.Add(10 * time.Minute) // older steps are out of the window anyway
		n, err := db.Update(ctx, plugin.TableVerification, storage.Record{"value": val, "expiresAt": exp, "updatedAt": now},
			storage.W("id", id), storage.Where{Field: "value", Op: storage.Lt, Value: val})
		if err != nil {
			return false, plugin.StorageError(err)
		}
		if n > 0 {
			return true, nil
		}
		err = db.Create(ctx, plugin.TableVerification, storage.Record{"id": id, "identifier": stepIdentifier(userID),
			"value": val, "expiresAt": exp, "createdAt": now, "updatedAt": now})
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, storage.ErrConflict) {
			return false, plugin.StorageError(err)
		}
		rec, err := db.FindOne(ctx, plugin.TableVerification, storage.W("id", id))
		if errors.Is(err, storage.ErrNotFound) {
			continue // deleted meanwhile: try again
		}
		if err != nil {
			return false, plugin.StorageError(err)
		}
		if rec.String("value") >= val {
			return false, nil // this step (or a later one) was used
		}
		// An older step was recorded concurrently: try again.
	}
	return false, nil
}

// decryptSecret opens the stored secret and returns the HMAC key.
func (p *Plugin) decryptSecret(stored string) ([]byte, error) {
	plain, err := p.a.Keyring().Decrypt(stored)
	if err != nil {
		return nil, plugin.ErrInternal.With(fmt.Errorf("twofactor: decrypting TOTP secret: %w", err))
	}
	key, err := totpKey(plain)
	if err != nil {
		return nil, plugin.ErrInternal.With(fmt.Errorf("twofactor: decoding TOTP secret: %w", err))
	}
	return key, nil
}

// GetTOTPURI returns the otpauth URI of the user's secret (for showing the
// QR code again) after checking the password.
func (p *Plugin) GetTOTPURI(ctx context.Context, sd *plugin.SessionData, password string) (string, error) {
	if p.opts.DisableTOTP {
		return "", ErrTOTPNotConfigured
	}
	u := sd.User
	r, err := p.findRow(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if r == nil {
		return "", ErrTOTPNotEnabled
	}
	if err := p.checkPassword(ctx, u.ID, password); err != nil {
		return "", err
	}
	plain, err := p.a.Keyring().Decrypt(r.Secret)
	if err != nil {
		return "", plugin.ErrInternal.With(err)
	}
	uri, err := TOTPURI(p.issuer(""), u.Email, plain)
	if err != nil {
		return "", plugin.ErrInternal.With(err)
	}
	return uri, nil
}

// VerifyTOTP checks a TOTP code. With a session it completes enrolment
// (the first correct code turns two-factor on and rotates the session);
// with a pending sign-in it creates the session. A code is accepted once.
func (p *Plugin) VerifyTOTP(ctx context.Context, at Attempt, code string) (*plugin.AuthResult, error) {
	if p.opts.DisableTOTP {
		return nil, ErrTOTPNotConfigured
	}
	pd, err := p.resolve(ctx, at)
	if err != nil {
		return nil, err
	}
	r, err := p.findRow(ctx, pd.user.ID)
	if err != nil {
		return nil, err
	}
	if r == nil || pd.signIn() && !r.Verified {
		return nil, ErrTOTPNotEnabled
	}
	if err := p.assertNotLocked(ctx, r); err != nil {
		return nil, err
	}
	if !validCodeFormat(code) {
		return nil, ErrInvalidCode
	}
	att, err := p.beginAttempt(ctx, pd)
	if err != nil {
		return nil, err
	}
	key, err := p.decryptSecret(r.Secret)
	if err != nil {
		att.restore(ctx)
		return nil, err
	}
	step, ok := matchStep(key, code, p.a.Now())
	if ok {
		if ok, err = p.claimStep(ctx, pd.user.ID, step); err != nil {
			att.restore(ctx)
			return nil, err
		}
	}
	if !ok {
		att.fail(ctx)
		p.recordFailure(ctx, r)
		return nil, ErrInvalidCode
	}
	p.resetFailures(ctx, r)
	if !r.Verified {
		if _, err := p.a.DB().Update(ctx, TableTwoFactor, storage.Record{"verified": true}, storage.W("id", r.ID)); err != nil {
			return nil, plugin.StorageError(err)
		}
		if !pd.signIn() && !Enabled(pd.user) {
			return p.turnOn(ctx, pd, at)
		}
	}
	return p.complete(ctx, pd, at, true)
}
