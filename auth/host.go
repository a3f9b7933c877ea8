package auth

import (
	"context"
	"net/http"

	"github.com/managarten/mana-auth/plugin"
)

// host is the plugin.Host of an Auth: what its plugins are given.
type host struct{ *Auth }

var _ plugin.Host = host{}

// Host returns the plugin API of a: what its plugins are given (Better
// Auth's auth.$context), for app code that works at that level, such as
// an admin tool or a migration.
func (a *Auth) Host() plugin.Host { return host{a} }

func (h host) Settings() plugin.Settings {
	c := h.cfg
	return plugin.Settings{
		AppName: c.AppName, BaseURL: c.BaseURL, BasePath: c.BasePath,
		TrustedOrigins: c.TrustedOrigins, CookieDomain: c.Cookies.Domain,
		SessionExpiresIn: c.Session.ExpiresIn, CookieCache: c.Session.CookieCache.Enabled,
		Mail: c.Mailer != nil,
	}
}

func (h host) AddResultCookie(ctx context.Context, c *http.Cookie) bool {
	return addResultCookie(ctx, c)
}

func (h host) UpdateUser(ctx context.Context, userID string, fields map[string]any) (*User, error) {
	return h.Auth.UpdateUser(ctx, userID, UpdateUserInput{Extra: fields})
}
