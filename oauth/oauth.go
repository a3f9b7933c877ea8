package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/managarten/mana-auth/plugin"
)

// Config configures the plugin.
type Config struct {
	// Providers are the providers users may sign in with. Their IDs are
	// unique.
	Providers []Provider
	// AccountLinking says when a provider's account joins an existing
	// user.
	AccountLinking AccountLinking
	// EncryptTokens stores the providers' access and refresh tokens sealed
	// with the host's keyring (Better Auth's account.encryptOAuthTokens),
	// so that a copy of the database holds no usable token. Tokens stored
	// in plain text before are still read.
	EncryptTokens bool
	// HTTPClient makes the requests to providers. Default: a client with
	// Timeout, which follows no redirects (a token endpoint that redirects
	// is refused, as Better Auth refuses it).
	HTTPClient *http.Client
	// Timeout bounds every request to a provider when HTTPClient is nil.
	// Default 10 seconds.
	Timeout time.Duration
	// StateExpiresIn is how long a flow may take from the sign-in to the
	// callback. Default 10 minutes (Better Auth's).
	StateExpiresIn time.Duration
}

// AccountLinking are Better Auth's account.accountLinking options that
// decide how a provider's account joins a user. (Unlinking is the core's:
// auth.Config.Account.AccountLinking.AllowUnlinkingAll.)
type AccountLinking struct {
	// Disabled refuses to join a provider's account to an existing user,
	// implicitly or by link-social.
	Disabled bool
	// DisableImplicitLinking refuses the implicit linking of a sign-in
	// whose email belongs to an existing user (link-social still links).
	DisableImplicitLinking bool
	// TrustedProviders are the provider IDs whose emails count as
	// verified for linking even when the provider does not say so.
	TrustedProviders []string
	// AllowDifferentEmails lets link-social join an account whose email
	// is not the user's.
	AllowDifferentEmails bool
	// AllowUnverifiedLocalEmail lets a sign-in join a user whose own
	// address was never verified (Better Auth's requireLocalEmailVerified:
	// false). That user's password and sessions are then dropped, as when
	// a mailbox proves an address: whoever signed up with the address may
	// not own it.
	AllowUnverifiedLocalEmail bool
}

// Plugin is the OAuth plugin.
type Plugin struct {
	cfg       Config
	h         plugin.Host
	providers map[string]*remote
	order     []string
	trusted   map[string]bool
}

// New returns the plugin for cfg, or an error naming what is wrong with
// the configuration.
func New(cfg Config) (*Plugin, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.StateExpiresIn <= 0 {
		cfg.StateExpiresIn = 10 * time.Minute
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	p := &Plugin{cfg: cfg, providers: map[string]*remote{}, trusted: map[string]bool{}}
	for i := range cfg.Providers {
		pr := cfg.Providers[i]
		if err := pr.check(); err != nil {
			return nil, err
		}
		if pr.ID == plugin.CredentialProvider {
			return nil, fmt.Errorf("oauth: provider id %q is the password account's", pr.ID)
		}
		if p.providers[pr.ID] != nil {
			return nil, fmt.Errorf("oauth: provider id %q is used twice", pr.ID)
		}
		p.providers[pr.ID] = &remote{Provider: &pr, client: cfg.HTTPClient}
		p.order = append(p.order, pr.ID)
	}
	for _, id := range cfg.AccountLinking.TrustedProviders {
		p.trusted[id] = true
	}
	return p, nil
}

// ID implements plugin.Plugin.
func (p *Plugin) ID() string { return "oauth" }

// Init implements plugin.Initializer.
func (p *Plugin) Init(h plugin.Host) error {
	p.h = h
	for _, r := range p.providers {
		r.callbackURL = h.URL("/callback/" + r.ID)
	}
	return nil
}

// Providers returns the IDs of the configured providers, in order.
func (p *Plugin) Providers() []string { return append([]string(nil), p.order...) }

// Endpoints implements plugin.EndpointSource.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	str, opt := plugin.KindString, plugin.Optional
	// provider is checked by readFlow, with Better Auth's message.
	flow := []plugin.Param{opt("provider", plugin.KindAny), opt("callbackURL", str), opt("newUserCallbackURL", str),
		opt("errorCallbackURL", str), opt("disableRedirect", plugin.KindBool), opt("scopes", plugin.KindArray),
		opt("loginHint", str), opt("requestSignUp", plugin.KindBool), opt("additionalParams", plugin.KindObject),
		opt("additionalData", plugin.KindObject), opt("idToken", plugin.KindObject)}
	callback := []plugin.Param{opt("code", str), opt("state", str), opt("error", str), opt("error_description", str),
		opt("iss", str), opt("device_id", str), opt("user", str)}
	return []plugin.Endpoint{
		{Method: "POST", Path: "/sign-in/social", Body: flow, Handler: p.handleSignIn},
		{Method: "GET", Path: "/callback/:id", Handler: p.handleCallback},
		{Method: "POST", Path: "/callback/:id", Body: callback, AllowForm: true, SkipOriginCheck: true, Handler: p.handleCallbackPost},
		{Method: "POST", Path: "/link-social", Auth: plugin.SessionRequired, Sensitive: true, Body: flow, Handler: p.handleLink},
		{Method: "POST", Path: "/get-access-token", Handler: p.handleGetAccessToken},
		{Method: "POST", Path: "/refresh-token", Handler: p.handleRefreshToken},
		{Method: "GET", Path: "/account-info", Handler: p.handleAccountInfo},
	}
}

// The plugin's errors, as Better Auth answers them.
var (
	ErrProviderNotFound           = plugin.NewError(http.StatusNotFound, "PROVIDER_NOT_FOUND", "Provider not found")
	ErrIDTokenNotSupported        = plugin.NewError(http.StatusNotFound, "ID_TOKEN_NOT_SUPPORTED", "id_token not supported")
	ErrFailedToGetUserInfo        = plugin.NewError(http.StatusBadRequest, "FAILED_TO_GET_USER_INFO", "Failed to get user info")
	ErrUserEmailNotFound          = plugin.NewError(http.StatusUnauthorized, "USER_EMAIL_NOT_FOUND", "User email not found")
	ErrOAuthLink                  = plugin.NewError(http.StatusUnauthorized, "OAUTH_LINK_ERROR", "Unable to sign in with this account")
	ErrLinkingNotAllowed          = plugin.NewError(http.StatusUnauthorized, "LINKING_NOT_ALLOWED", "Account not linked - linking not allowed")
	ErrLinkingDifferentEmails     = plugin.NewError(http.StatusUnauthorized, "LINKING_DIFFERENT_EMAILS_NOT_ALLOWED", "Account not linked - different emails not allowed")
	ErrSocialAccountAlreadyLinked = plugin.NewError(http.StatusConflict, "SOCIAL_ACCOUNT_ALREADY_LINKED", "Social account already linked")
	ErrLinkingFailed              = plugin.NewError(http.StatusExpectationFailed, "LINKING_FAILED", "Account not linked - unable to link account")
	// ErrAccountNotFound answers get-access-token, refresh-token and
	// account-info for an id that is none of the user's accounts. The
	// code is the core's (auth.ErrAccountNotFound, of unlink-account),
	// which declares it.
	ErrAccountNotFound             = plugin.NewError(http.StatusBadRequest, "ACCOUNT_NOT_FOUND", "Account not found")
	ErrProviderNotSupported        = plugin.NewError(http.StatusBadRequest, "PROVIDER_NOT_SUPPORTED", "Provider is not supported.")
	ErrFailedToGetAccessToken      = plugin.NewError(http.StatusBadRequest, "FAILED_TO_GET_ACCESS_TOKEN", "Failed to get a valid access token")
	ErrTokenRefreshNotSupported    = plugin.NewError(http.StatusBadRequest, "TOKEN_REFRESH_NOT_SUPPORTED", "Token refresh is not supported for this provider")
	ErrRefreshTokenNotFound        = plugin.NewError(http.StatusBadRequest, "REFRESH_TOKEN_NOT_FOUND", "Refresh token not found")
	ErrFailedToRefreshAccessToken  = plugin.NewError(http.StatusBadRequest, "FAILED_TO_REFRESH_ACCESS_TOKEN", "Failed to refresh access token")
	ErrAccessTokenNotFound         = plugin.NewError(http.StatusBadRequest, "ACCESS_TOKEN_NOT_FOUND", "Access token not found")
	ErrProviderUnavailable         = plugin.NewError(http.StatusBadGateway, "PROVIDER_UNAVAILABLE", "The provider could not be reached. Please try again later.")
	ErrInvalidAdditionalParameters = plugin.NewError(http.StatusBadRequest, "INVALID_ADDITIONAL_PARAMS", "additionalParams values must be strings")
)

// errInvalidIDToken is Better Auth's 401 INVALID_TOKEN of ID-token
// sign-in; the core declares INVALID_TOKEN as a 400, so it is built per
// request rather than declared.
func errInvalidIDToken() *plugin.Error {
	return plugin.NewError(http.StatusUnauthorized, "INVALID_TOKEN", "Invalid token")
}

// ErrorCodes implements plugin.ErrorSource.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{ErrProviderNotFound, ErrIDTokenNotSupported, ErrFailedToGetUserInfo, ErrUserEmailNotFound,
		ErrOAuthLink, ErrLinkingNotAllowed, ErrLinkingDifferentEmails, ErrSocialAccountAlreadyLinked, ErrLinkingFailed,
		ErrProviderNotSupported, ErrFailedToGetAccessToken,
		ErrTokenRefreshNotSupported, ErrRefreshTokenNotFound, ErrFailedToRefreshAccessToken, ErrAccessTokenNotFound,
		ErrProviderUnavailable, ErrInvalidAdditionalParameters}
}

var (
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
)

// provider returns the configured provider with the id, or nil.
func (p *Plugin) provider(id string) *remote { return p.providers[id] }

// unavailable maps a provider's failure to reach it to a 502.
func unavailable(err error) error {
	if errors.Is(err, errProviderUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return ErrProviderUnavailable.With(err)
	}
	return err
}
