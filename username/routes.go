package username

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Endpoints implements plugin.EndpointSource.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{Method: "POST", Path: "/sign-in/username", LoginCSRF: true, Handler: p.handleSignIn,
			Body: []plugin.Param{plugin.Required("username", plugin.KindString), plugin.Required("password", plugin.KindString),
				plugin.Optional("rememberMe", plugin.KindBool), plugin.Optional("callbackURL", plugin.KindString)}},
		{Method: "POST", Path: "/is-username-available", Handler: p.handleAvailable,
			Body: []plugin.Param{plugin.Required("username", plugin.KindString)}},
	}
}

// The core's answers to a refused sign-in by email (errors.Is compares
// codes), which a sign-in by username answers as Better Auth does.
var (
	errInvalidEmailOrPassword = &plugin.Error{Code: "INVALID_EMAIL_OR_PASSWORD"}
	errInvalidEmail           = &plugin.Error{Code: "INVALID_EMAIL"}
)

// SignIn signs a user in with their username (any case, with the default
// normalisation) and password: the operation behind POST
// /sign-in/username. An empty username or password, an unknown username
// and a wrong password are all ErrInvalidUsernameOrPassword, the last two
// after the same work (see the package doc); a username that breaks the
// rules is ErrUsernameTooShort, ErrUsernameTooLong or ErrInvalidUsername
// with status 422. Everything else is the core's sign-in by email
// (plugin.Host.SignInWithPassword): EMAIL_NOT_VERIFIED, a lockout's
// refusal, a second factor's *plugin.Interruption.
func (p *Plugin) SignIn(ctx context.Context, username, password string, rememberMe bool) (*plugin.AuthResult, error) {
	if username == "" || password == "" {
		return nil, ErrInvalidUsernameOrPassword
	}
	if err := p.check(username); err != nil {
		return nil, unprocessable(err)
	}
	norm := p.Normalize(username)
	email := p.unknownEmail(norm)
	rec, err := p.h.DB().FindOne(ctx, plugin.TableUser, storage.W(FieldUsername, norm))
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, plugin.StorageError(err)
	default:
		email = rec.String("email")
	}
	res, err := p.h.SignInWithPassword(ctx, email, password, rememberMe)
	if errors.Is(err, errInvalidEmailOrPassword) || errors.Is(err, errInvalidEmail) {
		return nil, ErrInvalidUsernameOrPassword
	}
	return res, err
}

// unknownEmail is the address an unknown username signs in with: no
// user's (".invalid" is reserved, and the name is an HMAC of the
// username under the server's secret, which no one can choose), so the
// core answers as for a wrong password after verifying the password
// against its dummy hash, and the PasswordCheck hooks (a lockout) count
// the unknown username's failures as a known one's.
func (p *Plugin) unknownEmail(norm string) string {
	m := hmac.New(sha256.New, []byte(p.h.Secret()))
	m.Write([]byte("username-sign-in\x00" + norm))
	return hex.EncodeToString(m.Sum(nil)[:16]) + "@username.invalid"
}

type signInResponse struct {
	Redirect bool         `json:"redirect"`
	Token    string       `json:"token"`
	URL      string       `json:"url,omitempty"`
	User     *plugin.User `json:"user"`
}

func (p *Plugin) handleSignIn(c *plugin.Context) (any, error) {
	res, err := p.SignIn(c.Context(), c.String("username"), c.String("password"), c.Bool("rememberMe", true))
	if err != nil {
		return nil, err
	}
	c.SignedIn(res)
	out := signInResponse{Token: res.Token(), User: res.User}
	if cb := c.String("callbackURL"); cb != "" {
		out.Redirect, out.URL = true, cb
		c.Header().Set("Location", cb)
	}
	return out, nil
}

// Available reports whether a username is free: valid (else, with status
// 422, ErrUsernameTooShort, ErrUsernameTooLong or ErrInvalidUsername; an
// empty one ErrInvalidUsername), not reserved and held by no user. The
// operation behind POST /is-username-available.
func (p *Plugin) Available(ctx context.Context, username string) (bool, error) {
	if username == "" {
		return false, unprocessable(ErrInvalidUsername)
	}
	if err := p.check(username); err != nil {
		return false, unprocessable(err)
	}
	norm := p.Normalize(username)
	if p.reserved[norm] {
		return false, nil
	}
	_, err := p.h.DB().FindOne(ctx, plugin.TableUser, storage.W(FieldUsername, norm))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return true, nil
	case err != nil:
		return false, plugin.StorageError(err)
	}
	return false, nil
}

type availability struct {
	Available bool `json:"available"`
}

func (p *Plugin) handleAvailable(c *plugin.Context) (any, error) {
	ok, err := p.Available(c.Context(), c.String("username"))
	if err != nil {
		return nil, err
	}
	return availability{ok}, nil
}

// SetUsername sets the user's username, with the checks of update-user
// (400 codes; ImmutableUsername), and returns the updated user; a race
// for the username is decided by the unique index
// (ErrUsernameIsAlreadyTaken). The display username is left as it is.
// plugin.Host.UpdateUser with a username runs the same checks but
// ImmutableUsername, which is the user's own routes' rule.
func (p *Plugin) SetUsername(ctx context.Context, userID, username string) (*plugin.User, error) {
	if err := p.check(username); err != nil {
		return nil, err
	}
	u, err := p.h.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if cur, _ := u.Extra[FieldUsername].(string); p.opts.ImmutableUsername && cur != "" && cur != p.Normalize(username) {
		return nil, ErrUsernameIsImmutable
	}
	return p.h.UpdateUser(ctx, userID, map[string]any{FieldUsername: username})
}
