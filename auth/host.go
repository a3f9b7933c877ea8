package auth

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
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
		TrustedOrigins: slices.Clone(c.TrustedOrigins), CookieDomain: c.Cookies.Domain,
		SessionExpiresIn: c.Session.ExpiresIn, CookieCache: c.Session.CookieCache.Enabled,
		Mail: c.Mailer != nil, SendVerificationOnSignUp: c.Mailer != nil && c.EmailVerification.SendOnSignUp,
		MinPasswordLength: c.EmailPassword.MinPasswordLength, MaxPasswordLength: c.EmailPassword.MaxPasswordLength,
		AutoSignInAfterVerification: c.EmailVerification.AutoSignInAfterVerification,
		KeepSessionsOnPasswordReset: c.EmailPassword.KeepSessionsOnPasswordReset,
	}
}

func (h host) AddResultCookie(ctx context.Context, c *http.Cookie) bool {
	return addResultCookie(ctx, c)
}

func (h host) UpdateUser(ctx context.Context, userID string, fields map[string]any) (*User, error) {
	if len(fields) == 0 {
		return nil, ErrNoFieldsToUpdate
	}
	if _, ok := fields["id"]; ok {
		return nil, ErrFieldNotAllowed.WithMessage("id is not allowed to be set")
	}
	return h.updateUser(ctx, userID, maps.Clone(fields))
}

func (h host) DB() storage.Adapter                          { return h.db }
func (h host) Keyring() *keyring.Ring                       { return h.keys }
func (h host) Secret() string                               { return h.currentSecret() }
func (h host) Now() time.Time                               { return h.clockNow() }
func (h host) Logger() *slog.Logger                         { return h.log }
func (h host) Plugin(id string) plugin.Plugin               { return h.pluginByID(id) }
func (h host) CookieName(name string) string                { return h.cookieName(name) }
func (h host) URL(path string) string                       { return h.absURL(path) }
func (h host) ResolveURL(ref string) string                 { return h.resolveURL(ref) }
func (h host) TrustedRedirect(rawURL string) bool           { return h.trustedRedirect(rawURL) }
func (h host) ClientIP(r *http.Request) string              { return h.clientIP(r) }
func (h host) SendEmail(ctx context.Context, e Email) error { return h.sendEmail(ctx, e) }

func (h host) SendEmailInBackground(ctx context.Context, e Email, failed func(context.Context, error)) error {
	if h.cfg.Mailer == nil {
		return ErrVerificationEmailNotEnabled
	}
	if !h.queueMail(ctx, e, failed) {
		return ErrBusy
	}
	return nil
}

func (h host) SendVerificationEmail(ctx context.Context, u *User, callbackURL string) error {
	if h.cfg.Mailer == nil {
		return ErrVerificationEmailNotEnabled
	}
	if !h.queueMail(ctx, h.verificationEmail(u, callbackURL, ""), nil) {
		return ErrBusy
	}
	return nil
}

func (h host) NewCookie(name, value string, maxAge int) *http.Cookie {
	return h.newCookie(name, value, maxAge)
}

func (h host) SignedCookie(name, value string, maxAge int) *http.Cookie {
	return h.signedCookie(name, value, maxAge)
}

func (h host) ReadSignedCookie(r *http.Request, name string) (string, bool) {
	return h.readSignedCookie(r, name)
}

func (h host) SessionCookies(r *http.Request, sd *SessionData, dontRemember bool) []*http.Cookie {
	return h.sessionCookies(r, sd, dontRemember)
}

func (h host) ExpiredSessionCookies(r *http.Request) []*http.Cookie {
	return h.expiredSessionCookies(r)
}

func (h host) FindUserByID(ctx context.Context, id string) (*User, error) {
	return h.findUserByID(ctx, id)
}

func (h host) FindUserByEmail(ctx context.Context, email string) (*User, error) {
	return h.findUserByEmail(ctx, email)
}

func (h host) CreateUser(ctx context.Context, u *User, acc *plugin.Account) error {
	return h.createUser(ctx, u, acc)
}

func (h host) MarkEmailVerified(ctx context.Context, u *User, credentialsVouched bool) (bool, error) {
	return h.markEmailVerified(ctx, u, credentialsVouched)
}

func (h host) HashPassword(ctx context.Context, password string) (string, error) {
	return h.hashPassword(ctx, password)
}

func (h host) VerifyPassword(ctx context.Context, hash, password string) (bool, error) {
	return h.verifyPassword(ctx, hash, password)
}

func (h host) CreateSession(ctx context.Context, u *User, rememberMe bool) (*AuthResult, error) {
	return h.createSession(ctx, u, rememberMe)
}

func (h host) CreateVerification(ctx context.Context, identifier, value string, ttl time.Duration) error {
	return h.createVerification(ctx, identifier, value, ttl)
}

func (h host) FindVerification(ctx context.Context, identifier string) (*plugin.Verification, error) {
	return h.findVerification(ctx, identifier)
}

func (h host) ConsumeVerification(ctx context.Context, identifier string) (*plugin.Verification, error) {
	return h.consumeVerification(ctx, identifier)
}

func (h host) DeleteVerification(ctx context.Context, identifier string) error {
	return h.deleteVerification(ctx, identifier)
}

func (h host) SignInWithPassword(ctx context.Context, email, password string, rememberMe bool) (*AuthResult, error) {
	return h.SignInEmail(ctx, SignInInput{Email: email, Password: password, RememberMe: &rememberMe})
}

func (h host) SetPassword(ctx context.Context, userID, password string, endSessions bool) error {
	if err := h.checkPasswordLength(password); err != nil {
		return err
	}
	hash, err := h.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	return h.setPassword(ctx, userID, hash, endSessions, "")
}

func (h host) DeleteUser(ctx context.Context, userID string) error {
	return h.Auth.DeleteUser(ctx, userID)
}

func (h host) Endpoints() []plugin.MountedEndpoint {
	return append([]plugin.MountedEndpoint(nil), h.endpoints...)
}

func (h host) ErrorCodes(pluginID string) []*Error {
	return append([]*Error(nil), h.errorsOf[pluginID]...)
}
