package auth

import (
	"html"
	"net/http"
)

func (a *Auth) coreEndpoints() []Endpoint {
	str := func(n string) Param { return Param{Name: n, Kind: KindString} }
	opt := func(n string, k Kind) Param { return Param{Name: n, Kind: k, Optional: true} }
	return []Endpoint{
		{Method: "POST", Path: "/sign-up/email", Handler: a.handleSignUp, AllowForm: true, LoginCSRF: true, AdditionalFields: true,
			Body: []Param{str("name"), {Name: "email", Kind: KindEmail}, str("password"), opt("image", KindString),
				opt("callbackURL", KindString), opt("rememberMe", KindBool)}},
		{Method: "POST", Path: "/sign-in/email", Handler: a.handleSignIn, AllowForm: true, LoginCSRF: true,
			Body: []Param{str("email"), str("password"), opt("callbackURL", KindString), opt("rememberMe", KindBool)}},
		{Method: "POST", Path: "/sign-out", Handler: a.handleSignOut},
		{Method: "GET", Path: "/get-session", Handler: a.handleGetSession},
		{Method: "POST", Path: "/get-session", Handler: func(c *Context) (any, error) {
			c.Header().Set("Cache-Control", "no-store")
			c.Header().Set("Pragma", "no-cache")
			return nil, ErrDeferSessionRequired
		}},
		{Method: "GET", Path: "/list-sessions", Auth: FreshSessionRequired, Handler: a.handleListSessions},
		{Method: "POST", Path: "/revoke-session", Auth: SessionRequired, Body: []Param{str("token")}, Handler: a.handleRevokeSession},
		{Method: "POST", Path: "/revoke-sessions", Auth: SessionRequired, Handler: a.handleRevokeSessions},
		{Method: "POST", Path: "/revoke-other-sessions", Auth: SessionRequired, Handler: a.handleRevokeOtherSessions},
		{Method: "POST", Path: "/update-user", Auth: SessionRequired, Handler: a.handleUpdateUser},
		{Method: "POST", Path: "/change-password", Auth: SessionRequired, Handler: a.handleChangePassword,
			Body: []Param{str("newPassword"), str("currentPassword"), opt("revokeOtherSessions", KindBool)}},
		{Method: "POST", Path: "/verify-password", Auth: SessionRequired, Body: []Param{str("password")}, Handler: a.handleVerifyPassword},
		{Method: "POST", Path: "/delete-user", Auth: SessionRequired, Handler: a.handleDeleteUser,
			Body: []Param{opt("password", KindString), opt("token", KindString), opt("callbackURL", KindString)}},
		{Method: "GET", Path: "/ok", Handler: func(*Context) (any, error) { return map[string]bool{"ok": true}, nil }},
		{Method: "GET", Path: "/error", Handler: a.handleErrorPage},
	}
}

func optString(c *Context, name string) *string {
	if s, ok := c.body[name].(string); ok {
		return &s
	}
	return nil
}

func optBool(c *Context, name string) *bool {
	if b, ok := c.body[name].(bool); ok {
		return &b
	}
	return nil
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

func (a *Auth) handleSignUp(c *Context) (any, error) {
	res, err := a.SignUpEmail(c.Context(), SignUpInput{
		Name: c.String("name"), Email: c.String("email"), Password: c.String("password"),
		Image: optString(c, "image"), RememberMe: optBool(c, "rememberMe"), CallbackURL: c.String("callbackURL"),
	})
	if err != nil {
		return nil, err
	}
	c.SetCookies(res.Cookies)
	if res.Session != nil {
		c.SetSession(&SessionData{Session: res.Session, User: res.User})
	}
	return tokenUser{Token: tokenPtr(res), User: res.User}, nil
}

type signInResponse struct {
	Redirect bool   `json:"redirect"`
	Token    string `json:"token"`
	URL      string `json:"url,omitempty"`
	User     *User  `json:"user"`
}

func (a *Auth) handleSignIn(c *Context) (any, error) {
	res, err := a.SignInEmail(c.Context(), SignInInput{
		Email: c.String("email"), Password: c.String("password"), RememberMe: optBool(c, "rememberMe"),
	})
	if err != nil {
		return nil, err
	}
	c.SetCookies(res.Cookies)
	c.SetSession(&SessionData{Session: res.Session, User: res.User})
	out := signInResponse{Token: res.Token(), User: res.User}
	if cb := c.String("callbackURL"); cb != "" {
		out.Redirect, out.URL = true, cb
		c.Header().Set("Location", cb)
	}
	return out, nil
}

func (a *Auth) handleSignOut(c *Context) (any, error) {
	token, _ := a.sessionToken(c.r)
	cookies, err := a.SignOut(c.Context(), token)
	if err != nil {
		return nil, err
	}
	c.SetCookies(cookies)
	c.SetSession(nil)
	return map[string]bool{"success": true}, nil
}

func (a *Auth) handleGetSession(c *Context) (any, error) {
	c.Header().Set("Cache-Control", "no-store")
	c.Header().Set("Pragma", "no-cache")
	if err := c.loadSession(c.Query("disableRefresh") == ""); err != nil {
		return nil, err
	}
	if ck, err := c.r.Cookie(a.CookieName(CookieSessionData)); err == nil && ck.Value != "" {
		// No cookie cache here: a stray cache cookie is expired.
		c.SetCookie(a.NewCookie(CookieSessionData, "", -1))
	}
	if c.session == nil {
		return nil, nil
	}
	return c.session, nil
}

func (a *Auth) handleListSessions(c *Context) (any, error) {
	return a.ListSessions(c.Context(), c.session.User.ID)
}

type statusTrue struct {
	Status bool `json:"status"`
}

func (a *Auth) handleRevokeSession(c *Context) (any, error) {
	token := c.String("token")
	if err := a.RevokeSession(c.Context(), c.session.User.ID, token); err != nil {
		return nil, err
	}
	if SecureEqual(token, c.session.Session.Token) {
		c.SetCookies(a.expiredSessionCookies())
	}
	return statusTrue{true}, nil
}

func (a *Auth) handleRevokeSessions(c *Context) (any, error) {
	if err := a.RevokeSessions(c.Context(), c.session.User.ID); err != nil {
		return nil, err
	}
	c.SetCookies(a.expiredSessionCookies())
	return statusTrue{true}, nil
}

func (a *Auth) handleRevokeOtherSessions(c *Context) (any, error) {
	if err := a.RevokeOtherSessions(c.Context(), c.session.User.ID, c.session.Session.Token); err != nil {
		return nil, err
	}
	return statusTrue{true}, nil
}

func (a *Auth) handleUpdateUser(c *Context) (any, error) {
	if c.body == nil {
		got := "undefined"
		if c.bodyPresent {
			got = jsonKind(c.rawBody)
		}
		return nil, ErrValidation.WithMessage("[body] Invalid input: expected record, received " + got)
	}
	if _, ok := c.body["email"]; ok {
		return nil, ErrEmailCanNotBeUpdated
	}
	var in UpdateUserInput
	for k, v := range c.body {
		switch k {
		case "name":
			s, ok := v.(string)
			if !ok {
				return nil, ErrValidation.WithMessage("[body.name] Invalid input: expected string, received " + jsonKind(v))
			}
			in.Name = &s
		case "image":
			switch x := v.(type) {
			case nil:
				in.ClearImage = true
			case string:
				in.Image = &x
			default:
				return nil, ErrValidation.WithMessage("[body.image] Invalid input: expected string, received " + jsonKind(v))
			}
		}
		// Other keys are dropped, as Better Auth drops undeclared fields.
	}
	u, err := a.UpdateUser(c.Context(), c.session.User.ID, in)
	if err != nil {
		return nil, err
	}
	c.session.User = u
	c.SetCookies(a.sessionCookies(c.session.Session.Token, a.dontRemember(c.r)))
	return statusTrue{true}, nil
}

func (a *Auth) dontRemember(r *http.Request) bool {
	v, ok := a.ReadSignedCookie(r, CookieDontRemember)
	return ok && v == "true"
}

func (a *Auth) handleChangePassword(c *Context) (any, error) {
	res, err := a.ChangePassword(c.Context(), c.session, ChangePasswordInput{
		CurrentPassword: c.String("currentPassword"), NewPassword: c.String("newPassword"),
		RevokeOtherSessions: c.Bool("revokeOtherSessions", false),
	})
	if err != nil {
		return nil, err
	}
	if res.Session != nil {
		c.SetCookies(res.Cookies)
		c.SetSession(&SessionData{Session: res.Session, User: res.User})
	}
	return tokenUser{Token: tokenPtr(res), User: res.User}, nil
}

func (a *Auth) handleVerifyPassword(c *Context) (any, error) {
	if err := a.CheckPassword(c.Context(), c.session.User.ID, c.String("password")); err != nil {
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

func (a *Auth) handleDeleteUser(c *Context) (any, error) {
	if !a.cfg.User.DeleteEnabled {
		c.SetStatus(http.StatusNotFound)
		return noBody{}, nil
	}
	uid := c.session.User.ID
	if pw := optString(c, "password"); pw != nil {
		if err := a.CheckPassword(c.Context(), uid, *pw); err != nil {
			return nil, err
		}
	} else if a.cfg.Session.FreshAge > 0 && a.Now().Sub(c.session.Session.CreatedAt) >= a.cfg.Session.FreshAge {
		return nil, ErrSessionExpired
	}
	if err := a.DeleteUser(c.Context(), uid); err != nil {
		return nil, err
	}
	c.SetCookies(a.expiredSessionCookies())
	c.SetSession(nil)
	return successMessage{Success: true, Message: "User deleted"}, nil
}

func (a *Auth) handleErrorPage(c *Context) (any, error) {
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
