package multisession

import (
	"fmt"
	"net/http"

	"github.com/managarten/mana-auth/plugin"
)

// Options configures the plugin.
type Options struct {
	// MaximumSessions is how many device sessions (multi-session cookies)
	// a browser may hold: a sign-in that would take it over the limit
	// sets no multi-session cookie. Default 5, at most 100.
	MaximumSessions int
}

// DefaultMaximumSessions is Better Auth's maximumSessions.
const DefaultMaximumSessions = 5

// maxMaximumSessions bounds Options.MaximumSessions, below maxCookies.
const maxMaximumSessions = 100

// maxCookies bounds the multi-session cookies read from one request: a
// browser the plugin served holds at most MaximumSessions, and each one
// read may cost a database read.
const maxCookies = 128

// ErrInvalidSessionToken answers a set-active or revoke naming a session
// the browser holds no signed multi-session cookie for (or one whose
// session has ended), as Better Auth does.
var ErrInvalidSessionToken = plugin.NewError(http.StatusUnauthorized, "INVALID_SESSION_TOKEN", "Invalid session token")

// Plugin is the multi-session plugin.
type Plugin struct {
	opts Options
	h    plugin.Host
}

// New returns the plugin, or an error naming what is wrong with opts.
func New(opts Options) (*Plugin, error) {
	switch {
	case opts.MaximumSessions == 0:
		opts.MaximumSessions = DefaultMaximumSessions
	case opts.MaximumSessions < 0 || opts.MaximumSessions > maxMaximumSessions:
		return nil, fmt.Errorf("multisession: MaximumSessions is %d; it must be between 1 and %d (0 for the default, %d)",
			opts.MaximumSessions, maxMaximumSessions, DefaultMaximumSessions)
	}
	return &Plugin{opts: opts}, nil
}

// ID implements plugin.Plugin: "multi-session", Better Auth's id.
func (p *Plugin) ID() string { return "multi-session" }

// Options returns the options in effect (defaults applied).
func (p *Plugin) Options() Options { return p.opts }

// Init implements plugin.Initializer.
func (p *Plugin) Init(h plugin.Host) error {
	p.h = h
	return nil
}

// ErrorCodes implements plugin.ErrorSource.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{ErrInvalidSessionToken}
}

// Endpoints implements plugin.EndpointSource.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	token := []plugin.Param{plugin.Required("sessionToken", plugin.KindString)}
	return []plugin.Endpoint{
		{Method: "GET", Path: "/multi-session/list-device-sessions", Handler: p.handleList},
		{Method: "POST", Path: "/multi-session/set-active", Body: token, Handler: p.handleSetActive},
		{Method: "POST", Path: "/multi-session/revoke", Auth: plugin.SessionRequired, Body: token, Handler: p.handleRevoke},
	}
}

// Hooks implements plugin.HookSource: the after-hook that gives every new
// session its multi-session cookie, and the one that ends the browser's
// device sessions on sign-out.
func (p *Plugin) Hooks() plugin.Hooks {
	return plugin.Hooks{After: []plugin.Hook{
		{Match: func(c *plugin.Context) bool { return p.sessionCookieSet(c) != nil }, Handler: p.afterSessionSet},
		{Match: plugin.PathIs("/sign-out"), Handler: p.afterSignOut},
	}}
}

var (
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.HookSource     = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
)
