package twofactor

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
)

// TableTwoFactor is the logical name of the table holding each user's TOTP
// secret and backup codes.
const TableTwoFactor = "twoFactor"

// FieldTwoFactorEnabled is the user field that says whether sign-ins of the
// user need a second factor. NULL (rows from before the plugin) means false.
const FieldTwoFactorEnabled = "twoFactorEnabled"

// Cookie names (before the prefix), as Better Auth names them.
const (
	CookieTwoFactor   = "two_factor"
	CookieTrustDevice = "trust_device"
)

// Methods listed in twoFactorMethods.
const (
	MethodTOTP = "totp"
	MethodOTP  = "otp"
)

// Errors, with Better Auth's codes, messages and statuses.
var (
	ErrOTPNotEnabled          = plugin.NewError(http.StatusBadRequest, "OTP_NOT_ENABLED", "OTP not enabled")
	ErrOTPNotConfigured       = plugin.NewError(http.StatusBadRequest, "OTP_NOT_CONFIGURED", "OTP is not available")
	ErrOTPHasExpired          = plugin.NewError(http.StatusBadRequest, "OTP_HAS_EXPIRED", "OTP has expired")
	ErrTOTPNotEnabled         = plugin.NewError(http.StatusBadRequest, "TOTP_NOT_ENABLED", "TOTP not enabled")
	ErrTOTPAlreadyEnabled     = plugin.NewError(http.StatusBadRequest, "TOTP_ALREADY_ENABLED", "TOTP is already enabled")
	ErrTOTPNotConfigured      = plugin.NewError(http.StatusBadRequest, "TOTP_NOT_CONFIGURED", "TOTP is not available")
	ErrTwoFactorNotEnabled    = plugin.NewError(http.StatusBadRequest, "TWO_FACTOR_NOT_ENABLED", "Two factor isn't enabled")
	ErrBackupCodesNotEnabled  = plugin.NewError(http.StatusBadRequest, "BACKUP_CODES_NOT_ENABLED", "Backup codes aren't enabled")
	ErrInvalidBackupCode      = plugin.NewError(http.StatusUnauthorized, "INVALID_BACKUP_CODE", "Invalid backup code")
	ErrInvalidCode            = plugin.NewError(http.StatusUnauthorized, "INVALID_CODE", "Invalid code")
	ErrTooManyAttempts        = plugin.NewError(http.StatusBadRequest, "TOO_MANY_ATTEMPTS_REQUEST_NEW_CODE", "Too many attempts. Please request a new code.")
	ErrAccountLocked          = plugin.NewError(http.StatusTooManyRequests, "ACCOUNT_TEMPORARILY_LOCKED", "Too many failed verification attempts. Your account is temporarily locked. Please try again later.")
	ErrInvalidTwoFactorCookie = plugin.NewError(http.StatusUnauthorized, "INVALID_TWO_FACTOR_COOKIE", "Invalid two factor cookie")
)

// Options configures the plugin. The zero value is Better Auth's defaults
// plus enforcement on every sign-in method.
type Options struct {
	// Issuer names the account in authenticator apps. Default: the auth
	// Config.AppName. The enable route's "issuer" overrides it.
	Issuer string
	// AllowPasswordless lets users without a password (magic link,
	// passkey) enable, disable and manage two-factor without one. Users
	// with a password must always give it.
	AllowPasswordless bool
	// SkipVerificationOnEnable turns two-factor on at enable, without a
	// first TOTP code (not recommended: a mistyped secret locks the user
	// out).
	SkipVerificationOnEnable bool
	// DisableTOTP turns the TOTP routes off (for OTP-only deployments).
	DisableTOTP bool

	// EnforceOnAllSignIns makes every first-factor sign-in (magic link,
	// passkey, auto sign-in after email verification, …) meet the second
	// step. Nil means true. With false only email-and-password sign-ins are
	// intercepted, as Better Auth does.
	EnforceOnAllSignIns *bool
	// TwoFactorPage, if set, is where sign-ins that end in a browser
	// navigation (a magic link) are sent when a second factor is due
	// (relative to BaseURL or absolute and trusted).
	TwoFactorPage string
	// TwoFactorCookieMaxAge is how long a pending sign-in waits for its
	// second factor. Default 10 minutes.
	TwoFactorCookieMaxAge time.Duration
	// TrustDeviceMaxAge is how long a trusted device skips the second
	// factor. Default 30 days.
	TrustDeviceMaxAge time.Duration
	// MaxAttempts is how many wrong codes a pending sign-in survives.
	// Default 5.
	MaxAttempts int
	// LockoutThreshold is how many consecutive wrong codes lock the user's
	// second factor; LockoutDuration how long. Defaults 10 and 15 minutes.
	LockoutThreshold int
	LockoutDuration  time.Duration
	// DisableLockout turns the account lockout off.
	DisableLockout bool

	// OTP turns on one-time codes sent by mail (an plugin.EmailOTP mail
	// through the auth Mailer, which must be configured) as a second
	// factor users may choose (enable with method "otp"). Off by default:
	// a code sent to the mailbox is a weaker second factor than an
	// authenticator, since whoever holds the mailbox also holds the
	// password reset. Either way a user is only offered the factors they
	// enrolled: a user with TOTP never gets a code by mail.
	OTP bool
	// SendOTP delivers one-time codes some other way (SMS, …); setting it
	// turns OTP on.
	SendOTP func(ctx context.Context, u *plugin.User, code string) error
	// OTPPeriod is the lifetime of a one-time code. Default 3 minutes.
	OTPPeriod time.Duration
	// OTPAllowedAttempts is how many wrong guesses a one-time code
	// survives. Default 5.
	OTPAllowedAttempts int

	// BackupCodeAmount is how many backup codes are made. Default 10.
	BackupCodeAmount int
	// BackupCodeLength is the number of characters of a backup code
	// ([a-zA-Z0-9], shown split by a dash). Default 10.
	BackupCodeLength int
}

// The interfaces the plugin implements.
var (
	_ plugin.Initializer     = (*Plugin)(nil)
	_ plugin.EndpointSource  = (*Plugin)(nil)
	_ plugin.SchemaSource    = (*Plugin)(nil)
	_ plugin.HookSource      = (*Plugin)(nil)
	_ plugin.RateLimitSource = (*Plugin)(nil)
	_ plugin.DataSource      = (*Plugin)(nil)
	_ plugin.ErrorSource     = (*Plugin)(nil)
)

// Plugin is the two-factor plugin. Create it with New.
type Plugin struct {
	opts Options
	a    plugin.Host
}

// New returns the plugin.
func New(opts Options) *Plugin {
	if opts.TwoFactorCookieMaxAge <= 0 {
		opts.TwoFactorCookieMaxAge = 10 * time.Minute
	}
	if opts.TrustDeviceMaxAge <= 0 {
		opts.TrustDeviceMaxAge = 30 * 24 * time.Hour
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.LockoutThreshold <= 0 {
		opts.LockoutThreshold = 10
	}
	if opts.LockoutDuration <= 0 {
		opts.LockoutDuration = 15 * time.Minute
	}
	if opts.OTPPeriod <= 0 {
		opts.OTPPeriod = 3 * time.Minute
	}
	if opts.OTPAllowedAttempts <= 0 {
		opts.OTPAllowedAttempts = 5
	}
	if opts.BackupCodeAmount <= 0 {
		opts.BackupCodeAmount = 10
	}
	if opts.BackupCodeLength <= 0 {
		opts.BackupCodeLength = 10
	}
	return &Plugin{opts: opts}
}

// ID implements plugin.Plugin.
func (p *Plugin) ID() string { return "two-factor" }

// ErrorCodes implements plugin.ErrorSource: the package's Err variables,
// one per code.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{
		ErrOTPNotEnabled, ErrOTPNotConfigured, ErrOTPHasExpired,
		ErrTOTPNotEnabled, ErrTOTPAlreadyEnabled, ErrTOTPNotConfigured,
		ErrTwoFactorNotEnabled, ErrBackupCodesNotEnabled, ErrInvalidBackupCode,
		ErrInvalidCode, ErrTooManyAttempts, ErrAccountLocked, ErrInvalidTwoFactorCookie,
	}
}

// Init implements plugin.Initializer.
func (p *Plugin) Init(a plugin.Host) error {
	p.a = a
	if p.opts.BackupCodeLength > 64 {
		return errors.New("twofactor: BackupCodeLength must be at most 64")
	}
	if p.opts.OTP && p.opts.SendOTP == nil && !a.Settings().Mail {
		return errors.New("twofactor: Options.OTP needs the auth Config.Mailer (or Options.SendOTP)")
	}
	return nil
}

// Schema implements plugin.SchemaSource: user.twoFactorEnabled and the
// twoFactor table, with Better Auth's names.
func (p *Plugin) Schema() storage.Schema {
	userRef := &storage.Reference{Table: plugin.TableUser, Field: "id", OnDelete: storage.Cascade}
	return storage.Schema{Tables: []storage.Table{
		{Name: plugin.TableUser, Fields: []storage.Field{{Name: FieldTwoFactorEnabled, Type: storage.Bool}}},
		{Name: TableTwoFactor, Fields: []storage.Field{
			{Name: "secret", Type: storage.String, Required: true, Index: true},
			{Name: "backupCodes", Type: storage.String, Required: true},
			{Name: "userId", Type: storage.String, Required: true, Index: true, References: userRef},
			// No defaults in storage.Field: NULL reads as Better Auth's
			// defaults (verified true, count 0).
			{Name: "verified", Type: storage.Bool},
			{Name: "failedVerificationCount", Type: storage.Int},
			{Name: "lockedUntil", Type: storage.Date},
		}},
	}}
}

// RateLimits implements plugin.RateLimitSource: 3 requests per 10 s per IP
// on every /two-factor/ route, as Better Auth.
func (p *Plugin) RateLimits() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{"/two-factor/*": {Window: 10 * time.Second, Max: 3}}
}

// Hooks implements plugin.HookSource.
func (p *Plugin) Hooks() plugin.Hooks {
	return plugin.Hooks{
		BeforeUserCreate:    p.beforeUserCreate,
		BeforeSessionCreate: p.beforeSessionCreate,
	}
}

func (p *Plugin) enforceAll() bool {
	return p.opts.EnforceOnAllSignIns == nil || *p.opts.EnforceOnAllSignIns
}

// OTPEnabled reports whether users may choose one-time codes as their
// second factor (Options.OTP or Options.SendOTP).
func (p *Plugin) OTPEnabled() bool {
	return p.opts.SendOTP != nil || p.opts.OTP
}

func (p *Plugin) issuer(override string) string {
	switch {
	case override != "":
		return override
	case p.opts.Issuer != "":
		return p.opts.Issuer
	}
	return p.a.Settings().AppName
}

// beforeUserCreate stores twoFactorEnabled false on new users, as Better
// Auth's default value does.
func (p *Plugin) beforeUserCreate(_ context.Context, u *plugin.User) error {
	if u.Extra == nil {
		u.Extra = map[string]any{}
	}
	if _, ok := u.Extra[FieldTwoFactorEnabled]; !ok {
		u.Extra[FieldTwoFactorEnabled] = false
	}
	return nil
}

// Enabled reports whether the user's sign-ins need a second factor.
func Enabled(u *plugin.User) bool {
	if u == nil {
		return false
	}
	b, _ := u.Extra[FieldTwoFactorEnabled].(bool)
	return b
}

// setEnabled stores the user's twoFactorEnabled flag and returns the
// updated user.
func (p *Plugin) setEnabled(ctx context.Context, userID string, on bool) (*plugin.User, error) {
	return p.a.UpdateUser(ctx, userID, map[string]any{FieldTwoFactorEnabled: on})
}

// row is a twoFactor record.
type row struct {
	ID          string
	Secret      string
	BackupCodes string
	UserID      string
	Verified    bool
	Failed      *int64
	LockedUntil *time.Time
}

func rowFromRecord(r storage.Record) *row {
	out := &row{ID: r.String("id"), Secret: r.String("secret"), BackupCodes: r.String("backupCodes"),
		UserID: r.String("userId"), Verified: true, LockedUntil: r.TimePtr("lockedUntil")}
	if v, ok := r["verified"].(bool); ok {
		out.Verified = v
	}
	if n, ok := r["failedVerificationCount"].(int64); ok {
		out.Failed = &n
	}
	return out
}

// findRow returns the user's twoFactor row, or nil.
func (p *Plugin) findRow(ctx context.Context, userID string) (*row, error) {
	rec, err := p.a.DB().FindOne(ctx, TableTwoFactor, storage.W("userId", userID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return rowFromRecord(rec), nil
}

// checkPassword confirms a sensitive change with the user's password, as
// Better Auth does: required (and checked) unless AllowPasswordless and
// the user has no password.
func (p *Plugin) checkPassword(ctx context.Context, userID, password string) error {
	if password == "" && !p.opts.AllowPasswordless {
		return auth.ErrInvalidPassword
	}
	err := p.a.CheckPassword(ctx, userID, password)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrCredentialAccountNotFound):
		if p.opts.AllowPasswordless {
			return nil // no password to confirm with
		}
		return auth.ErrInvalidPassword
	}
	return err
}
