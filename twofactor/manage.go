package twofactor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// EnableInput is the input of Enable.
type EnableInput struct {
	// Password confirms the change (see Options.AllowPasswordless).
	Password string
	// Method is MethodTOTP (default) or MethodOTP.
	Method string
	// Issuer overrides Options.Issuer in the otpauth URI.
	Issuer string
	// DontRemember carries the dont_remember cookie for a rotated session.
	DontRemember bool
}

// EnableResult is the outcome of Enable.
type EnableResult struct {
	// Method is the method enabled.
	Method string `json:"method"`
	// TOTPURI is the otpauth URI to show as a QR code (TOTP).
	TOTPURI string `json:"totpURI,omitempty"`
	// BackupCodes are shown to the user once; only hashes are kept (TOTP).
	BackupCodes []string `json:"backupCodes,omitempty"`
	// Session is the replacement session when two-factor was turned on at
	// once (OTP, or SkipVerificationOnEnable), with its cookies.
	Session *plugin.AuthResult `json:"-"`
}

// rowID is the primary key of a user's twoFactor row when we create it:
// deterministic, so two concurrent enables cannot make two rows.
func rowID(userID string) string {
	sum := sha256.Sum256([]byte("two-factor-row:" + userID))
	return hex.EncodeToString(sum[:])[:32]
}

// Enable starts two-factor for the signed-in user after checking the
// password. TOTP stores a new, unverified secret and backup codes and
// returns the otpauth URI; two-factor is on after the first correct code
// (VerifyTOTP). OTP turns two-factor on at once.
func (p *Plugin) Enable(ctx context.Context, sd *plugin.SessionData, in EnableInput) (*EnableResult, error) {
	u := sd.User
	if err := p.checkPassword(ctx, u.ID, in.Password); err != nil {
		return nil, err
	}
	switch in.Method {
	case MethodOTP:
		if !p.OTPEnabled() {
			return nil, ErrOTPNotConfigured
		}
		// A user with TOTP keeps it: codes by mail would be a weaker
		// way around it, not a second choice.
		if r, err := p.findRow(ctx, u.ID); err != nil {
			return nil, err
		} else if r != nil && r.Verified {
			return nil, ErrTOTPAlreadyEnabled
		}
		nu, err := p.setEnabled(ctx, u.ID, true)
		if err != nil {
			return nil, err
		}
		res, err := p.rotate(ctx, sd, nu, in.DontRemember)
		if err != nil {
			return nil, err
		}
		return &EnableResult{Method: MethodOTP, Session: res}, nil
	case "", MethodTOTP:
	default:
		return nil, plugin.ErrValidation.WithMessage(`[body.method] Invalid option: expected one of "otp"|"totp"`)
	}
	if p.opts.DisableTOTP {
		return nil, ErrTOTPNotConfigured
	}
	existing, err := p.findRow(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if existing != nil && existing.Verified {
		return nil, ErrTOTPAlreadyEnabled
	}
	secret := plugin.RandomString(32, secretAlphabet)
	codes := p.newBackupCodes()
	out := &EnableResult{Method: MethodTOTP, BackupCodes: codes}
	if out.TOTPURI, err = TOTPURI(p.issuer(in.Issuer), u.Email, secret); err != nil {
		return nil, plugin.ErrInternal.With(err)
	}
	data := storage.Record{"secret": p.a.Keyring().Encrypt(secret), "backupCodes": p.encodeCodes(codes),
		"verified": p.opts.SkipVerificationOnEnable}
	if err := p.storeRow(ctx, u.ID, existing, data); err != nil {
		return nil, err
	}
	if p.opts.SkipVerificationOnEnable {
		nu, err := p.setEnabled(ctx, u.ID, true)
		if err != nil {
			return nil, err
		}
		if out.Session, err = p.rotate(ctx, sd, nu, in.DontRemember); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storeRow writes a new secret and codes to the user's row (existing, or
// a new one).
func (p *Plugin) storeRow(ctx context.Context, userID string, existing *row, data storage.Record) error {
	db := p.a.DB()
	if existing != nil {
		if _, err := db.Update(ctx, TableTwoFactor, data, storage.W("id", existing.ID)); err != nil {
			return plugin.StorageError(err)
		}
		return nil
	}
	id := rowID(userID)
	rec := storage.Record{"id": id, "userId": userID, "failedVerificationCount": int64(0)}
	for k, v := range data {
		rec[k] = v
	}
	err := db.Create(ctx, TableTwoFactor, rec)
	if errors.Is(err, storage.ErrConflict) { // a concurrent enable: the last one wins
		n, err := db.Update(ctx, TableTwoFactor, data, storage.W("id", id), storage.W("verified", false))
		if err != nil {
			return plugin.StorageError(err)
		}
		if n == 0 {
			return ErrTOTPAlreadyEnabled
		}
		return nil
	}
	if err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// DisableInput is the input of Disable.
type DisableInput struct {
	// Password confirms the change.
	Password string
	// DontRemember carries the dont_remember cookie for the new session.
	DontRemember bool
}

// Disable turns two-factor off after checking the password: it deletes
// the secret, the backup codes and every trusted device of the user, and
// replaces the session. The result carries the new session and its
// cookies.
func (p *Plugin) Disable(ctx context.Context, sd *plugin.SessionData, in DisableInput) (*plugin.AuthResult, error) {
	u := sd.User
	if err := p.checkPassword(ctx, u.ID, in.Password); err != nil {
		return nil, err
	}
	nu, err := p.setEnabled(ctx, u.ID, false)
	if err != nil {
		return nil, err
	}
	if _, err := p.a.DB().Delete(ctx, TableTwoFactor, storage.W("userId", u.ID)); err != nil {
		return nil, plugin.StorageError(err)
	}
	if err := p.forgetDevices(ctx, u.ID); err != nil {
		return nil, err
	}
	return p.rotate(ctx, sd, nu, in.DontRemember)
}
