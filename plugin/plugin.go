package plugin

import (
	"context"
	"net/http"

	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
)

// Plugin extends a host (an auth.Auth). A plugin implements ID and any of
// the optional interfaces below; the host discovers them by type
// assertion, as net/http does with http.Flusher. The built-in plugins use
// nothing but this API.
type Plugin interface {
	// ID names the plugin, e.g. "jwt". IDs must be unique within an Auth.
	ID() string
}

// Initializer is implemented by plugins that need the host once it is
// built (to keep it, read its settings or check their own options). Init
// runs after the schema is bound and before the handler serves; an error
// stops auth.New.
type Initializer interface {
	Init(h Host) error
}

// EndpointSource is implemented by plugins that add HTTP routes. Paths are
// relative to Config.BasePath.
type EndpointSource interface {
	Endpoints() []Endpoint
}

// SchemaSource is implemented by plugins that add tables or fields. A table
// named like an existing one (for example "user") adds fields to it.
type SchemaSource interface {
	Schema() storage.Schema
}

// HookSource is implemented by plugins that run code around endpoints or
// around the creation and deletion of users and sessions.
type HookSource interface {
	Hooks() Hooks
}

// RateLimitSource is implemented by plugins that bring rate-limit rules for
// their routes (paths relative to BasePath, "*" suffix for prefixes). Rules
// from Config.RateLimit.Rules override them.
type RateLimitSource interface {
	RateLimits() map[string]ratelimit.Rule
}

// SessionSource is implemented by a plugin that authenticates requests by
// other means than the session cookie or bearer token (an API key
// header). Every session lookup of a request (a route's, Host.Session,
// auth.(*Auth).Protect) asks the sources first, in plugin order: ok
// reports that r carries the source's credential, and then sd (or err,
// which refuses the request whatever cookie it also has) is the answer;
// with ok false the lookup goes on.
type SessionSource interface {
	RequestSession(r *http.Request) (sd *SessionData, ok bool, err error)
}

// MountedEndpoint is an endpoint as the host mounted it, with the ID of
// the plugin that declared it ("" for the core).
type MountedEndpoint struct {
	Endpoint
	PluginID string
}

// ErrorSource is implemented by plugins that declare their error codes,
// as Better Auth's plugins do with $ERROR_CODES: auth.New refuses a code
// declared twice with different statuses (by two plugins, or by a plugin
// and the core), since errors.Is matches errors by code.
type ErrorSource interface {
	ErrorCodes() []*Error
}

// DataSource is implemented by plugins that keep per-user data. Export and
// erasure of a user (GDPR) call every DataSource, so they are complete by
// construction. DeleteUser runs before the user row is deleted.
type DataSource interface {
	ExportUser(ctx context.Context, userID string) (any, error)
	DeleteUser(ctx context.Context, userID string) error
}

// AuthLevel says what a route requires of the caller.
type AuthLevel int

// Authentication levels.
const (
	// Public routes need no session.
	Public AuthLevel = iota
	// SessionOptional routes load the session if there is one.
	SessionOptional
	// SessionRequired routes answer 401 without a valid session.
	SessionRequired
	// FreshSessionRequired routes also answer 403 SESSION_NOT_FRESH when the
	// session is older than Session.FreshAge.
	FreshSessionRequired
)

// HandlerFunc handles a request. The value it returns is written as JSON
// with status 200 (or the status set with Context.SetStatus); returning an
// error writes the error.
type HandlerFunc func(c *Context) (any, error)

// Endpoint is an HTTP route.
type Endpoint struct {
	// Method is the HTTP method, e.g. "POST".
	Method string
	// Path is relative to BasePath, e.g. "/two-factor/enable". A segment
	// ":name" matches one path segment, read with Context.Param.
	Path string
	// Auth says whether a session is required.
	Auth AuthLevel
	// Sensitive reads the session from the database even when the cookie
	// cache is on, as Better Auth's sensitiveSessionMiddleware does, so
	// that a revoked session or a changed user still held in a cache
	// cookie cannot authorize the route. Set it on routes that change
	// credentials or destroy data.
	Sensitive bool
	// Handler serves the route.
	Handler HandlerFunc
	// AllowForm accepts application/x-www-form-urlencoded bodies besides
	// JSON.
	AllowForm bool
	// Body declares the body parameters, checked before the session and the
	// handler (unknown keys are ignored).
	Body []Param
	// AdditionalFields marks a body that may also carry additional model
	// fields (as sign-up's does); it only changes validation messages.
	AdditionalFields bool
	// CheckRedirects validates redirect targets in the query string of a
	// GET route (callbackURL, errorCallbackURL, …), as Better Auth's
	// redirecting GET routes do. Other methods are always checked.
	CheckRedirects bool
	// LoginCSRF applies Better Auth's extra login CSRF guard (for sign-in
	// routes that take no session cookie).
	LoginCSRF bool
	// SkipOriginCheck exempts the route from the Origin check of
	// state-changing requests: for a route another site's page posts to
	// by design (an OAuth provider's form_post callback) that changes
	// nothing itself.
	SkipOriginCheck bool
}

// Hook runs code around endpoints. Match selects the requests it runs on
// (nil: all); Handler runs before the endpoint (returning an error answers
// with it and stops the request) or after it (it sees and may replace
// Context.Result, and may set headers and cookies).
type Hook struct {
	Match   func(c *Context) bool
	Handler func(c *Context) error
}

// Hooks are the hooks of a plugin. The lifecycle hooks run on every path
// that creates or deletes the record, Go calls and HTTP routes alike;
// a Before* hook that returns an error stops the operation.
type Hooks struct {
	Before []Hook
	After  []Hook
	// Failed hooks run when an endpoint answers with an error (a refused
	// sign-in, a bad code); Context.Err returns it. Their own errors are
	// ignored: they observe, they cannot change the answer.
	Failed []Hook

	BeforeUserCreate func(ctx context.Context, u *User) error
	// UserCreateTx runs inside the transaction that inserts the user (and
	// its account): rows a plugin writes through tx are committed with the
	// user or not at all. An error rolls the user back.
	UserCreateTx        func(ctx context.Context, tx storage.Adapter, u *User) error
	AfterUserCreate     func(ctx context.Context, u *User) error
	BeforeSessionCreate func(ctx context.Context, s *Session, u *User) error
	AfterSessionCreate  func(ctx context.Context, s *Session, u *User) error
	BeforeUserDelete    func(ctx context.Context, u *User) error
	// BeforeUserUpdate runs before every write of a user's fields (Better
	// Auth's databaseHooks.user.update.before): POST /update-user and
	// auth.(*Auth).UpdateUser, Host.UpdateUser (every plugin's write of
	// user fields: admin's update-user, set-role, ban, …), change-email
	// and the verification of an address. fields holds the fields being
	// set (updatedAt only when the caller sets it; otherwise the host
	// adds it after the hooks); the hook may change, add or delete entries
	// (to normalise a value) and they are written as it leaves them; an
	// error refuses the update, nothing written. A unique field that another
	// user took between the hooks and the write (a race) runs the hooks
	// again with the fields as given, so that the plugin that owns the
	// field answers for it.
	BeforeUserUpdate func(ctx context.Context, userID string, fields map[string]any) error

	// EmailVerified runs after a user's address is verified for the first
	// time, on every path (a verification link, a magic link, a password
	// reset, a code by mail): the place to grant what only a verified
	// address may have. Its error is logged; the verification stands.
	EmailVerified func(ctx context.Context, u *User) error
	// ResetCredentials runs when the owner of an unverified account's
	// address takes the account over through the mailbox
	// (Host.MarkEmailVerified without vouching): whoever signed the
	// account up may not be its owner, so the plugin drops every first
	// factor it keeps — every way to sign in or to act as the user without
	// the mailbox (passkeys, API keys, …). The core has dropped accounts,
	// sessions and reset links already. Second factors stay: the proof
	// came from the mailbox alone, and a second factor is what guards an
	// account against whoever holds the mailbox (a squatter's second factor
	// can at worst keep the owner out, never let the squatter in). An
	// error stops the verification.
	ResetCredentials func(ctx context.Context, userID string) error

	// PasswordCheck guards every check of a user's password: sign-in by
	// email and password (auth.(*Auth).SignInEmail, behind POST /sign-in/email and
	// Go callers alike) and every confirmation of a signed-in user's
	// password (Host.CheckPassword and auth.(*Auth).ChangePassword: verify-password,
	// delete-user, change-password, two-factor enable and disable, …), for
	// example with an account lockout, so that a stolen session cannot
	// guess the password without limit either. It runs once the input is
	// valid and before any password is hashed, with the normalised email;
	// an error refuses the check with that error. The done it returns (nil
	// if it needs none) is called once with the outcome: nil (the password
	// was right), an *Interruption (signing in: the password was right, a
	// second factor is due) or the error the check fails with — for a wrong
	// password ErrInvalidEmailOrPassword when signing in (an unknown email
	// alike, so a guard cannot tell them apart either) and
	// ErrInvalidPassword otherwise.
	PasswordCheck func(ctx context.Context, email string) (done func(err error), err error)
}

// PathIs returns a Match function selecting requests to one of the paths
// (relative to BasePath; a trailing "*" matches a prefix).
func PathIs(paths ...string) func(c *Context) bool {
	return func(c *Context) bool {
		for _, p := range paths {
			if matchPath(p, c.Path()) {
				return true
			}
		}
		return false
	}
}

func matchPath(pattern, path string) bool {
	if n := len(pattern); n > 0 && pattern[n-1] == '*' {
		return len(path) >= n-1 && path[:n-1] == pattern[:n-1]
	}
	return pattern == path
}
