package emailotp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/otp"
	"github.com/managarten/mana-auth/ratelimit"
)

// Type says what a code is for; it is part of the code's identifier, so a
// code of one type is never valid for another.
type Type string

// The types of code, as Better Auth names them.
const (
	// TypeSignIn signs in (and signs unknown emails up).
	TypeSignIn Type = "sign-in"
	// TypeEmailVerification verifies the address of an account.
	TypeEmailVerification Type = "email-verification"
	// TypeForgetPassword resets the password.
	TypeForgetPassword Type = "forget-password"
	// TypeChangeEmail is Better Auth's change of address by code, which
	// is off (as it is by default in Better Auth): no such code is ever
	// sent.
	TypeChangeEmail Type = "change-email"
)

// valid reports whether t is one of the four types.
func (t Type) valid() bool {
	switch t {
	case TypeSignIn, TypeEmailVerification, TypeForgetPassword, TypeChangeEmail:
		return true
	}
	return false
}

// identifier is the verification identifier of the code of type t for
// email (lower-cased): Better Auth's "<type>-otp-<email>".
func identifier(t Type, email string) string { return string(t) + "-otp-" + email }

// How a code is stored (Options.StoreOTP), as Better Auth's storeOTP.
const (
	// StorePlain stores the code as is (the default, as in Better Auth).
	StorePlain = otp.Plain
	// StoreHashed stores its SHA-256 (a short code is quickly found from
	// it: StoreEncrypted hides it better).
	StoreHashed = otp.Hashed
	// StoreEncrypted stores it sealed with the host's keyring.
	StoreEncrypted = otp.Encrypted
)

// Errors, with Better Auth's codes, messages and statuses.
var (
	ErrOTPExpired      = plugin.NewError(http.StatusBadRequest, "OTP_EXPIRED", "OTP expired")
	ErrInvalidOTP      = plugin.NewError(http.StatusBadRequest, "INVALID_OTP", "Invalid OTP")
	ErrTooManyAttempts = plugin.NewError(http.StatusForbidden, "TOO_MANY_ATTEMPTS", "Too many attempts")
)

// errInvalidEmail is the core's INVALID_EMAIL (the core declares it).
func errInvalidEmail() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "INVALID_EMAIL", "Invalid email")
}

// errPasswordTooShort and errPasswordTooLong are the core's codes (the
// core declares them).
func errPasswordTooShort() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "PASSWORD_TOO_SHORT", "Password too short")
}

func errPasswordTooLong() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "PASSWORD_TOO_LONG", "Password too long")
}

// errInvalidImage is the core's INVALID_IMAGE (the core declares it).
func errInvalidImage() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "INVALID_IMAGE", "Image must be a URL of at most 2048 characters")
}

// errInvalidOTPType answers a request for a change-email code, as Better
// Auth does: a message without a code.
func errInvalidOTPType() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "", "Invalid OTP type")
}

// errChangeEmailDisabled answers the change-email routes, as Better Auth
// does by default: a message without a code.
func errChangeEmailDisabled() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "", "Change email with OTP is disabled")
}

// Options configures the plugin. The zero value is Better Auth's
// defaults, except that a password reset ends the user's sessions unless
// the host keeps them (auth.Config.EmailPassword.KeepSessionsOnPasswordReset),
// as the core's reset does.
type Options struct {
	// OTPLength is the number of digits of a code: 4 to 32. Default 6.
	OTPLength int
	// ExpiresIn is the lifetime of a code. Default 5 minutes.
	ExpiresIn time.Duration
	// AllowedAttempts is how many wrong guesses a code survives; the next
	// guess, even the right code, is refused with TOO_MANY_ATTEMPTS.
	// Default 3.
	AllowedAttempts int
	// StoreOTP says how codes are kept in the database: StorePlain (the
	// default), StoreHashed or StoreEncrypted.
	StoreOTP otp.Storage
	// DisableSignUp refuses to sign unknown emails up: no sign-in code is
	// sent to them (the request answers the same) and a sign-in for one
	// is INVALID_OTP.
	DisableSignUp bool
	// SendVerificationOnSignUp mails an email-verification code after
	// every sign-up (POST /sign-up/…), as Better Auth's option does. Such
	// a code keeps the password the sign-up set when it verifies the
	// address. Turn the core's verification link off
	// (auth.Config.EmailVerification.SendOnSignUp) to send only the code.
	SendVerificationOnSignUp bool
	// AutoSignInAfterVerification creates a session when verify-email
	// succeeds even if the host's setting is off. By default the plugin
	// follows the host's auth.Config.EmailVerification.AutoSignInAfterVerification
	// (plugin.Settings), as Better Auth's reads
	// emailVerification.autoSignInAfterVerification.
	AutoSignInAfterVerification bool
	// KeepSessionsOnPasswordReset keeps the user's sessions when the
	// password is reset with a code even if the host's reset ends them.
	// By default the plugin follows the host's
	// auth.Config.EmailPassword.KeepSessionsOnPasswordReset (plugin.Settings):
	// a reset ends every session of the user unless it is set. (Better
	// Auth keeps them unless revokeSessionsOnPasswordReset.)
	KeepSessionsOnPasswordReset bool
	// SendVerificationOTP, if set, delivers the codes instead of the
	// host's Mailer (Better Auth's sendVerificationOTP): email is the
	// address (the account's when there is one), code the code, typ what
	// it is for. It runs in the background, after the route answered; an
	// error is logged.
	SendVerificationOTP func(ctx context.Context, email, code string, typ Type) error
}

// The interfaces the plugin implements.
var (
	_ plugin.Initializer     = (*Plugin)(nil)
	_ plugin.EndpointSource  = (*Plugin)(nil)
	_ plugin.HookSource      = (*Plugin)(nil)
	_ plugin.RateLimitSource = (*Plugin)(nil)
	_ plugin.ErrorSource     = (*Plugin)(nil)
	_ plugin.DataSource      = (*Plugin)(nil)
)

// Plugin is the email-otp plugin. Create it with New.
type Plugin struct {
	opts  Options
	codes otp.Options
	h     plugin.Host
	bg    background

	deprecation sync.Once
}

// New checks opts and returns the plugin.
func New(opts Options) (*Plugin, error) {
	switch {
	case opts.OTPLength != 0 && (opts.OTPLength < 4 || opts.OTPLength > 32):
		return nil, fmt.Errorf("emailotp: OTPLength must be between 4 and 32 (0 for the default 6), not %d", opts.OTPLength)
	case opts.ExpiresIn < 0:
		return nil, fmt.Errorf("emailotp: ExpiresIn must not be negative (0 for the default 5m), not %v", opts.ExpiresIn)
	case opts.AllowedAttempts < 0:
		return nil, fmt.Errorf("emailotp: AllowedAttempts must not be negative (0 for the default 3), not %d", opts.AllowedAttempts)
	}
	if opts.OTPLength == 0 {
		opts.OTPLength = 6
	}
	if opts.ExpiresIn == 0 {
		opts.ExpiresIn = 5 * time.Minute
	}
	if opts.AllowedAttempts == 0 {
		opts.AllowedAttempts = 3
	}
	if opts.StoreOTP == "" {
		opts.StoreOTP = StorePlain
	}
	codes := otp.Options{Length: opts.OTPLength, ExpiresIn: opts.ExpiresIn, AllowedAttempts: opts.AllowedAttempts, Storage: opts.StoreOTP}
	if err := codes.Check(); err != nil {
		return nil, fmt.Errorf("emailotp: StoreOTP: %w", err)
	}
	return &Plugin{opts: opts, codes: codes, bg: background{slots: make(chan struct{}, 256)}}, nil
}

// ID implements plugin.Plugin.
func (p *Plugin) ID() string { return "email-otp" }

// Init implements plugin.Initializer: codes need a way out.
func (p *Plugin) Init(h plugin.Host) error {
	if p.opts.SendVerificationOTP == nil && !h.Settings().Mail {
		return errors.New("emailotp: the codes need the auth Config.Mailer, or Options.SendVerificationOTP")
	}
	p.h = h
	return nil
}

// ErrorCodes implements plugin.ErrorSource: Better Auth's EMAIL_OTP_ERROR_CODES.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{ErrOTPExpired, ErrInvalidOTP, ErrTooManyAttempts}
}

// Paths of the routes, relative to the base path.
const (
	pathSend          = "/email-otp/send-verification-otp"
	pathCheck         = "/email-otp/check-verification-otp"
	pathSignIn        = "/sign-in/email-otp"
	pathVerifyEmail   = "/email-otp/verify-email"
	pathRequestReset  = "/email-otp/request-password-reset"
	pathForget        = "/forget-password/email-otp"
	pathReset         = "/email-otp/reset-password"
	pathRequestChange = "/email-otp/request-email-change"
	pathChangeEmail   = "/email-otp/change-email"
)

// RateLimits implements plugin.RateLimitSource: 3 requests per 60 s per
// client on each route, as Better Auth.
func (p *Plugin) RateLimits() map[string]ratelimit.Rule {
	r := ratelimit.Rule{Window: time.Minute, Max: 3}
	out := map[string]ratelimit.Rule{}
	for _, path := range []string{pathSend, pathCheck, pathSignIn, pathVerifyEmail, pathRequestReset, pathForget,
		pathReset, pathRequestChange, pathChangeEmail} {
		out[path] = r
	}
	return out
}

// Hooks implements plugin.HookSource: with SendVerificationOnSignUp, the
// code after each sign-up.
func (p *Plugin) Hooks() plugin.Hooks {
	if !p.opts.SendVerificationOnSignUp {
		return plugin.Hooks{}
	}
	return plugin.Hooks{After: []plugin.Hook{{Match: plugin.PathIs("/sign-up*"), Handler: p.afterSignUp}}}
}

// Endpoints implements plugin.EndpointSource.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	email := plugin.Required("email", plugin.KindString)
	code := plugin.Required("otp", plugin.KindString)
	typ := plugin.Optional("type", plugin.KindAny) // an enum, checked by the handlers
	return []plugin.Endpoint{
		{Method: "POST", Path: pathSend, LoginCSRF: true, Handler: p.handleSend, Body: []plugin.Param{email, typ}},
		{Method: "POST", Path: pathCheck, Handler: p.handleCheck, Body: []plugin.Param{email, typ, code}},
		{Method: "POST", Path: pathSignIn, LoginCSRF: true, AdditionalFields: true, Handler: p.handleSignIn,
			Body: []plugin.Param{email, code, plugin.Optional("name", plugin.KindString), plugin.Optional("image", plugin.KindString)}},
		{Method: "POST", Path: pathVerifyEmail, LoginCSRF: true, Handler: p.handleVerifyEmail, Body: []plugin.Param{email, code}},
		{Method: "POST", Path: pathRequestReset, Handler: p.handleRequestReset, Body: []plugin.Param{email}},
		{Method: "POST", Path: pathForget, Handler: p.handleForgetPassword, Body: []plugin.Param{email}},
		{Method: "POST", Path: pathReset, Handler: p.handleReset,
			Body: []plugin.Param{email, code, plugin.Required("password", plugin.KindString)}},
		{Method: "POST", Path: pathRequestChange, Auth: plugin.SessionRequired, Sensitive: true, Handler: p.handleChangeEmail,
			Body: []plugin.Param{plugin.Required("newEmail", plugin.KindString), plugin.Optional("otp", plugin.KindString)}},
		{Method: "POST", Path: pathChangeEmail, Auth: plugin.SessionRequired, Sensitive: true, Handler: p.handleChangeEmail,
			Body: []plugin.Param{plugin.Required("newEmail", plugin.KindString), code}},
	}
}

// background runs deliveries off the request path, so that neither the
// answer nor its timing depends on the mail (or on whether one is sent).
type background struct {
	wg    sync.WaitGroup
	slots chan struct{}
}

// run runs fn detached from the request (its values kept, its
// cancellation dropped). When too much is already running it runs fn in
// the caller instead, which slows that caller rather than dropping a code.
func (b *background) run(ctx context.Context, fn func(context.Context)) {
	ctx = context.WithoutCancel(ctx)
	select {
	case b.slots <- struct{}{}:
	default:
		fn(ctx)
		return
	}
	b.wg.Add(1)
	go func() {
		defer func() { <-b.slots; b.wg.Done() }()
		fn(ctx)
	}()
}

// Shutdown waits until the codes being delivered through
// Options.SendVerificationOTP are out, or ctx ends. Codes by mail leave
// through the host's mail queue, which auth.(*Auth).Shutdown waits for:
// call both when stopping the server.
func (p *Plugin) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.bg.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// hookTimeout bounds a call of Options.SendVerificationOTP.
const hookTimeout = time.Minute

// deliver sends code to email in the background: through
// Options.SendVerificationOTP, else as a plugin.EmailVerificationOTP mail
// greeting name on the host's mail queue (Host.SendEmailInBackground). A
// failure is logged (by the host for a mail, which also logs a mail the
// full queue dropped); the code stays until it expires, known to nobody.
func (p *Plugin) deliver(ctx context.Context, email, name, code string, typ Type) {
	if p.opts.SendVerificationOTP == nil {
		_ = p.h.SendEmailInBackground(ctx, plugin.Email{Kind: plugin.EmailVerificationOTP, To: email, Name: name, Code: code,
			Data: map[string]string{"type": string(typ)}}, nil)
		return
	}
	p.bg.run(ctx, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, hookTimeout)
		defer cancel()
		if err := p.opts.SendVerificationOTP(ctx, email, code, typ); err != nil {
			p.h.Logger().ErrorContext(ctx, "emailotp: SendVerificationOTP failed", "type", string(typ), "err", err)
		}
	})
}
