package twofactor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/otp"
)

// otpHash is how a one-time code is stored: base64url(HMAC-SHA256(secret,
// key + code)), so the database never holds a usable code.
func (p *Plugin) otpHash(key, code string) string {
	m := hmac.New(sha256.New, []byte(p.a.Secret()))
	m.Write([]byte("two-factor-otp\x00" + key + "\x00" + code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// otpOptions are the codes of the row keyed key for package otp: six
// digits, stored as otpHash, "<hash>:<failed attempts>".
func (p *Plugin) otpOptions(key string) otp.Options {
	return otp.Options{Length: totpDigits, ExpiresIn: p.opts.OTPPeriod, AllowedAttempts: p.opts.OTPAllowedAttempts,
		Hash: func(code string) string { return p.otpHash(key, code) }}
}

// SendOTP makes a 6-digit one-time code for the attempt, valid OTPPeriod,
// and delivers it (Options.SendOTP, else an plugin.EmailOTP mail). A new
// code replaces the previous one. A pending sign-in gets one only if its
// user chose one-time codes (ErrOTPNotEnabled otherwise).
func (p *Plugin) SendOTP(ctx context.Context, at Attempt) error {
	pd, err := p.resolve(ctx, at)
	if err != nil {
		return err
	}
	if _, err := p.otpAllowed(ctx, pd); err != nil {
		return err
	}
	key := pd.otpKey()
	code, err := otp.Issue(ctx, p.a, otpID(key), p.otpOptions(key))
	if err != nil {
		return err
	}
	if err := p.deliverOTP(ctx, pd.user, code); err != nil {
		if derr := p.a.DeleteVerification(context.WithoutCancel(ctx), otpID(key)); derr != nil {
			p.a.Logger().ErrorContext(ctx, "twofactor: removing code after delivery failure", "err", derr)
		}
		return err
	}
	return nil
}

func (p *Plugin) deliverOTP(ctx context.Context, u *plugin.User, code string) error {
	if p.opts.SendOTP == nil {
		return p.a.SendEmail(ctx, plugin.Email{Kind: plugin.EmailOTP, To: u.Email, Name: plugin.GreetingName(u), Code: code})
	}
	if err := p.opts.SendOTP(ctx, u, code); err != nil {
		var ae *plugin.Error
		if errors.As(err, &ae) {
			return err
		}
		p.a.Logger().ErrorContext(ctx, "twofactor: sending one-time code failed", "err", err)
		return auth.ErrEmailSendFailed.With(err)
	}
	return nil
}

// VerifyOTP checks a one-time code sent by SendOTP. Inside a session, the
// first correct code of a user without two-factor turns it on (with the
// "otp" method) and rotates the session; signing in, it creates the
// session.
func (p *Plugin) VerifyOTP(ctx context.Context, at Attempt, code string) (*plugin.AuthResult, error) {
	pd, err := p.resolve(ctx, at)
	if err != nil {
		return nil, err
	}
	r, err := p.otpAllowed(ctx, pd) // signing in, the row is read here
	if err != nil {
		return nil, err
	}
	if !pd.signIn() && Enabled(pd.user) {
		if r, err = p.findRow(ctx, pd.user.ID); err != nil {
			return nil, err
		}
	}
	if pd.signIn() || Enabled(pd.user) {
		if err := p.assertNotLocked(ctx, r); err != nil {
			return nil, err
		}
	}
	if !validCodeFormat(code) {
		return nil, ErrInvalidCode
	}
	att, err := p.beginAttempt(ctx, pd)
	if err != nil {
		return nil, err
	}
	key := pd.otpKey()
	_, err = otp.Verify(ctx, p.a, otpID(key), code, p.otpOptions(key))
	switch {
	case errors.Is(err, otp.ErrMismatch):
		att.fail(ctx)
		p.recordFailure(ctx, r)
		return nil, ErrInvalidCode
	case err != nil:
		att.restore(ctx)
		switch {
		case errors.Is(err, otp.ErrNotFound) || errors.Is(err, otp.ErrExpired):
			return nil, ErrOTPHasExpired
		case errors.Is(err, otp.ErrTooManyAttempts):
			return nil, ErrTooManyAttempts
		}
		return nil, err
	}
	p.resetFailures(ctx, r)
	if !pd.signIn() && !Enabled(pd.user) {
		return p.turnOn(ctx, pd, at)
	}
	return p.complete(ctx, pd, at, true)
}
