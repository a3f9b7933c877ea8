package auth

import (
	"encoding/json"
	"errors"
	"html"
	"net/http"

	"github.com/managarten/mana-auth/plugin"
)

func (a *Auth) coreEndpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{Method: "POST", Path: "/sign-up/email", Handler: a.handleSignUp, AllowForm: true, LoginCSRF: true, AdditionalFields: true,
			Body: []plugin.Param{plugin.Required("name", plugin.KindString), {Name: "email", Kind: plugin.KindEmail}, plugin.Required("password", plugin.KindString), plugin.Optional("image", plugin.KindString),
				plugin.Optional("callbackURL", plugin.KindString), plugin.Optional("rememberMe", plugin.KindBool)}},
		{Method: "POST", Path: "/sign-in/email", Handler: a.handleSignIn, AllowForm: true, LoginCSRF: true,
			Body: []plugin.Param{plugin.Required("email", plugin.KindString), plugin.Required("password", plugin.KindString), plugin.Optional("callbackURL", plugin.KindString), plugin.Optional("rememberMe", plugin.KindBool)}},
		{Method: "POST", Path: "/sign-out", Handler: a.handleSignOut},
		{Method: "GET", Path: "/get-session", Handler: a.handleGetSession},
		{Method: "POST", Path: "/get-session", Handler: func(c *plugin.Context) (any, error) {
			c.Header().Set("Cache-Control", "no-store")
			c.Header().Set("Pragma", "no-cache")
			return nil, ErrDeferSessionRequired
		}},
		{Method: "GET", Path: "/list-sessions", Auth: plugin.FreshSessionRequired, Handler: a.handleListSessions},
		{Method: "POST", Path: "/revoke-session", Auth: plugin.SessionRequired, Sensitive: true, Body: []plugin.Param{plugin.Required("token", plugin.KindString)}, Handler: a.handleRevokeSession},
		{Method: "POST", Path: "/revoke-sessions", Auth: plugin.SessionRequired, Sensitive: true, Handler: a.handleRevokeSessions},
		{Method: "POST", Path: "/revoke-other-sessions", Auth: plugin.SessionRequired, Sensitive: true, Handler: a.handleRevokeOtherSessions},
		{Method: "POST", Path: "/update-user", Auth: plugin.SessionRequired, Handler: a.handleUpdateUser},
		{Method: "POST", Path: "/change-password", Auth: plugin.SessionRequired, Sensitive: true, Handler: a.handleChangePassword,
			Body: []plugin.Param{plugin.Required("newPassword", plugin.KindString), plugin.Required("currentPassword", plugin.KindString), plugin.Optional("revokeOtherSessions", plugin.KindBool)}},
		{Method: "POST", Path: "/verify-password", Auth: plugin.SessionRequired, Sensitive: true, Body: []plugin.Param{plugin.Required("password", plugin.KindString)}, Handler: a.handleVerifyPassword},
		{Method: "POST", Path: "/delete-user", Auth: plugin.SessionRequired, Sensitive: true, Handler: a.handleDeleteUser,
			Body: []plugin.Param{plugin.Optional("password", plugin.KindString), plugin.Optional("token", plugin.KindString), plugin.Optional("callbackURL", plugin.KindString)}},
		{Method: "POST", Path: "/send-verification-email", Auth: plugin.SessionOptional, Handler: a.handleSendVerification,
			Body: []plugin.Param{{Name: "email", Kind: plugin.KindEmail}, plugin.Optional("callbackURL", plugin.KindString)}},
		{Method: "GET", Path: "/verify-email", Auth: plugin.SessionOptional, Handler: a.handleVerifyEmail, CheckRedirects: true},
		{Method: "POST", Path: "/request-password-reset", Handler: a.handleRequestPasswordReset,
			Body: []plugin.Param{{Name: "email", Kind: plugin.KindEmail}, plugin.Optional("redirectTo", plugin.KindString)}},
		{Method: "GET", Path: "/reset-password/:token", Handler: a.handleResetPasswordCallback, CheckRedirects: true},
		{Method: "POST", Path: "/reset-password", Handler: a.handleResetPassword,
			Body: []plugin.Param{plugin.Required("newPassword", plugin.KindString), plugin.Optional("token", plugin.KindString)}},
		{Method: "POST", Path: "/change-email", Auth: plugin.SessionRequired, Sensitive: true, Handler: a.handleChangeEmail,
			Body: []plugin.Param{{Name: "newEmail", Kind: plugin.KindEmail}, plugin.Optional("callbackURL", plugin.KindString)}},
		{Method: "GET", Path: "/list-accounts", Auth: plugin.SessionRequired, Handler: a.handleListAccounts},
		{Method: "POST", Path: "/unlink-account", Auth: plugin.FreshSessionRequired, Sensitive: true,
			Body: []plugin.Param{plugin.Required("accountId", plugin.KindString)}, Handler: a.handleUnlinkAccount},
		{Method: "GET", Path: "/ok", Handler: func(*plugin.Context) (any, error) { return map[string]bool{"ok": true}, nil }},
		{Method: "GET", Path: "/error", Handler: a.handleErrorPage},
	}
}

type tokenUser struct {
	Token *string `json:"token"`
	User  *User   `json:"user"`
}

func tokenPtr(r *AuthResult) *string {
	if r.Session == nil {
		return nil
	}
	return &r.Session.Token
}

func (a *Auth) handleSignUp(c *plugin.Context) (any, error) {
	extra, err := a.inputFieldsOf(c.Body())
	if err != nil {
		return nil, err
	}
	res, err := a.SignUpEmail(c.Context(), SignUpInput{
		Name: c.String("name"), Email: c.String("email"), Password: c.String("password"),
		Image: c.OptString("image"), RememberMe: c.OptBool("rememberMe"), CallbackURL: c.String("callbackURL"),
		Extra: extra,
	})
	if err != nil {
		return nil, err
	}
	c.SignedIn(res)
	return tokenUser{Token: tokenPtr(res), User: res.User}, nil
}

type signInResponse struct {
	Redirect bool   `json:"redirect"`
	Token    string `json:"token"`
	URL      string `json:"url,omitempty"`
	User     *User  `json:"user"`
}

func (a *Auth) handleSignIn(c *plugin.Context) (any, error) {
	res, err := a.SignInEmail(c.Context(), SignInInput{
		Email: c.String("email"), Password: c.String("password"), RememberMe: c.OptBool("rememberMe"),
		CallbackURL: c.String("callbackURL"),
	})
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

func (a *Auth) handleSignOut(c *plugin.Context) (any, error) {
	token, _ := a.sessionToken(c.Request())
	cookies, err := a.SignOut(c.Context(), token)
	if err != nil {
		return nil, err
	}
	c.SetCookies(cookies)
	c.SetSession(nil)
	return map[string]bool{"success": true}, nil
}

func (a *Auth) handleGetSession(c *plugin.Context) (any, error) {
	c.Header().Set("Cache-Control", "no-store")
	c.Header().Set("Pragma", "no-cache")
	sd, cookies, err := a.contextSession(c.Request(), c.Endpoint(), true)
	if err != nil {
		return nil, err
	}
	c.SetCookies(cookies)
	c.SetSession(sd)
	if sd == nil {
		return nil, nil
	}
	return sd, nil
}

func (a *Auth) handleListSessions(c *plugin.Context) (any, error) {
	return a.ListSessions(c.Context(), c.Session().User.ID)
}

type statusTrue struct {
	Status bool `json:"status"`
}

func (a *Auth) handleRevokeSession(c *plugin.Context) (any, error) {
	token := c.String("token")
	if err := a.RevokeSession(c.Context(), c.Session().User.ID, token); err != nil {
		return nil, err
	}
	if plugin.SecureEqual(token, c.Session().Session.Token) {
		c.SetCookies(a.expiredSessionCookies(c.Request()))
	}
	return statusTrue{true}, nil
}

func (a *Auth) handleRevokeSessions(c *plugin.Context) (any, error) {
	if err := a.RevokeSessions(c.Context(), c.Session().User.ID); err != nil {
		return nil, err
	}
	c.SetCookies(a.expiredSessionCookies(c.Request()))
	return statusTrue{true}, nil
}

func (a *Auth) handleRevokeOtherSessions(c *plugin.Context) (any, error) {
	if err := a.RevokeOtherSessions(c.Context(), c.Session().User.ID, c.Session().Session.Token); err != nil {
		return nil, err
	}
	return statusTrue{true}, nil
}

func (a *Auth) handleUpdateUser(c *plugin.Context) (any, error) {
	if c.Body() == nil {
		got := "undefined"
		if raw, present := c.RawBody(); present {
			var v any
			_ = json.Unmarshal(raw, &v)
			got = plugin.JSONKind(v)
		}
		return nil, plugin.InvalidInput("body", "record", got)
	}
	if _, ok := c.Body()["email"]; ok {
		return nil, ErrEmailCanNotBeUpdated
	}
	var in UpdateUserInput
	for k, v := range c.Body() {
		switch k {
		case "name":
			s, ok := v.(string)
			if !ok {
				return nil, plugin.InvalidInput("body.name", "string", plugin.JSONKind(v))
			}
			in.Name = &s
		case "image":
			switch x := v.(type) {
			case nil:
				in.ClearImage = true
			case string:
				in.Image = &x
			default:
				return nil, plugin.InvalidInput("body.image", "string", plugin.JSONKind(v))
			}
		default:
			// A plugin's user field declared Input (a username) is set
			// as given, once of its type; the other fields the route may
			// not set (role, twoFactorEnabled, …) are refused when given
			// a value, as Better Auth refuses input:false fields; keys
			// that are no field are dropped.
			if f, ok := a.inputField(k); ok {
				val, err := inputValue(f, v)
				if err != nil {
					return nil, err
				}
				if in.Extra == nil {
					in.Extra = map[string]any{}
				}
				in.Extra[k] = val
			} else if _, field := a.schema.Table(plugin.TableUser).Field(k); field && !userCore[k] && truthy(v) {
				return nil, ErrFieldNotAllowed.WithMessage(k + " is not allowed to be set")
			}
		}
	}
	u, err := a.UpdateUser(c.Context(), c.Session().User.ID, in)
	if err != nil {
		return nil, err
	}
	c.Session().User = u
	c.SetSessionCookie(c.Session())
	return statusTrue{true}, nil
}

func (a *Auth) dontRemember(r *http.Request) bool {
	v, ok := a.readSignedCookie(r, plugin.CookieDontRemember)
	return ok && v == "true"
}

func (a *Auth) handleChangePassword(c *plugin.Context) (any, error) {
	res, err := a.ChangePassword(c.Context(), c.Session(), ChangePasswordInput{
		CurrentPassword: c.String("currentPassword"), NewPassword: c.String("newPassword"),
		RevokeOtherSessions: c.Bool("revokeOtherSessions", false),
	})
	if err != nil {
		return nil, err
	}
	if res.Session != nil {
		cookies := res.Cookies
		if a.dontRemember(c.Request()) {
			// The browser-session choice of this device carries over.
			cookies = a.sessionCookies(c.Request(), &SessionData{Session: res.Session, User: res.User}, true)
		}
		c.SetCookies(cookies)
		c.SetSession(&SessionData{Session: res.Session, User: res.User})
	}
	return tokenUser{Token: tokenPtr(res), User: res.User}, nil
}

func (a *Auth) handleVerifyPassword(c *plugin.Context) (any, error) {
	if err := a.CheckPassword(c.Context(), c.Session().User.ID, c.String("password")); err != nil {
		if err == ErrCredentialAccountNotFound {
			return nil, ErrInvalidPassword
		}
		return nil, err
	}
	return statusTrue{true}, nil
}

type successMessage struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

func (a *Auth) handleDeleteUser(c *plugin.Context) (any, error) {
	if !a.cfg.User.DeleteEnabled {
		c.SetStatus(http.StatusNotFound)
		return plugin.RawJSON{}, nil
	}
	uid := c.Session().User.ID
	if pw := c.OptString("password"); pw != nil {
		if err := a.CheckPassword(c.Context(), uid, *pw); err != nil {
			return nil, err
		}
	} else if a.cfg.Session.FreshAge > 0 && a.clockNow().Sub(c.Session().Session.CreatedAt) >= a.cfg.Session.FreshAge {
		return nil, ErrSessionExpired
	}
	if err := a.DeleteUser(c.Context(), uid); err != nil {
		return nil, err
	}
	c.SetCookies(a.expiredSessionCookies(c.Request()))
	c.SetSession(nil)
	return successMessage{Success: true, Message: "User deleted"}, nil
}

func (a *Auth) handleErrorPage(c *plugin.Context) (any, error) {
	code := c.Query("error")
	if code == "" {
		code = "UNKNOWN"
	}
	desc := c.Query("error_description")
	c.Header().Set("Content-Type", "text/html; charset=utf-8")
	page := "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Error</title></head><body><h1>Authentication error</h1><p><code>" +
		html.EscapeString(code) + "</code></p><p>" + html.EscapeString(desc) + "</p></body></html>"
	return htmlBody(page), nil
}

type htmlBody string

func (a *Auth) handleSendVerification(c *plugin.Context) (any, error) {
	if a.cfg.Mailer == nil {
		return nil, ErrVerificationEmailNotEnabled
	}
	email := plugin.NormalizeEmail(c.String("email"))
	cb := c.String("callbackURL")
	if sd := c.Session(); sd != nil {
		if sd.User.Email != email {
			return nil, ErrEmailMismatch
		}
		if sd.User.EmailVerified {
			return nil, ErrEmailAlreadyVerified
		}
		// Asked for from a session of the account: the link vouches for
		// its password, as the sign-up's link does. It leaves off the
		// request path, as every mail of the core.
		a.mailInBackground(c.Context(), a.verificationEmail(sd.User, cb, a.passwordHash(c.Context(), sd.User.ID)))
		return statusTrue{true}, nil
	}
	if err := a.ResendVerification(c.Context(), email, cb); err != nil {
		return nil, err
	}
	return statusTrue{true}, nil
}

type statusUser struct {
	Status bool  `json:"status"`
	User   *User `json:"user"`
}

func (a *Auth) handleVerifyEmail(c *plugin.Context) (any, error) {
	q := c.Request().URL.Query()
	if !q.Has("token") {
		return nil, plugin.InvalidInput("query.token", "string", "undefined")
	}
	cb := q.Get("callbackURL")
	var sessionUser string
	if sd := c.Session(); sd != nil {
		sessionUser = sd.User.ID
	}
	res, err := a.VerifyEmail(c.Context(), q.Get("token"), sessionUser, cb)
	if err != nil {
		if e, ok := err.(*Error); ok && cb != "" && e.Status < 500 {
			return c.Redirect(plugin.AppendQuery(cb, "error", e.Code))
		}
		return nil, err
	}
	var out statusUser
	out.Status = true
	switch {
	case res.Changed:
		out.User = res.User
		if sd := c.Session(); sd != nil {
			sd.User = res.User
			c.SetSessionCookie(sd)
		}
	case !res.AlreadyVerified && !res.ConfirmationSent && a.cfg.EmailVerification.AutoSignInAfterVerification:
		if sd := c.Session(); sd != nil && sd.User.ID == res.User.ID {
			sd.User = res.User
			c.SetSessionCookie(sd)
		} else {
			ar, err := a.createSession(plugin.WithSignIn(c.Context(), "email-verification"), res.User, true)
			if err != nil {
				return nil, err
			}
			c.SetCookies(ar.Cookies)
			c.SetSession(&SessionData{Session: ar.Session, User: ar.User})
		}
	}
	if res.ConfirmationSent {
		if cb != "" {
			return c.Redirect(cb)
		}
		return statusTrue{true}, nil
	}
	if cb != "" {
		return c.Redirect(cb)
	}
	return out, nil
}

type statusMessage struct {
	Status  bool   `json:"status"`
	Message string `json:"message"`
}

func (a *Auth) handleRequestPasswordReset(c *plugin.Context) (any, error) {
	if err := a.RequestPasswordReset(c.Context(), c.String("email"), c.String("redirectTo")); err != nil {
		return nil, err
	}
	return statusMessage{true, resetPasswordMessage}, nil
}

func (a *Auth) handleResetPasswordCallback(c *plugin.Context) (any, error) {
	q := c.Request().URL.Query()
	if !q.Has("callbackURL") {
		return nil, plugin.InvalidInput("query.callbackURL", "string", "undefined")
	}
	cb := q.Get("callbackURL")
	token := c.Param("token")
	fail := func() (any, error) {
		if cb == "" {
			return c.Redirect(a.absURL("/error?error=INVALID_TOKEN"))
		}
		return c.Redirect(plugin.AppendQuery(a.resolveURL(cb), "error", "INVALID_TOKEN"))
	}
	if token == "" || cb == "" {
		return fail()
	}
	if _, err := a.findVerification(c.Context(), "reset-password:"+token); err != nil {
		if errors.Is(err, plugin.ErrVerificationNotFound) {
			return fail()
		}
		return nil, err
	}
	return c.Redirect(plugin.AppendQuery(a.resolveURL(cb), "token", token))
}

func (a *Auth) handleResetPassword(c *plugin.Context) (any, error) {
	token := c.String("token")
	if token == "" {
		token = c.Query("token")
	}
	if err := a.ResetPassword(c.Context(), token, c.String("newPassword")); err != nil {
		return nil, err
	}
	return statusTrue{true}, nil
}

func (a *Auth) handleChangeEmail(c *plugin.Context) (any, error) {
	u, err := a.ChangeEmail(c.Context(), c.Session(), c.String("newEmail"), c.String("callbackURL"))
	if err != nil {
		return nil, err
	}
	if u != nil {
		c.Session().User = u
		c.SetSessionCookie(c.Session())
	}
	return statusTrue{true}, nil
}

// truthy is JavaScript's truthiness of a JSON value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 && x == x
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	}
	return true
}
