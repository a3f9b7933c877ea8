package apikey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TableAPIKey is the table of keys, Better Auth's "apikey".
const TableAPIKey = "apikey"

// Options configures the plugin. The zero value is Better Auth's defaults.
type Options struct {
	// DefaultPrefix starts every key created without a prefix of its own
	// (letters, digits, "_" and "-"; Better Auth suggests ending it with
	// "_", e.g. "myapp_").
	DefaultPrefix string
	// DefaultKeyLength is the number of random letters of a key, the
	// prefix not counted. Default 64; at least 32.
	DefaultKeyLength int
	// Headers are the request headers a key is read from, the first
	// that is set winning. Default x-api-key.
	Headers []string
	// MinPrefixLength and MaxPrefixLength bound a prefix given at
	// creation. Default 1 and 32.
	MinPrefixLength, MaxPrefixLength int
	// MinNameLength and MaxNameLength bound a key's name (in UTF-16 code
	// units, as JavaScript counts). Default 1 and 32.
	MinNameLength, MaxNameLength int
	// RequireName refuses to create a key without a name
	// (NAME_REQUIRED).
	RequireName bool
	// EnableMetadata lets keys carry metadata (a JSON object); without
	// it create refuses metadata (METADATA_DISABLED) and update ignores
	// it.
	EnableMetadata bool
	// EnableSessionForAPIKeys makes a request carrying a key act as the
	// key's user on every route (see the package doc).
	EnableSessionForAPIKeys bool
	// RateLimitDisabled turns the per-key rate limit off for every key
	// (each key also has its own rateLimitEnabled).
	RateLimitDisabled bool
	// RateLimitWindow is the rate-limit window new keys get. Default
	// 24 hours; it is stored in milliseconds.
	RateLimitWindow time.Duration
	// RateLimitMax is the number of requests new keys may make in a
	// window. Default 10.
	RateLimitMax int
	// DefaultExpiresIn is the lifetime of a key created without
	// expiresIn; 0 (the default): keys do not expire.
	DefaultExpiresIn time.Duration
	// DisableCustomExpiresIn refuses an expiresIn at creation and update
	// (KEY_DISABLED_EXPIRATION).
	DisableCustomExpiresIn bool
	// MinExpiresIn and MaxExpiresIn bound an expiresIn given at creation
	// or update. Default 1 day and 365 days.
	MinExpiresIn, MaxExpiresIn time.Duration
	// StartLength is how many of a key's first characters (prefix
	// included) are stored in "start" for a user to recognise it.
	// Default 6.
	StartLength int
	// DisableStart stores no "start" (null).
	DisableStart bool
	// DefaultPermissions are the permissions of a key created without
	// permissions of its own (nil: none).
	DefaultPermissions map[string][]string
}

// Better Auth's defaults.
const (
	defaultKeyLength  = 64
	minKeyLength      = 32
	defaultHeader     = "x-api-key"
	defaultMaxLen     = 32
	defaultRLWindow   = 24 * time.Hour
	defaultRLMax      = 10
	defaultMinExpires = 24 * time.Hour
	defaultMaxExpires = 365 * 24 * time.Hour
	defaultStart      = 6
	// maxDuration bounds the durations of the options: a century, far
	// below what a date or a millisecond count can hold.
	maxDuration = 100 * 365 * 24 * time.Hour
)

// prefixPattern is Better Auth's rule for a prefix.
var prefixPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// headerName is a valid HTTP header name (an RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// Plugin is the API-key plugin.
type Plugin struct {
	opts Options
	h    plugin.Host

	sweepMu   sync.Mutex
	lastSweep time.Time

	memo sessionMemo
}

// New returns the plugin for opts, or an error naming what is wrong with
// them.
func New(opts Options) (*Plugin, error) {
	if opts.DefaultKeyLength == 0 {
		opts.DefaultKeyLength = defaultKeyLength
	}
	if len(opts.Headers) == 0 {
		opts.Headers = []string{defaultHeader}
	}
	if opts.MinPrefixLength == 0 {
		opts.MinPrefixLength = 1
	}
	if opts.MaxPrefixLength == 0 {
		opts.MaxPrefixLength = defaultMaxLen
	}
	if opts.MinNameLength == 0 {
		opts.MinNameLength = 1
	}
	if opts.MaxNameLength == 0 {
		opts.MaxNameLength = defaultMaxLen
	}
	if opts.RateLimitWindow == 0 {
		opts.RateLimitWindow = defaultRLWindow
	}
	if opts.RateLimitMax == 0 {
		opts.RateLimitMax = defaultRLMax
	}
	if opts.MinExpiresIn == 0 {
		opts.MinExpiresIn = defaultMinExpires
	}
	if opts.MaxExpiresIn == 0 {
		opts.MaxExpiresIn = defaultMaxExpires
	}
	if opts.StartLength == 0 {
		opts.StartLength = defaultStart
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts.Headers = append([]string(nil), opts.Headers...)
	opts.DefaultPermissions = clonePermissions(opts.DefaultPermissions)
	return &Plugin{opts: opts, memo: sessionMemo{m: map[*http.Request]*memoEntry{}}}, nil
}

// check validates the options once the defaults are set.
func (o *Options) check() error {
	switch {
	case o.DefaultKeyLength < minKeyLength:
		return fmt.Errorf("apikey: DefaultKeyLength %d is below %d", o.DefaultKeyLength, minKeyLength)
	case o.DefaultKeyLength > 1024:
		return fmt.Errorf("apikey: DefaultKeyLength %d is above 1024", o.DefaultKeyLength)
	case o.MinPrefixLength < 0 || o.MaxPrefixLength < o.MinPrefixLength:
		return fmt.Errorf("apikey: prefix length bounds %d..%d are invalid", o.MinPrefixLength, o.MaxPrefixLength)
	case o.MinNameLength < 0 || o.MaxNameLength < o.MinNameLength:
		return fmt.Errorf("apikey: name length bounds %d..%d are invalid", o.MinNameLength, o.MaxNameLength)
	case o.DefaultPrefix != "" && !prefixPattern.MatchString(o.DefaultPrefix):
		return fmt.Errorf("apikey: DefaultPrefix %q may hold only letters, digits, _ and -", o.DefaultPrefix)
	case len(o.DefaultPrefix) > 64:
		return errors.New("apikey: DefaultPrefix is longer than 64 characters")
	case o.RateLimitWindow < time.Millisecond || o.RateLimitWindow > maxDuration:
		return fmt.Errorf("apikey: RateLimitWindow %v is not between 1ms and 100 years", o.RateLimitWindow)
	case o.RateLimitMax < 0:
		return fmt.Errorf("apikey: RateLimitMax %d is negative", o.RateLimitMax)
	case o.DefaultExpiresIn < 0 || o.DefaultExpiresIn > maxDuration:
		return fmt.Errorf("apikey: DefaultExpiresIn %v is not between 0 and 100 years", o.DefaultExpiresIn)
	case o.MinExpiresIn < 0 || o.MaxExpiresIn < o.MinExpiresIn || o.MaxExpiresIn > maxDuration:
		return fmt.Errorf("apikey: expiresIn bounds %v..%v are invalid", o.MinExpiresIn, o.MaxExpiresIn)
	case o.StartLength < 0:
		return fmt.Errorf("apikey: StartLength %d is negative", o.StartLength)
	}
	for _, h := range o.Headers {
		if !headerName.MatchString(h) {
			return fmt.Errorf("apikey: %q is not a header name", h)
		}
	}
	for res, acts := range o.DefaultPermissions {
		if !storage.Storable(res) {
			return errors.New("apikey: DefaultPermissions holds a resource that is not valid UTF-8 without NUL")
		}
		for _, a := range acts {
			if !storage.Storable(a) {
				return fmt.Errorf("apikey: DefaultPermissions[%q] holds an action that is not valid UTF-8 without NUL", res)
			}
		}
	}
	return nil
}

// ID implements plugin.Plugin: "api-key", Better Auth's.
func (p *Plugin) ID() string { return "api-key" }

// Init implements plugin.Initializer.
func (p *Plugin) Init(h plugin.Host) error {
	p.h = h
	return nil
}

// Options returns the options in effect (defaults filled in).
func (p *Plugin) Options() Options {
	o := p.opts
	o.Headers = append([]string(nil), o.Headers...)
	o.DefaultPermissions = clonePermissions(o.DefaultPermissions)
	return o
}

var (
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.SchemaSource   = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.HookSource     = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
	_ plugin.DataSource     = (*Plugin)(nil)
	_ plugin.SessionSource  = (*Plugin)(nil)
)

// Schema implements plugin.SchemaSource: the table apikey with Better
// Auth's columns (indexes on configId, referenceId and key).
func (p *Plugin) Schema() storage.Schema {
	s, i, b, d := storage.String, storage.Int, storage.Bool, storage.Date
	return storage.Schema{Tables: []storage.Table{{Name: TableAPIKey, Fields: []storage.Field{
		{Name: "configId", Type: s, Required: true, Index: true},
		{Name: "name", Type: s},
		{Name: "start", Type: s},
		{Name: "referenceId", Type: s, Required: true, Index: true},
		{Name: "prefix", Type: s},
		{Name: "key", Type: s, Required: true, Index: true},
		{Name: "refillInterval", Type: i},
		{Name: "refillAmount", Type: i},
		{Name: "lastRefillAt", Type: d},
		{Name: "enabled", Type: b},
		{Name: "rateLimitEnabled", Type: b},
		{Name: "rateLimitTimeWindow", Type: i},
		{Name: "rateLimitMax", Type: i},
		{Name: "requestCount", Type: i},
		{Name: "remaining", Type: i},
		{Name: "lastRequest", Type: d},
		{Name: "expiresAt", Type: d},
		{Name: "createdAt", Type: d, Required: true},
		{Name: "updatedAt", Type: d, Required: true},
		{Name: "permissions", Type: s},
		{Name: "metadata", Type: s},
	}}}}
}

// The plugin's errors, as Better Auth answers them.
var (
	ErrUnauthorizedSession             = plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED_SESSION", "Unauthorized or invalid session")
	ErrKeyNotFound                     = plugin.NewError(http.StatusNotFound, "KEY_NOT_FOUND", "API Key not found")
	ErrKeyDisabled                     = plugin.NewError(http.StatusUnauthorized, "KEY_DISABLED", "API Key is disabled")
	ErrKeyExpired                      = plugin.NewError(http.StatusUnauthorized, "KEY_EXPIRED", "API Key has expired")
	ErrUsageExceeded                   = plugin.NewError(http.StatusTooManyRequests, "USAGE_EXCEEDED", "API Key has reached its usage limit")
	ErrInvalidAPIKey                   = plugin.NewError(http.StatusUnauthorized, "INVALID_API_KEY", "Invalid API key.")
	ErrRateLimited                     = plugin.NewError(http.StatusTooManyRequests, "RATE_LIMITED", "Rate limit exceeded.")
	ErrServerOnlyProperty              = plugin.NewError(http.StatusBadRequest, "SERVER_ONLY_PROPERTY", "The property you're trying to set can only be set from the server auth instance only.")
	ErrExpiresInTooSmall               = plugin.NewError(http.StatusBadRequest, "EXPIRES_IN_IS_TOO_SMALL", "The expiresIn is smaller than the predefined minimum value.")
	ErrExpiresInTooLarge               = plugin.NewError(http.StatusBadRequest, "EXPIRES_IN_IS_TOO_LARGE", "The expiresIn is larger than the predefined maximum value.")
	ErrKeyDisabledExpiration           = plugin.NewError(http.StatusBadRequest, "KEY_DISABLED_EXPIRATION", "Custom key expiration values are disabled.")
	ErrInvalidMetadataType             = plugin.NewError(http.StatusBadRequest, "INVALID_METADATA_TYPE", "metadata must be an object or undefined")
	ErrMetadataDisabled                = plugin.NewError(http.StatusBadRequest, "METADATA_DISABLED", "Metadata is disabled.")
	ErrInvalidNameLength               = plugin.NewError(http.StatusBadRequest, "INVALID_NAME_LENGTH", "The name length is either too large or too small.")
	ErrInvalidPrefixLength             = plugin.NewError(http.StatusBadRequest, "INVALID_PREFIX_LENGTH", "The prefix length is either too large or too small.")
	ErrNameRequired                    = plugin.NewError(http.StatusBadRequest, "NAME_REQUIRED", "API Key name is required.")
	ErrNoValuesToUpdate                = plugin.NewError(http.StatusBadRequest, "NO_VALUES_TO_UPDATE", "No values to update.")
	ErrRefillAmountAndIntervalRequired = plugin.NewError(http.StatusBadRequest, "REFILL_AMOUNT_AND_INTERVAL_REQUIRED", "refillAmount is required when refillInterval is provided")
	ErrRefillIntervalAndAmountRequired = plugin.NewError(http.StatusBadRequest, "REFILL_INTERVAL_AND_AMOUNT_REQUIRED", "refillInterval is required when refillAmount is provided")
	ErrInvalidRemaining                = plugin.NewError(http.StatusBadRequest, "INVALID_REMAINING", "The remaining count is either too large or too small.")
	ErrUserBanned                      = plugin.NewError(http.StatusUnauthorized, "USER_BANNED", "User is banned")
	ErrInvalidReferenceID              = plugin.NewError(http.StatusUnauthorized, "INVALID_REFERENCE_ID_FROM_API_KEY", "The reference id from the API key is invalid.")
)

// errShortKey is Better Auth's 403 INVALID_API_KEY for a key shorter than
// DefaultKeyLength; INVALID_API_KEY is declared as the 401 of an unknown
// key, so this one is built per request.
func errShortKey() *plugin.Error {
	return plugin.NewError(http.StatusForbidden, ErrInvalidAPIKey.Code, ErrInvalidAPIKey.Message)
}

// errPermissionDenied is Better Auth's answer to a key that lacks the
// permissions Verify asks for: 401 KEY_NOT_FOUND (declared as the 404 of
// the routes, so built per request).
func errPermissionDenied() *plugin.Error {
	return plugin.NewError(http.StatusUnauthorized, ErrKeyNotFound.Code, ErrKeyNotFound.Message)
}

// errUnauthorized is the core's 401 UNAUTHORIZED of a route that needs a
// session (Better Auth's sessionMiddleware), which the core declares.
func errUnauthorized() *plugin.Error {
	return plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Unauthorized")
}

// ErrorCodes implements plugin.ErrorSource.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{ErrUnauthorizedSession, ErrKeyNotFound, ErrKeyDisabled, ErrKeyExpired, ErrUsageExceeded,
		ErrInvalidAPIKey, ErrRateLimited, ErrServerOnlyProperty, ErrExpiresInTooSmall, ErrExpiresInTooLarge,
		ErrKeyDisabledExpiration, ErrInvalidMetadataType, ErrMetadataDisabled, ErrInvalidNameLength,
		ErrInvalidPrefixLength, ErrNameRequired, ErrNoValuesToUpdate, ErrRefillAmountAndIntervalRequired,
		ErrRefillIntervalAndAmountRequired, ErrInvalidRemaining, ErrUserBanned, ErrInvalidReferenceID}
}

// Endpoints implements plugin.EndpointSource. The session is optional to
// the pipeline and required by the handlers, after the input is checked,
// as Better Auth validates before its session middleware; create and
// update read the session from the database (Better Auth's
// disableCookieCache), since they mint or change a credential.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{Method: "POST", Path: "/api-key/create", Auth: plugin.SessionOptional, Sensitive: true, Handler: p.handleCreate},
		{Method: "GET", Path: "/api-key/get", Auth: plugin.SessionOptional, Handler: p.handleGet},
		{Method: "POST", Path: "/api-key/update", Auth: plugin.SessionOptional, Sensitive: true, Handler: p.handleUpdate},
		{Method: "POST", Path: "/api-key/delete", Auth: plugin.SessionOptional, Handler: p.handleDelete},
		{Method: "GET", Path: "/api-key/list", Auth: plugin.SessionOptional, Handler: p.handleList},
	}
}

// Hooks implements plugin.HookSource: with EnableSessionForAPIKeys, a
// before-hook checks (and counts) the key of every request that carries
// one, on every route, as Better Auth's does, and an after-hook keeps a
// route from turning the key's session into session cookies; and a
// takeover of an unverified account through its mailbox drops the
// account's keys.
func (p *Plugin) Hooks() plugin.Hooks {
	h := plugin.Hooks{ResetCredentials: p.deleteUserKeys}
	if p.opts.EnableSessionForAPIKeys {
		hasKey := func(c *plugin.Context) bool { return p.requestKey(c.Request()) != "" }
		h.Before = []plugin.Hook{{Match: hasKey, Handler: p.beforeHook}}
		h.After = []plugin.Hook{{Match: hasKey, Handler: p.afterHook}}
	}
	return h
}

// deleteUserKeys deletes every key of the user.
func (p *Plugin) deleteUserKeys(ctx context.Context, userID string) error {
	if _, err := p.h.DB().Delete(ctx, TableAPIKey, storage.W("referenceId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// now is the host's time at the storage's precision, so that what is
// answered is what is stored.
func (p *Plugin) now() time.Time { return p.h.Now().UTC().Truncate(time.Millisecond) }
