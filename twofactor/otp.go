package twofactor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// otpHash is how a one-time code is stored: base64url(HMAC-SHA256(secret,
// key + code)), so the database never holds a usable code.
func (p *Plugin) otpHash(key, code string) string {
	m := hmac.New(sha256.New, []byte(p.a.Secret()))
	m.Write([]byte("two-factor-otp\x00" + key + "\x00" + code))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
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
	code := plugin.RandomString(totpDigits, "0123456789")
	if err := p.a.DeleteVerification(ctx, otpID(key)); err != nil {
		return err
	}
	if err := p.a.CreateVerification(ctx, otpID(key), p.otpHash(key, code)+":0", p.opts.OTPPeriod); err != nil {
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
	v, err := p.a.ConsumeVerification(ctx, otpID(key))
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		att.restore(ctx)
		return nil, ErrOTPHasExpired
	}
	if err != nil {
		att.restore(ctx)
		return nil, err
	}
	stored, counter, _ := strings.Cut(v.Value, ":")
	fails, _ := strconv.Atoi(counter)
	if fails >= p.opts.OTPAllowedAttempts {
		att.restore(ctx)
		return nil, ErrTooManyAttempts
	}
	if !hmac.Equal([]byte(stored), []byte(p.otpHash(key, code))) {
		if ttl := v.ExpiresAt.Sub(p.a.Now()); ttl > 0 {
			if err := p.a.CreateVerification(context.WithoutCancel(ctx), otpID(key), stored+":"+strconv.Itoa(fails+1), ttl); err != nil {
				p.a.Logger().ErrorContext(ctx, "twofactor: storing code attempts", "err", err)
			}
		}
		att.fail(ctx)
		p.recordFailure(ctx, r)
		return nil, ErrInvalidCode
	}
	p.resetFailures(ctx, r)
	if !pd.signIn() && !Enabled(pd.user) {
		return p.turnOn(ctx, pd, at)
	}
	return p.complete(ctx, pd, at, true)
}
