// Package magiclink is the magic-link plugin: passwordless sign-in by a
// single-use link sent by email, answering as Better Auth's magic-link
// plugin does (POST /sign-in/magic-link, GET /magic-link/verify).
//
// Usage:
//
//	ml := magiclink.New(magiclink.Options{})
//	a, err := auth.New(auth.Config{..., Mailer: mailer}, db, ml)
//
// Unknown emails are signed up (verified, since they proved the address)
// unless Options.DisableSignUp is set. Redirect targets must be safe
// relative paths or trusted origins, so the link cannot become an open
// redirect. Requests for known and unknown emails answer the same.
package magiclink

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
)

// Options configures the plugin.
type Options struct {
	// ExpiresIn is the lifetime of a link. Default 5 minutes.
	ExpiresIn time.Duration
	// DisableSignUp refuses links for unknown emails (the request still
	// answers the same, and the link ends in error=new_user_signup_disabled).
	DisableSignUp bool
	// StoreTokenHashed keeps only SHA-256 of the token in the database
	// (Better Auth's storeToken "hashed"), so a database leak reveals no
	// usable link.
	StoreTokenHashed bool
}

// Plugin is the magic-link plugin.
type Plugin struct {
	opts Options
	a    plugin.Host
}

// New returns the plugin.
func New(opts Options) *Plugin {
	if opts.ExpiresIn <= 0 {
		opts.ExpiresIn = 5 * time.Minute
	}
	return &Plugin{opts: opts}
}

// ID implements plugin.Plugin.
func (p *Plugin) ID() string { return "magic-link" }

var _ plugin.ErrorSource = (*Plugin)(nil)

// ErrorCodes implements plugin.ErrorSource: the plugin declares no error
// of its own. The codes of a failed verification (CodeInvalidToken, …)
// are the error query parameter of the redirect; answered as JSON (no
// callback URL), they are 401s built per request, INVALID_TOKEN being
// the core's code.
func (p *Plugin) ErrorCodes() []*plugin.Error { return nil }

// Init implements plugin.Initializer.
func (p *Plugin) Init(a plugin.Host) error {
	p.a = a
	if !a.Settings().Mail {
		a.Logger().Warn("magiclink: no Mailer configured; links cannot be sent")
	}
	return nil
}

// RateLimits implements plugin.RateLimitSource: 5 requests per minute.
func (p *Plugin) RateLimits() map[string]ratelimit.Rule {
	r := ratelimit.Rule{Window: time.Minute, Max: 5}
	return map[string]ratelimit.Rule{"/sign-in/magic-link*": r, "/magic-link/verify*": r}
}

// Endpoints implements plugin.EndpointSource.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{Method: "POST", Path: "/sign-in/magic-link", LoginCSRF: true, Handler: p.handleSend,
			Body: []plugin.Param{plugin.Required("email", plugin.KindEmail), plugin.Optional("name", plugin.KindString),
				plugin.Optional("callbackURL", plugin.KindString), plugin.Optional("newUserCallbackURL", plugin.KindString),
				plugin.Optional("errorCallbackURL", plugin.KindString), plugin.Optional("metadata", plugin.KindObject)}},
		{Method: "GET", Path: "/magic-link/verify", Handler: p.handleVerify, CheckRedirects: true},
	}
}

// SendInput is the input of Send.
type SendInput struct {
	Email              string
	Name               string
	CallbackURL        string
	NewUserCallbackURL string
	ErrorCallbackURL   string
}

type record struct {
	Type  string `json:"type"`
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

func (p *Plugin) identifier(token string) string {
	if p.opts.StoreTokenHashed {
		sum := sha256.Sum256([]byte(token))
		return "magic-link:" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return "magic-link:" + token
}

// Send mails a sign-in link to in.Email: it stores the token and queues
// the mail (Host.SendEmailInBackground), returning before the mail server
// is reached; if the mail then fails, the token is deleted (and the
// failure logged). It answers the same whether or not the email belongs
// to a user. in.Name (checked by plugin.CheckName) is
// the name of the account the link creates for a new user; the mail never
// shows it, since the requester need not own the mailbox: it greets a
// verified user by their own name and anyone else by none.
func (p *Plugin) Send(ctx context.Context, in SendInput) error {
	email := plugin.NormalizeEmail(in.Email)
	if !plugin.ValidEmail(email) {
		return auth.ErrInvalidEmail
	}
	if err := plugin.CheckName(in.Name); err != nil {
		return err
	}
	greet := ""
	if u, err := p.a.FindUserByEmail(ctx, email); err == nil {
		greet = plugin.GreetingName(u)
	} else if !errors.Is(err, auth.ErrUserNotFound) {
		return err
	}
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	token := plugin.RandomString(32, letters)
	val, _ := json.Marshal(record{Type: "magic-link", Email: email, Name: in.Name})
	id := p.identifier(token)
	if err := p.a.CreateVerification(ctx, id, string(val), p.opts.ExpiresIn); err != nil {
		return err
	}
	cb := in.CallbackURL
	if cb == "" {
		cb = "/"
	}
	link := p.a.URL("/magic-link/verify?token=" + token + "&callbackURL=" + plugin.EncodeURIComponent(cb))
	if in.NewUserCallbackURL != "" {
		link += "&newUserCallbackURL=" + plugin.EncodeURIComponent(in.NewUserCallbackURL)
	}
	if in.ErrorCallbackURL != "" {
		link += "&errorCallbackURL=" + plugin.EncodeURIComponent(in.ErrorCallbackURL)
	}
	// The mail leaves in the background (a slow mail server slows no
	// answer). If it cannot be sent, the token goes: no live link is left
	// behind a mail that never went out.
	undo := func(ctx context.Context, _ error) {
		if derr := p.a.DeleteVerification(context.WithoutCancel(ctx), id); derr != nil {
			p.a.Logger().ErrorContext(ctx, "magiclink: removing token after mail failure", "err", derr)
		}
	}
	if err := p.a.SendEmailInBackground(ctx, plugin.Email{Kind: plugin.EmailMagicLink, To: email, Name: greet, URL: link}, undo); err != nil {
		undo(ctx, err) // not queued (the mail queue is full)
		return err
	}
	return nil
}

// Error codes the verify route redirects with (as Better Auth's).
const (
	CodeInvalidToken          = "INVALID_TOKEN"
	CodeNewUserSignUpDisabled = "new_user_signup_disabled"
	CodeFailedToCreateUser    = "failed_to_create_user"
	CodeFailedToCreateSession = "failed_to_create_session"
)

// VerifyResult is a successful sign-in by link.
type VerifyResult struct {
	*plugin.AuthResult
	// NewUser is set when the link signed a new user up.
	NewUser bool
}

// verifyError carries the redirect code of a failed verification.
type verifyError struct {
	code string
	err  error
}

func (e *verifyError) Error() string { return "magiclink: " + e.code }
func (e *verifyError) Unwrap() error { return e.err }

// Verify consumes a link's token and signs its user in (signing them up
// first if they are new). The token works once: of two concurrent uses
// exactly one succeeds. An existing user whose email was not verified has
// their other accounts and sessions removed first, so that whoever
// registered the address before its owner loses access.
func (p *Plugin) Verify(ctx context.Context, token string) (*VerifyResult, error) {
	if token == "" || len(token) > 128 {
		return nil, &verifyError{code: CodeInvalidToken}
	}
	v, err := p.a.ConsumeVerification(ctx, p.identifier(token))
	if errors.Is(err, plugin.ErrVerificationNotFound) {
		return nil, &verifyError{code: CodeInvalidToken}
	}
	if err != nil {
		return nil, err
	}
	var rec record
	if json.Unmarshal([]byte(v.Value), &rec) != nil || rec.Type != "magic-link" || !plugin.ValidEmail(rec.Email) {
		return nil, &verifyError{code: CodeInvalidToken}
	}
	if plugin.CheckName(rec.Name) != nil {
		rec.Name = "" // a link Better Auth issued, with a name it did not check
	}
	u, err := p.a.FindUserByEmail(ctx, rec.Email)
	isNew := false
	switch {
	case errors.Is(err, auth.ErrUserNotFound):
		if p.opts.DisableSignUp {
			return nil, &verifyError{code: CodeNewUserSignUpDisabled}
		}
		u = &plugin.User{Name: rec.Name, Email: rec.Email, EmailVerified: true}
		if err := p.a.CreateUser(ctx, u, nil); err != nil {
			if !errors.Is(err, storage.ErrConflict) {
				return nil, &verifyError{code: CodeFailedToCreateUser, err: err}
			}
			// Signed up concurrently: sign that user in.
			if u, err = p.a.FindUserByEmail(ctx, rec.Email); err != nil {
				return nil, &verifyError{code: CodeFailedToCreateUser, err: err}
			}
		} else {
			isNew = true
		}
	case err != nil:
		return nil, err
	case !u.EmailVerified:
		// The link proves the mailbox, and vouches for nothing set on
		// the account before: its owner takes it over (whoever signed it
		// up with their own password loses it).
		if _, err := p.a.MarkEmailVerified(ctx, u, false); err != nil {
			return nil, err
		}
	}
	res, err := p.a.CreateSession(plugin.WithSignIn(ctx, "magic-link"), u, true)
	if err != nil {
		var ae *plugin.Error
		var intr *plugin.Interruption
		if errors.As(err, &ae) && ae.Status < 500 && ae.Code != auth.ErrFailedToCreateSession.Code || errors.As(err, &intr) {
			return nil, err // a plugin hook (e.g. a second factor) answered
		}
		return nil, &verifyError{code: CodeFailedToCreateSession, err: err}
	}
	return &VerifyResult{AuthResult: res, NewUser: isNew}, nil
}

func (p *Plugin) handleSend(c *plugin.Context) (any, error) {
	err := p.Send(c.Context(), SendInput{
		Email: c.String("email"), Name: c.String("name"), CallbackURL: c.String("callbackURL"),
		NewUserCallbackURL: c.String("newUserCallbackURL"), ErrorCallbackURL: c.String("errorCallbackURL"),
	})
	if err != nil {
		return nil, err
	}
	return map[string]bool{"status": true}, nil
}

type verifyJSON struct {
	Token   string          `json:"token"`
	User    *plugin.User    `json:"user"`
	Session *plugin.Session `json:"session"`
}

func (p *Plugin) handleVerify(c *plugin.Context) (any, error) {
	q := c.Request().URL.Query()
	cb, newCB, errCB := q.Get("callbackURL"), q.Get("newUserCallbackURL"), q.Get("errorCallbackURL")
	if errCB == "" {
		errCB = cb
	}
	res, err := p.Verify(c.Context(), q.Get("token"))
	var intr *plugin.Interruption
	if errors.As(err, &intr) {
		// A second factor is due: the browser goes where the plugin says
		// (or back to the app), carrying the pending-verification cookie.
		c.SetCookies(intr.Cookies)
		if intr.RedirectURL != "" {
			return c.Redirect(p.a.ResolveURL(intr.RedirectURL))
		}
		if cb == "" {
			return intr.Body, nil
		}
		return c.Redirect(plugin.AppendQuery(p.a.ResolveURL(cb), "twoFactorRedirect", "true"))
	}
	if err != nil {
		var ve *verifyError
		if errors.As(err, &ve) {
			if ve.err != nil {
				p.a.Logger().ErrorContext(c.Context(), "magiclink: verification failed", "code", ve.code, "err", ve.err)
			}
			if errCB == "" {
				return nil, plugin.NewError(http.StatusUnauthorized, ve.code, "Invalid or expired magic link")
			}
			return c.Redirect(plugin.AppendQuery(p.a.ResolveURL(errCB), "error", ve.code))
		}
		return nil, err
	}
	c.SignedIn(res.AuthResult)
	target := cb
	if res.NewUser && newCB != "" {
		target = newCB
	}
	if target == "" {
		return verifyJSON{Token: res.Token(), User: res.User, Session: res.Session}, nil
	}
	return c.Redirect(p.a.ResolveURL(target))
}
