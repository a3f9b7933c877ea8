package plugin

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/storage"
)

// Host is what a plugin is given of the auth server it extends, as Better
// Auth gives plugins ctx.context: storage, secrets, users, sessions,
// verification values, mail, cookies and URLs. An Initializer receives it
// once; handlers and hooks reach it with Context.Host. Package auth
// implements it; an app reaches its Auth's with auth.(*Auth).Host.
//
// Methods may be added to Host as the plugin API grows: embed a Host to
// wrap one instead of implementing it from scratch.
type Host interface {
	// DB is the storage adapter. Plugins reach their tables (SchemaSource)
	// and the core's (TableUser, TableSession, …) through it.
	DB() storage.Adapter
	// Keyring holds the secrets: it seals and opens data at rest.
	Keyring() *keyring.Ring
	// Secret is the current secret, to derive HMAC keys from (Better
	// Auth's ctx.secret).
	Secret() string
	// Now is the host's clock.
	Now() time.Time
	// Logger is the host's logger.
	Logger() *slog.Logger
	// Settings describes the host's configuration.
	Settings() Settings
	// Plugin returns the plugin with the ID, or nil.
	Plugin(id string) Plugin

	// FindUserByID returns the user, or ErrUserNotFound (an *Error with
	// code USER_NOT_FOUND).
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserByEmail returns the user with the (normalised) address.
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// CreateUser stores u and, if not nil, its account, with the
	// lifecycle hooks, in one transaction.
	CreateUser(ctx context.Context, u *User, acc *Account) error
	// UpdateUser sets fields of the user table — those plugins add (see
	// SchemaSource) and the core's name, email, emailVerified and image —
	// and returns the updated user. Values are written as given (of the
	// field's type), after the Hooks.BeforeUserUpdate hooks, which may
	// refuse or change them. A unique field taken meanwhile by another
	// user runs those hooks again, so that the plugin owning the field
	// answers; if none refuses, the error is a 422 FAILED_TO_UPDATE_USER
	// that errors.Is matches to storage.ErrConflict.
	UpdateUser(ctx context.Context, userID string, fields map[string]any) (*User, error)
	// MarkEmailVerified records that u proved its address. Unless
	// credentialsVouched, the proof came from the mailbox alone and an
	// unverified account's first factors are dropped (see
	// Hooks.ResetCredentials); claimed reports that.
	MarkEmailVerified(ctx context.Context, u *User, credentialsVouched bool) (claimed bool, err error)
	// CheckPassword confirms the password of a signed-in user, counted
	// by Hooks.PasswordCheck (a lockout).
	CheckPassword(ctx context.Context, userID, password string) error
	// SignInWithPassword signs in with an email and password as the
	// core's sign-in does (login CSRF guard, Hooks.PasswordCheck, the
	// same answer and timing for an unknown email, the second factor),
	// for plugins that find the email another way (a username).
	SignInWithPassword(ctx context.Context, email, password string, rememberMe bool) (*AuthResult, error)
	// SetPassword sets the user's password (length checked, creating the
	// password account if there is none) and voids their reset links;
	// with endSessions it also ends every session of the user.
	SetPassword(ctx context.Context, userID, password string, endSessions bool) error
	// DeleteUser erases the user with everything every plugin keeps of
	// them (DataSource), as the core's delete-user does.
	DeleteUser(ctx context.Context, userID string) error
	// HashPassword hashes with the host's hasher.
	HashPassword(ctx context.Context, password string) (string, error)
	// VerifyPassword checks a password against a hash.
	VerifyPassword(ctx context.Context, hash, password string) (bool, error)

	// CreateSession signs u in: it creates a session, with the session
	// hooks (a second factor may interrupt: *Interruption), and returns it
	// with its cookies. Without rememberMe the cookie ends with the
	// browser session.
	CreateSession(ctx context.Context, u *User, rememberMe bool) (*AuthResult, error)
	// Session returns the session of r (signed cookie, or bearer token
	// when the host accepts them), or ErrUnauthorized.
	Session(r *http.Request) (*SessionData, error)
	// GetSession returns the session of a token with its user.
	GetSession(ctx context.Context, token string) (*SessionData, error)
	// RevokeSession deletes one of the user's sessions.
	RevokeSession(ctx context.Context, userID, token string) error
	// AddResultCookie adds c to the result of the CreateSession whose
	// session hook runs under ctx (to rotate a cookie of the plugin's
	// along with the sign-in); false when ctx is not such a hook's.
	AddResultCookie(ctx context.Context, c *http.Cookie) bool

	// CreateVerification stores value under identifier for ttl.
	CreateVerification(ctx context.Context, identifier, value string, ttl time.Duration) error
	// FindVerification returns the unexpired value under identifier, or
	// ErrVerificationNotFound.
	FindVerification(ctx context.Context, identifier string) (*Verification, error)
	// ConsumeVerification returns and deletes it, once under races.
	ConsumeVerification(ctx context.Context, identifier string) (*Verification, error)
	// DeleteVerification deletes every value under identifier.
	DeleteVerification(ctx context.Context, identifier string) error

	// SendEmail sends e with the host's mailer (an error if none) and
	// waits for it: the request that calls it waits for the mail server
	// (up to the host's mail timeout). For a caller that must know the
	// mail went out before it answers.
	SendEmail(ctx context.Context, e Email) error
	// SendEmailInBackground queues e on the host's mail queue and returns
	// at once: the mail leaves off the request path, so neither the answer
	// nor its timing depends on the mail server. failed, if not nil, runs
	// in the background if the mailer fails (undo there what the mail was
	// for, such as a token nobody received). It returns an error only
	// without a mailer, or, the queue being full, with ErrBusy (503) for a
	// mail it dropped (logged and counted; failed does not run for it).
	SendEmailInBackground(ctx context.Context, e Email, failed func(ctx context.Context, err error)) error
	// SendVerificationEmail queues the core's link that verifies u's
	// address (it vouches for no password), returning to callbackURL, as
	// SendEmailInBackground queues a mail; a failure to send is logged.
	SendVerificationEmail(ctx context.Context, u *User, callbackURL string) error

	// CookieName returns the full name of a cookie (prefix included).
	CookieName(name string) string
	// NewCookie returns a cookie with the host's attributes.
	NewCookie(name, value string, maxAge int) *http.Cookie
	// SignedCookie returns NewCookie with the value signed as Better
	// Auth signs cookies.
	SignedCookie(name, value string, maxAge int) *http.Cookie
	// ReadSignedCookie returns the verified value of a signed cookie.
	ReadSignedCookie(r *http.Request, name string) (string, bool)
	// SessionCookies returns the cookies that carry sd's session.
	SessionCookies(r *http.Request, sd *SessionData, dontRemember bool) []*http.Cookie
	// ExpiredSessionCookies returns the cookies that end the session of r.
	ExpiredSessionCookies(r *http.Request) []*http.Cookie

	// URL returns the absolute URL of a path under the base path.
	URL(path string) string
	// ResolveURL resolves a relative or absolute URL against the base
	// URL, as Better Auth's redirects do.
	ResolveURL(ref string) string
	// TrustedOrigin reports whether an origin (or a URL's origin) is
	// trusted: BaseURL's or one of the trusted origins.
	TrustedOrigin(rawURL string) bool
	// TrustedRedirect reports whether a redirect target is trusted.
	TrustedRedirect(rawURL string) bool
	// ClientIP returns the client address of r (trusting proxies as
	// configured).
	ClientIP(r *http.Request) string

	// Endpoints returns the mounted endpoints, the core's and every
	// plugin's (paths relative to BasePath), in mounting order.
	Endpoints() []MountedEndpoint
	// ErrorCodes returns the error codes the plugin with the ID declared
	// (ErrorSource); "" gives the core's.
	ErrorCodes(pluginID string) []*Error
}

// Settings is what plugins read of the host's configuration.
type Settings struct {
	// AppName names the application (in mails, TOTP issuers, passkeys).
	AppName string
	// BaseURL is the server's public origin, BasePath the routes' prefix.
	BaseURL, BasePath string
	// TrustedOrigins are the origins allowed besides BaseURL's.
	TrustedOrigins []string
	// CookieDomain is the cookies' Domain attribute, if set.
	CookieDomain string
	// SessionExpiresIn is the lifetime of a remembered session.
	SessionExpiresIn time.Duration
	// CookieCache reports that sessions are cached in a cookie.
	CookieCache bool
	// Mail reports that the host has a mailer.
	Mail bool
	// SendVerificationOnSignUp reports that a sign-up with an address not
	// yet verified is sent the verification mail.
	SendVerificationOnSignUp bool
	// MinPasswordLength and MaxPasswordLength are the bounds of a new
	// password, in UTF-16 code units as JavaScript counts (Better Auth's
	// ctx.context.password.config): plugins that take a new password
	// check it against them before anything else, as Better Auth's do.
	MinPasswordLength, MaxPasswordLength int
	// AutoSignInAfterVerification reports that a verification of the
	// address signs the user in (Better Auth's
	// emailVerification.autoSignInAfterVerification).
	AutoSignInAfterVerification bool
	// KeepSessionsOnPasswordReset reports that a password reset keeps
	// the user's sessions; by default a reset ends them all.
	KeepSessionsOnPasswordReset bool
}
