package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/storage"

	"github.com/managarten/mana-auth/ratelimit"
)

// Config configures an Auth. The zero value of every field means Better
// Auth's default, except where noted; only BaseURL and Secret are required.
type Config struct {
	// BaseURL is the public URL of the server, e.g. "https://auth.example.com".
	// Its origin is always trusted; an https URL turns on secure cookies.
	BaseURL string
	// BasePath is where the routes live. Default "/api/auth".
	BasePath string
	// Secret signs cookies and tokens and encrypts keys at rest. At least
	// 32 characters. With the same secret as a Better Auth server, cookies
	// minted by either are accepted by both. With Secrets set it is
	// optional and only opens data sealed before versions were configured
	// (Better Auth's legacy secret), so it may then be of any length.
	Secret string
	// Secrets are versioned secrets for rotation, as Better Auth's
	// `secrets` option (and its BETTER_AUTH_SECRETS variable, which
	// keyring.Parse reads). The first is current: it alone signs cookies,
	// HMACs and tokens, and seals new data as "$ba$<version>$<hex>" (JWT
	// private keys, two-factor secrets). The others only open data sealed
	// under their version. Versions are non-negative and unique; the
	// current value has at least 32 characters. See keyring.New.
	Secrets []keyring.Version
	// AppName names the application in mails and authenticator apps.
	AppName string

	// TrustedOrigins are origins (or patterns such as "https://*.example.com")
	// allowed besides BaseURL's own, for the Origin check and redirect URLs.
	TrustedOrigins []string
	// TrustedProxies lists the IPs or CIDRs of reverse proxies. Only when the
	// peer is one of them are the IP headers read (walking the list from the
	// right and skipping trusted hops); otherwise the peer address is the
	// client IP.
	TrustedProxies []string
	// IPHeaders are the headers that carry the client IP. Default
	// ["X-Forwarded-For"].
	IPHeaders []string
	// DisableOriginCheck turns off the Origin check (not recommended).
	DisableOriginCheck bool

	// EmailPassword configures email and password sign-in.
	EmailPassword EmailPasswordConfig
	// Session configures session lifetime and refresh.
	Session SessionConfig
	// Cookies configures cookie names and attributes.
	Cookies CookieConfig
	// RateLimit configures the rate limiter.
	RateLimit RateLimitConfig
	// User configures the user routes.
	User UserConfig
	// Account configures the accounts (the ways a user signs in: a
	// password, each linked provider), Better Auth's account option.
	Account AccountConfig
	// Mailer delivers emails (verification, password reset, and the
	// plugins' mails). Without one, the flows that need mail answer 400 as
	// Better Auth does when they are not configured.
	Mailer Mailer
	// MailTimeout bounds each send. Default 10s.
	MailTimeout time.Duration
	// MailQueue bounds how many mails may wait to be sent. The core's
	// mails (verification, password reset, change of email) and the
	// plugins' background mails (magic link, codes by mail) are queued and
	// sent off the request path; when the queue is full a mail is dropped,
	// logged and counted (Auth.Stats). Default 1000.
	MailQueue int
	// MailConcurrency bounds how many queued mails are sent at once.
	// Default 16.
	MailConcurrency int
	// EmailVerification configures email verification.
	EmailVerification EmailVerificationConfig
	// Bearer turns on Better Auth's bearer plugin behaviour: the
	// "set-auth-token" response header and "Authorization: Bearer" sessions,
	// for native apps that cannot keep cookies.
	Bearer bool

	// Hasher hashes passwords. Default ScryptHasher (Better Auth's format).
	Hasher Hasher
	// HashConcurrency bounds how many password hashes run at once.
	// Default runtime.NumCPU().
	HashConcurrency int
	// HashQueue bounds how many hash requests may wait for a slot, in
	// arrival order; beyond it requests fail at once with ErrBusy (503
	// SERVICE_BUSY with Retry-After). Default 64 per slot.
	HashQueue int
	// HashMaxWait bounds the wait for a hash slot. A request whose
	// expected wait (the hashes queued ahead of it at the measured time
	// per hash) is longer is refused at once with ErrBusy, its Retry-After
	// saying when the queue should have room; one admitted to the queue
	// gives up only after twice HashMaxWait. Default 5s.
	HashMaxWait time.Duration

	// MaxBodyBytes limits request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time; tests may replace it. Default time.Now.
	Now func() time.Time
	// TableNames overrides table names: logical name to database name,
	// e.g. {"user": "users"}. A shorthand for Naming.Tables (a table named
	// in both must be named alike).
	TableNames map[string]string
	// Naming maps the logical names of the core's and every plugin's
	// tables and fields to those of the database, as Better Auth's
	// modelName, fields and usePlural options do, and declares columns of
	// a database type of their own (a PostgreSQL enum); see
	// storage.Naming. auth.New applies it once every plugin's tables are
	// known and fails for a table or field the schema lacks, a column
	// named twice or an invalid name. Entries for Better Auth's
	// "rateLimit" table are the rate-limit store's
	// (ratelimit/postgres.Options.Naming).
	Naming storage.Naming
}

// EmailPasswordConfig configures email and password sign-in.
type EmailPasswordConfig struct {
	// Disabled turns email and password sign-in and sign-up off.
	Disabled bool
	// DisableSignUp refuses new sign-ups (sign-in still works).
	DisableSignUp bool
	// MinPasswordLength default 8; MaxPasswordLength default 128
	// (counted in UTF-16 code units, as JavaScript does).
	MinPasswordLength, MaxPasswordLength int
	// DisableAutoSignIn makes sign-up return no session.
	DisableAutoSignIn bool
	// RequireEmailVerification refuses sign-in until the email is verified.
	RequireEmailVerification bool
	// KeepSessionsOnPasswordReset keeps the user's sessions when the
	// password is reset. By default a reset ends them all, so that whoever
	// knew the old password is signed out (Better Auth keeps them unless
	// revokeSessionsOnPasswordReset).
	KeepSessionsOnPasswordReset bool
	// ResetPasswordTokenExpiresIn is the lifetime of reset links.
	// Default 1 hour.
	ResetPasswordTokenExpiresIn time.Duration
}

// EmailVerificationConfig configures email verification.
type EmailVerificationConfig struct {
	// SendOnSignUp mails a verification link on sign-up. It is implied by
	// EmailPassword.RequireEmailVerification.
	SendOnSignUp bool
	// SendOnSignIn mails a new link when sign-in is refused for an
	// unverified email.
	SendOnSignIn bool
	// AutoSignInAfterVerification signs the user in when they open the
	// link.
	AutoSignInAfterVerification bool
	// ExpiresIn is the lifetime of verification links. Default 1 hour.
	ExpiresIn time.Duration
}

// SessionConfig configures sessions.
type SessionConfig struct {
	// ExpiresIn is the session lifetime. Default 7 days.
	ExpiresIn time.Duration
	// UpdateAge is how old the last refresh must be before a request
	// slides the expiry forward. Default 1 day.
	UpdateAge time.Duration
	// FreshAge is how long after sign-in a session counts as fresh (for
	// list-sessions and other sensitive routes). Default 1 day; negative
	// disables the freshness requirement.
	FreshAge time.Duration
	// DisableRefresh never slides the expiry.
	DisableRefresh bool
	// DisableLookupBatching makes every session lookup a read of its own.
	// By default, when the adapter is a storage.ManyJoiner (the PostgreSQL
	// and SQLite adapters are), lookups that arrive while another is being
	// read wait for it and then share one read (token IN …): under load,
	// one database round trip serves many requests. A lookup never takes
	// the answer of a read that began before it arrived, so it sees every
	// revocation committed before the request; when the server is not
	// busy nothing waits.
	DisableLookupBatching bool
	// CookieCache configures the session cookie cache (off by default).
	CookieCache CookieCacheConfig
}

// CookieConfig configures cookies.
type CookieConfig struct {
	// Prefix of every cookie name. Default "better-auth" (mana uses "mana").
	Prefix string
	// Secure forces secure cookies on or off. Default: on when BaseURL is
	// https. Secure cookies get the "__Secure-" name prefix.
	Secure *bool
	// CrossSubDomain sets Domain on every cookie: Domain if given, else
	// BaseURL's host.
	CrossSubDomain bool
	Domain         string
}

// RateLimitConfig configures the rate limiter. It is on by default (Better
// Auth turns it on only in production).
type RateLimitConfig struct {
	// Disabled turns rate limiting off.
	Disabled bool
	// Window and Max are the default rule: 100 requests per 10 s.
	Window time.Duration
	Max    int
	// Rules override the built-in rules (ratelimit.DefaultRules) and the
	// plugins' per path (relative to BasePath; full paths for Protect). A
	// path ending in "*" matches every path with that prefix. A zero rule
	// (Max 0) disables limiting for the path.
	Rules map[string]ratelimit.Rule
	// Store keeps the counters. Default an in-memory store
	// (ratelimit.NewMemoryStore); ratelimit/postgres and ratelimit/redis
	// share them between instances.
	Store ratelimit.Store
}

// UserConfig configures the user routes.
type UserConfig struct {
	// DeleteEnabled turns on POST /delete-user.
	DeleteEnabled bool
	// ChangeEmailEnabled turns on POST /change-email.
	ChangeEmailEnabled bool
	// UpdateEmailWithoutVerification lets users with an unverified email
	// change it at once (a verification link then goes to the new address).
	UpdateEmailWithoutVerification bool
	// SendChangeEmailConfirmation makes verified users confirm a change
	// from their old address before the new one is verified.
	SendChangeEmailConfirmation bool
}

// AccountConfig configures the accounts, as Better Auth's account option.
type AccountConfig struct {
	// AccountLinking is Better Auth's account.accountLinking. (How a
	// provider's account joins an existing user is the oauth plugin's
	// oauth.Config.AccountLinking.)
	AccountLinking AccountLinkingConfig
}

// AccountLinkingConfig is what the core reads of Better Auth's
// account.accountLinking.
type AccountLinkingConfig struct {
	// AllowUnlinkingAll lets POST /unlink-account remove a user's last
	// account, leaving them no way to sign in but the flows that need no
	// account (a magic link, a code by mail). By default the last one is
	// refused with FAILED_TO_UNLINK_LAST_ACCOUNT.
	AllowUnlinkingAll bool
}

// withDefaults returns a copy of c with defaults filled in and checks it.
func (c Config) withDefaults() (Config, error) {
	if c.BaseURL == "" {
		return c, errors.New("auth: Config.BaseURL is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("auth: Config.BaseURL %q must be an absolute http(s) URL", c.BaseURL)
	}
	if _, err := keyring.New(c.Secret, c.Secrets); err != nil {
		return c, err
	}
	c.Secrets = slices.Clone(c.Secrets)
	if c.BasePath == "" {
		c.BasePath = "/api/auth"
	}
	if !strings.HasPrefix(c.BasePath, "/") || strings.HasSuffix(c.BasePath, "/") && c.BasePath != "/" {
		return c, fmt.Errorf("auth: Config.BasePath %q must start with / and not end with /", c.BasePath)
	}
	if c.BasePath == "/" {
		c.BasePath = ""
	}
	if c.AppName == "" {
		c.AppName = "Better Auth"
	}
	if len(c.IPHeaders) == 0 {
		c.IPHeaders = []string{"X-Forwarded-For"}
	}
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			return c, fmt.Errorf("auth: Config.TrustedProxies: %q is not an IP or CIDR", p)
		}
	}
	ep := &c.EmailPassword
	if ep.MinPasswordLength == 0 {
		ep.MinPasswordLength = 8
	}
	if ep.MaxPasswordLength == 0 {
		ep.MaxPasswordLength = 128
	}
	if ep.MinPasswordLength < 1 || ep.MaxPasswordLength < ep.MinPasswordLength {
		return c, errors.New("auth: password length bounds are inconsistent")
	}
	s := &c.Session
	if s.ExpiresIn == 0 {
		s.ExpiresIn = 7 * 24 * time.Hour
	}
	if s.UpdateAge == 0 {
		s.UpdateAge = 24 * time.Hour
	}
	if s.FreshAge == 0 {
		s.FreshAge = 24 * time.Hour
	}
	if s.ExpiresIn < time.Second || s.UpdateAge < 0 {
		return c, errors.New("auth: session durations are inconsistent")
	}
	if s.ExpiresIn > 400*24*time.Hour {
		return c, errors.New("auth: Session.ExpiresIn exceeds the 400-day cookie limit")
	}
	if err := s.CookieCache.withDefaults(); err != nil {
		return c, err
	}
	if c.Cookies.Prefix == "" {
		c.Cookies.Prefix = "better-auth"
	}
	if c.Cookies.Secure == nil {
		sec := u.Scheme == "https"
		c.Cookies.Secure = &sec
	}
	if c.Cookies.CrossSubDomain && c.Cookies.Domain == "" {
		c.Cookies.Domain = u.Hostname()
	}
	rl := &c.RateLimit
	if rl.Window == 0 {
		rl.Window = 10 * time.Second
	}
	if rl.Max == 0 {
		rl.Max = 100
	}
	if c.Hasher == nil {
		c.Hasher = ScryptHasher{}
	}
	if c.HashConcurrency <= 0 {
		c.HashConcurrency = runtime.NumCPU()
	}
	if c.HashQueue <= 0 {
		c.HashQueue = 64 * c.HashConcurrency
	}
	if c.HashMaxWait <= 0 {
		c.HashMaxWait = 5 * time.Second
	}
	if ep.ResetPasswordTokenExpiresIn <= 0 {
		ep.ResetPasswordTokenExpiresIn = time.Hour
	}
	if c.EmailVerification.ExpiresIn <= 0 {
		c.EmailVerification.ExpiresIn = time.Hour
	}
	if ep.RequireEmailVerification {
		c.EmailVerification.SendOnSignUp = true
	}
	if c.MailTimeout <= 0 {
		c.MailTimeout = 10 * time.Second
	}
	if c.MailQueue <= 0 {
		c.MailQueue = 1000
	}
	if c.MailConcurrency <= 0 {
		c.MailConcurrency = 16
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
