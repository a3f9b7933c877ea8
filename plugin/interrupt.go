package plugin

import (
	"context"
	"net/http"
)

// Interruption stops a sign-in to ask for more, such as a second factor.
// A Hooks.BeforeSessionCreate hook returns it (as an error) when the
// session being created is a first-factor sign-in (SignInMethod(ctx) is
// not empty). Go callers see it with errors.As; the HTTP layer answers 200
// with Body and sets Cookies, as Better Auth's two-factor plugin answers a
// sign-in with {"twoFactorRedirect":true}. Routes that are followed by a
// browser navigation (a magic link) redirect to RedirectURL instead.
type Interruption struct {
	// Reason names what is asked for, e.g. "two-factor".
	Reason string
	// Body is the JSON answer of the interrupted route.
	Body any
	// Cookies are set on the answer (e.g. the pending-verification cookie
	// and the deletion of session cookies).
	Cookies []*http.Cookie
	// RedirectURL, if set, is where a browser-navigation flow should go.
	RedirectURL string
}

// Error says that the sign-in was interrupted, and why.
func (i *Interruption) Error() string { return "auth: sign-in interrupted: " + i.Reason }

type signInKey struct{}

// WithSignIn marks ctx as the context of a first-factor sign-in by method
// (e.g. "email", "magic-link", "passkey"). Sessions created under it run
// the plugins' sign-in checks (a second factor may interrupt them).
func WithSignIn(ctx context.Context, method string) context.Context {
	return context.WithValue(ctx, signInKey{}, method)
}

// SignInMethod returns the first-factor method ctx was marked with, or "".
func SignInMethod(ctx context.Context) string {
	m, _ := ctx.Value(signInKey{}).(string)
	return m
}
