package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// flowInput is the body of sign-in/social and link-social.
type flowInput struct {
	Provider           string            `json:"provider"`
	CallbackURL        string            `json:"callbackURL"`
	NewUserCallbackURL string            `json:"newUserCallbackURL"`
	ErrorCallbackURL   string            `json:"errorCallbackURL"`
	DisableRedirect    bool              `json:"disableRedirect"`
	Scopes             []string          `json:"scopes"`
	LoginHint          string            `json:"loginHint"`
	RequestSignUp      bool              `json:"requestSignUp"`
	AdditionalParams   map[string]string `json:"additionalParams"`
	AdditionalData     map[string]any    `json:"additionalData"`
	IDToken            *idTokenInput     `json:"idToken"`
}

// idTokenInput is an ID token a client obtained itself (a mobile app, a
// one-tap prompt).
type idTokenInput struct {
	Token        string         `json:"token"`
	Nonce        string         `json:"nonce"`
	AccessToken  string         `json:"accessToken"`
	RefreshToken string         `json:"refreshToken"`
	ExpiresAt    *float64       `json:"expiresAt"`
	User         map[string]any `json:"user"`
}

// idTokenMaxAge is the age past which ID-token sign-in refuses a token
// (by its iat).
const idTokenMaxAge = time.Hour

// reservedParams are the authorization parameters additionalParams may
// not set.
var reservedParams = map[string]bool{"state": true, "client_id": true, "redirect_uri": true, "response_type": true,
	"code_challenge": true, "code_challenge_method": true, "nonce": true, "scope": true}

func (p *Plugin) readFlow(c *plugin.Context) (*flowInput, *remote, error) {
	if _, ok := c.Body()["provider"].(string); !ok {
		return nil, nil, plugin.ErrValidation.WithMessage("[body.provider] Invalid input")
	}
	var in flowInput
	if err := c.Bind(&in); err != nil {
		if _, ok := c.Body()["additionalParams"]; ok {
			return nil, nil, ErrInvalidAdditionalParameters
		}
		return nil, nil, plugin.ErrValidation.WithMessage("[body] Invalid input")
	}
	r := p.provider(in.Provider)
	if r == nil {
		return nil, nil, ErrProviderNotFound
	}
	if in.IDToken != nil && in.IDToken.Token == "" {
		return nil, nil, plugin.InvalidInput("idToken.token", "string", "undefined")
	}
	return &in, r, nil
}

func (p *Plugin) handleSignIn(c *plugin.Context) (any, error) {
	in, r, err := p.readFlow(c)
	if err != nil {
		return nil, err
	}
	if in.IDToken != nil {
		return p.idTokenSignIn(c, in, r)
	}
	return p.startFlow(c, in, r, nil)
}

func (p *Plugin) handleLink(c *plugin.Context) (any, error) {
	in, r, err := p.readFlow(c)
	if err != nil {
		return nil, err
	}
	sd := c.Session()
	if in.IDToken != nil {
		return p.idTokenLink(c, in, r, sd.User)
	}
	return p.startFlow(c, in, r, &linkData{UserID: sd.User.ID, Email: sd.User.Email, SessionToken: p.sealSession(sd.Session.Token)})
}

// flowAnswer is the answer of a flow's start.
type flowAnswer struct {
	URL      string `json:"url"`
	Redirect bool   `json:"redirect"`
}

// startFlow stores the flow's state and answers with the provider's
// authorization URL.
func (p *Plugin) startFlow(c *plugin.Context, in *flowInput, r *remote, link *linkData) (any, error) {
	ctx := c.Context()
	e, err := r.endpoints(ctx)
	if err != nil {
		p.h.Logger().WarnContext(ctx, "oauth: provider unavailable", "provider", r.ID, "err", err)
		return nil, unavailable(err)
	}
	callbackURL := in.CallbackURL
	if callbackURL == "" {
		callbackURL = p.h.Settings().BaseURL
	}
	scopes := r.scopes(e, in.Scopes)
	st := &stateData{CallbackURL: callbackURL, ErrorURL: in.ErrorCallbackURL, NewUserURL: in.NewUserCallbackURL,
		Link: link, RequestSignUp: in.RequestSignUp, Provider: r.ID, Scopes: scopes, AdditionalData: in.AdditionalData}
	var opts []oauth2.AuthCodeOption
	if !r.DisablePKCE {
		st.CodeVerifier = plugin.RandomString(128, stateAlphabet)
		opts = append(opts, oauth2.S256ChallengeOption(st.CodeVerifier))
	}
	if r.usesNonce(e) {
		st.IDTokenNonce = plugin.RandomString(32, stateAlphabet)
		opts = append(opts, oauth2.SetAuthURLParam("nonce", st.IDTokenNonce))
	}
	if in.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", in.LoginHint))
	}
	for k, v := range r.AuthParams {
		if !reservedParams[k] {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	for k, v := range in.AdditionalParams {
		if !reservedParams[k] {
			opts = append(opts, oauth2.SetAuthURLParam(k, v))
		}
	}
	conf := &oauth2.Config{ClientID: r.ClientID, RedirectURL: r.callbackURL, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.authURL}}
	state, err := p.newState(c, st)
	if err != nil {
		return nil, err
	}
	u := conf.AuthCodeURL(state, opts...)
	if !in.DisableRedirect {
		c.Header().Set("Location", u)
	}
	return flowAnswer{URL: u, Redirect: !in.DisableRedirect}, nil
}

// handleCallbackPost answers a provider's form_post (Apple's) with a
// redirect to the GET callback carrying the same parameters, so that the
// browser sends its SameSite=Lax cookies with it.
func (p *Plugin) handleCallbackPost(c *plugin.Context) (any, error) {
	q := url.Values{}
	for _, k := range []string{"code", "state", "error", "error_description", "iss", "device_id", "user"} {
		v := c.String(k)
		if qv := c.Query(k); qv != "" {
			v = qv
		}
		if v != "" {
			q.Set(k, v)
		}
	}
	return c.Redirect(p.h.URL("/callback/"+url.PathEscape(c.Param("id"))) + "?" + q.Encode())
}

// redirectError answers a failed callback with a redirect to errorURL
// (the default error page if empty) carrying the error code.
func (p *Plugin) redirectError(c *plugin.Context, errorURL, code, description string) (any, error) {
	if errorURL == "" {
		errorURL = p.h.URL("/error")
	}
	q := url.Values{"error": {code}}
	if description != "" {
		q.Set("error_description", description)
	}
	sep := "?"
	if strings.Contains(errorURL, "?") {
		sep = "&"
	}
	return c.Redirect(errorURL + sep + q.Encode())
}

// callbackError is a failed callback: the code the browser is sent back
// with, and the cause to log.
type callbackError struct {
	code string
	err  error
}

func (e *callbackError) Error() string {
	if e.err != nil {
		return "oauth: " + e.code + ": " + e.err.Error()
	}
	return "oauth: " + e.code
}

func (e *callbackError) Unwrap() error { return e.err }

func fail(code string, err error) error { return &callbackError{code: code, err: err} }

func (p *Plugin) handleCallback(c *plugin.Context) (any, error) {
	ctx := c.Context()
	q := c.Request().URL.Query()
	st, err := p.takeState(c, q.Get("state"))
	if err != nil {
		var se *stateError
		if errors.As(err, &se) {
			return p.redirectError(c, se.errorURL, se.code, "")
		}
		p.h.Logger().ErrorContext(ctx, "oauth: reading the state failed", "err", err)
		return p.redirectError(c, "", "internal_server_error", "")
	}
	if e := q.Get("error"); e != "" {
		return p.redirectError(c, st.ErrorURL, e, q.Get("error_description"))
	}
	res, err := p.finishFlow(c, st, q)
	var ce *callbackError
	switch {
	case errors.As(err, &ce):
		if ce.err != nil {
			p.h.Logger().WarnContext(ctx, "oauth: callback failed", "provider", c.Param("id"), "code", ce.code, "err", ce.err)
		}
		return p.redirectError(c, st.ErrorURL, ce.code, "")
	case err != nil:
		var intr *plugin.Interruption
		if errors.As(err, &intr) {
			// A second factor is due: the browser goes where the plugin
			// says, or back to the app, with the pending-verification cookie.
			c.SetCookies(intr.Cookies)
			if intr.RedirectURL != "" {
				return c.Redirect(p.h.ResolveURL(intr.RedirectURL))
			}
			return c.Redirect(plugin.AppendQuery(st.CallbackURL, "twoFactorRedirect", "true"))
		}
		if ae := plugin.AsError(err); ae.Status < 500 && ae.Code != "" {
			// A hook refused the sign-in (a ban, a sign-up limit).
			return p.redirectError(c, st.ErrorURL, ae.Code, ae.Message)
		}
		p.h.Logger().ErrorContext(ctx, "oauth: callback failed", "provider", c.Param("id"), "err", err)
		return p.redirectError(c, st.ErrorURL, "internal_server_error", "")
	}
	if res.auth != nil {
		c.SignedIn(res.auth)
	}
	if res.isNew && st.NewUserURL != "" {
		return c.Redirect(st.NewUserURL)
	}
	return c.Redirect(st.CallbackURL)
}

// flowResult is a finished flow: the sign-in (nil for a link) and whether
// it created the user.
type flowResult struct {
	auth  *plugin.AuthResult
	isNew bool
}

// finishFlow exchanges the code, reads the profile and signs the user in
// (or links the account).
func (p *Plugin) finishFlow(c *plugin.Context, st *stateData, q url.Values) (*flowResult, error) {
	ctx := c.Context()
	code := q.Get("code")
	if code == "" {
		return nil, fail("no_code", nil)
	}
	r := p.provider(c.Param("id"))
	if r == nil {
		return nil, fail("oauth_provider_not_found", nil)
	}
	if st.Provider != r.ID {
		return nil, fail("state_mismatch", errors.New("the state is another provider's"))
	}
	e, err := r.endpoints(ctx)
	if err != nil {
		return nil, fail("invalid_code", err)
	}
	// RFC 9207. A multi-tenant issuer (IssuerMatch) is checked on the ID
	// token instead.
	if iss := q.Get("iss"); iss != "" && e.issuer != "" && r.IssuerMatch == nil && iss != e.issuer {
		return nil, fail("issuer_mismatch", nil)
	}
	if r.usesNonce(e) && st.IDTokenNonce == "" {
		return nil, fail("nonce_binding_missing", nil)
	}
	conf, err := r.config(ctx, e, st.Scopes)
	if err != nil {
		return nil, fail("invalid_code", err)
	}
	var opts []oauth2.AuthCodeOption
	if st.CodeVerifier != "" {
		opts = append(opts, oauth2.VerifierOption(st.CodeVerifier))
	}
	tok, err := conf.Exchange(r.context(ctx), code, opts...)
	if err != nil {
		return nil, fail("invalid_code", err)
	}
	var appleUser map[string]any
	if u := q.Get("user"); u != "" {
		_ = json.Unmarshal([]byte(u), &appleUser)
	}
	_, prof, err := r.profile(ctx, e, tok, st.IDTokenNonce, appleUser, p.h.Now)
	if err != nil {
		return nil, fail("unable_to_get_user_info", err)
	}
	acc := p.accountFromToken(r, prof.ID, tok)
	if st.Link != nil {
		return &flowResult{}, p.linkAccount(ctx, r, st.Link, prof, acc)
	}
	if prof.Email == "" {
		return nil, fail("email_not_found", nil)
	}
	u, isNew, err := p.resolveUser(ctx, r, prof, acc, st.RequestSignUp, st.CallbackURL)
	if err != nil {
		return nil, err
	}
	res, err := p.h.CreateSession(plugin.WithSignIn(ctx, "oauth"), u, true)
	if err != nil {
		return nil, err
	}
	return &flowResult{auth: res, isNew: isNew}, nil
}

// accountFromToken returns the account row the tokens make for the
// provider's user id (tokens sealed if so configured).
func (p *Plugin) accountFromToken(r *remote, accountID string, tok *oauth2.Token) *plugin.Account {
	now := p.h.Now()
	acc := &plugin.Account{ID: plugin.NewID(), AccountID: accountID, ProviderID: r.ID, CreatedAt: now, UpdatedAt: now}
	// What a provider sends is stored only if every database can store it.
	if storable(tok.AccessToken) {
		acc.AccessToken = p.seal(tok.AccessToken)
	}
	if storable(tok.RefreshToken) {
		acc.RefreshToken = p.seal(tok.RefreshToken)
	}
	if id, _ := tok.Extra("id_token").(string); id != "" && storable(id) {
		acc.IDToken = &id
	}
	if tok.ExpiresIn > 0 { // by the host's clock
		t := now.Add(time.Duration(tok.ExpiresIn) * time.Second)
		acc.AccessTokenExpiresAt = &t
	} else if !tok.Expiry.IsZero() {
		t := tok.Expiry.UTC()
		acc.AccessTokenExpiresAt = &t
	}
	if n := numberExtra(tok, "refresh_token_expires_in"); n > 0 {
		t := now.Add(time.Duration(n) * time.Second)
		acc.RefreshTokenExpiresAt = &t
	}
	if s, _ := tok.Extra("scope").(string); s != "" && storable(s) {
		joined := strings.Join(strings.Fields(s), ",")
		acc.Scope = &joined
	}
	return acc
}

func numberExtra(tok *oauth2.Token, key string) int64 {
	switch v := tok.Extra(key).(type) {
	case float64:
		return int64(v)
	case json.Number:
		n, _ := v.Int64()
		return n
	}
	return 0
}

// tokenFields are the account fields a sign-in refreshes.
func tokenFields(acc *plugin.Account, now time.Time) storage.Record {
	rec := storage.Record{"updatedAt": now}
	if acc.AccessToken != nil {
		rec["accessToken"] = acc.AccessToken
	}
	if acc.RefreshToken != nil {
		rec["refreshToken"] = acc.RefreshToken
	}
	if acc.IDToken != nil {
		rec["idToken"] = acc.IDToken
	}
	if acc.AccessTokenExpiresAt != nil {
		rec["accessTokenExpiresAt"] = acc.AccessTokenExpiresAt
	}
	if acc.RefreshTokenExpiresAt != nil {
		rec["refreshTokenExpiresAt"] = acc.RefreshTokenExpiresAt
	}
	return rec
}

// findAccount returns the account of the provider's user, or nil.
func (p *Plugin) findAccount(ctx context.Context, providerID, accountID string) (*plugin.Account, error) {
	rec, err := p.h.DB().FindOne(ctx, plugin.TableAccount, storage.W("providerId", providerID), storage.W("accountId", accountID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return plugin.AccountFromRecord(rec), nil
}

// resolveUser finds or creates the user of a provider's profile, by
// Better Auth's rules (oauth2/link-account: handleOAuthUserInfo): the
// account of the provider's user id, else the user with the email if
// linking allows it, else a new user if sign-up allows it. Refusals are
// *callbackError with Better Auth's codes.
func (p *Plugin) resolveUser(ctx context.Context, r *remote, prof Profile, acc *plugin.Account, requestSignUp bool, callbackURL string) (*plugin.User, bool, error) {
	existing, err := p.findAccount(ctx, r.ID, prof.ID)
	if err != nil {
		return nil, false, err
	}
	if existing != nil {
		u, err := p.h.FindUserByID(ctx, existing.UserID)
		if err != nil {
			return nil, false, fail("unable_to_link_account", err)
		}
		if r.RequireEmailVerified && !prof.EmailVerified {
			return nil, false, fail("email_not_verified", nil)
		}
		if _, err := p.h.DB().Update(ctx, plugin.TableAccount, tokenFields(acc, p.h.Now()), storage.W("id", existing.ID)); err != nil {
			return nil, false, plugin.StorageError(err)
		}
		if prof.EmailVerified && !u.EmailVerified && prof.Email == u.Email {
			// The account was linked by the rules below, which vouched
			// for the user's other ways in.
			if _, err := p.h.MarkEmailVerified(ctx, u, true); err != nil {
				return nil, false, err
			}
		}
		return u, false, nil
	}
	if r.RequireEmailVerified && !prof.EmailVerified {
		return nil, false, fail("email_not_verified", nil)
	}
	u, err := p.h.FindUserByEmail(ctx, prof.Email)
	if err == nil {
		return u, false, p.linkImplicitly(ctx, r, prof, acc, u)
	}
	if ae := plugin.AsError(err); ae.Code != "USER_NOT_FOUND" {
		return nil, false, err
	}
	if r.DisableSignUp || (r.DisableImplicitSignUp && !requestSignUp) {
		return nil, false, fail("signup_disabled", nil)
	}
	u = &plugin.User{Email: prof.Email, Name: prof.Name, EmailVerified: prof.EmailVerified}
	if plugin.CheckName(u.Name) != nil {
		u.Name = "" // a provider's name the core would refuse
	}
	if img := prof.Image; len(img) <= 2048 && (strings.HasPrefix(img, "https://") || strings.HasPrefix(img, "http://")) {
		u.Image = &img
	}
	if err := p.h.CreateUser(ctx, u, acc); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			// The user (or the account) was created concurrently: sign in
			// as the rules say for an existing one.
			return p.resolveUser(ctx, r, prof, acc, false, callbackURL)
		}
		if ae := plugin.AsError(err); ae.Status < 500 && ae.Code != "" && ae.Code != "INTERNAL_SERVER_ERROR" {
			return nil, false, err // a hook refused the sign-up
		}
		return nil, false, fail("unable_to_create_user", err)
	}
	if !u.EmailVerified && p.h.Settings().SendVerificationOnSignUp {
		if err := p.h.SendVerificationEmail(ctx, u, callbackURL); err != nil {
			p.h.Logger().WarnContext(ctx, "oauth: sending the verification mail failed", "err", err)
		}
	}
	return u, true, nil
}

// linkImplicitly joins the provider's account to u, the user with its
// email, if the linking rules allow it: the provider is trusted or
// verified the address, and u verified it too (unless
// AllowUnverifiedLocalEmail). A user who never verified the address is
// taken over by its proven owner: their other ways in are dropped first.
func (p *Plugin) linkImplicitly(ctx context.Context, r *remote, prof Profile, acc *plugin.Account, u *plugin.User) error {
	l := p.cfg.AccountLinking
	if l.Disabled || l.DisableImplicitLinking || (!p.trusted[r.ID] && !prof.EmailVerified) ||
		(!u.EmailVerified && !l.AllowUnverifiedLocalEmail) {
		return fail("account_not_linked", nil)
	}
	if !u.EmailVerified && prof.EmailVerified {
		if _, err := p.h.MarkEmailVerified(ctx, u, false); err != nil {
			return err
		}
	}
	acc.UserID = u.ID
	if err := p.h.DB().Create(ctx, plugin.TableAccount, acc.Record()); err != nil {
		return fail("unable_to_link_account", err)
	}
	return nil
}

// linkAccount finishes a link-social flow: the provider's account joins
// the user who asked, by Better Auth's rules.
func (p *Plugin) linkAccount(ctx context.Context, r *remote, l *linkData, prof Profile, acc *plugin.Account) error {
	if !p.linkSession(ctx, l) {
		return fail("unable_to_link_account", errors.New("the session that began the link has ended"))
	}
	if code := p.checkLink(r, prof, l.Email); code != "" {
		return fail(code, nil)
	}
	existing, err := p.findAccount(ctx, r.ID, prof.ID)
	if err != nil {
		return err
	}
	if existing != nil {
		if existing.UserID != l.UserID {
			return fail("account_already_linked_to_different_user", nil)
		}
		rec := tokenFields(acc, p.h.Now())
		if merged := mergeScopes(existing.Scope, acc.Scope); merged != "" {
			rec["scope"] = merged
		}
		if _, err := p.h.DB().Update(ctx, plugin.TableAccount, rec, storage.W("id", existing.ID)); err != nil {
			return plugin.StorageError(err)
		}
		return nil
	}
	acc.UserID = l.UserID
	if err := p.h.DB().Create(ctx, plugin.TableAccount, acc.Record()); err != nil {
		return fail("unable_to_link_account", err)
	}
	return nil
}

// checkLink applies the rules of an explicit link, returning the refusal's
// code or "".
func (p *Plugin) checkLink(r *remote, prof Profile, userEmail string) string {
	if p.cfg.AccountLinking.Disabled || (!p.trusted[r.ID] && !prof.EmailVerified) {
		return "unable_to_link_account"
	}
	if !strings.EqualFold(prof.Email, userEmail) && !p.cfg.AccountLinking.AllowDifferentEmails {
		return "email_does_not_match"
	}
	return ""
}

func mergeScopes(a, b *string) string {
	var out []string
	seen := map[string]bool{}
	for _, s := range []*string{a, b} {
		if s == nil {
			continue
		}
		for _, x := range strings.Split(*s, ",") {
			if x != "" && !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return strings.Join(out, ",")
}

// idTokenAnswer is the answer of an ID-token sign-in.
type idTokenAnswer struct {
	Redirect bool         `json:"redirect"`
	Token    string       `json:"token"`
	User     *plugin.User `json:"user"`
}

// verifiedIDToken verifies a client's ID token for r (any of the
// provider's audiences, the client's nonce if given) and maps it to a
// profile.
func (p *Plugin) verifiedIDToken(c *plugin.Context, in *idTokenInput, r *remote) (Profile, *plugin.Account, error) {
	ctx := c.Context()
	if r.DisableIDTokenSignIn {
		return Profile{}, nil, ErrIDTokenNotSupported
	}
	e, err := r.endpoints(ctx)
	if err != nil {
		return Profile{}, nil, unavailable(err)
	}
	if e.keys == nil {
		return Profile{}, nil, ErrIDTokenNotSupported
	}
	claims, err := r.verifyIDToken(ctx, e, in.Token, in.Nonce, append([]string{r.ClientID}, r.Audiences...), p.h.Now)
	if err == nil {
		// A token that is not fresh may have leaked: Better Auth's
		// maxTokenAge.
		if iat, ok := claims["iat"].(float64); !ok || p.h.Now().Sub(time.Unix(int64(iat), 0)) > idTokenMaxAge {
			err = errors.New("oauth: the ID token was issued more than an hour ago")
		}
	}
	if err != nil {
		p.h.Logger().InfoContext(ctx, "oauth: ID token refused", "provider", r.ID, "err", err)
		return Profile{}, nil, errInvalidIDToken()
	}
	if Claim(claims, "email") == "" && in.AccessToken != "" && (e.userInfoURL != "" || r.UserInfo != nil) {
		// The token carries no email: ask UserInfo with the client's
		// access token, for the same subject.
		info, err := r.userInfo(ctx, e, &oauth2.Token{AccessToken: in.AccessToken})
		if err != nil || Claim(info, "sub") != Claim(claims, "sub") {
			return Profile{}, nil, ErrFailedToGetUserInfo
		}
		for k, v := range info {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	if in.User != nil {
		claims["user"] = in.User
	}
	prof, err := r.mapProfile(claims)
	if err != nil {
		return Profile{}, nil, ErrFailedToGetUserInfo
	}
	if prof.Email == "" {
		return Profile{}, nil, ErrUserEmailNotFound
	}
	tok := (&oauth2.Token{AccessToken: in.AccessToken, RefreshToken: in.RefreshToken}).WithExtra(map[string]any{"id_token": in.Token})
	if in.ExpiresAt != nil && *in.ExpiresAt > 0 {
		tok.Expiry = time.UnixMilli(int64(*in.ExpiresAt))
	}
	return prof, p.accountFromToken(r, prof.ID, tok), nil
}

// idTokenSignIn signs in with an ID token the client obtained itself.
func (p *Plugin) idTokenSignIn(c *plugin.Context, in *flowInput, r *remote) (any, error) {
	ctx := c.Context()
	prof, acc, err := p.verifiedIDToken(c, in.IDToken, r)
	if err != nil {
		return nil, err
	}
	u, _, err := p.resolveUser(ctx, r, prof, acc, in.RequestSignUp, in.CallbackURL)
	var ce *callbackError
	if errors.As(err, &ce) {
		if ce.code == "email_not_verified" {
			return nil, plugin.NewError(http.StatusForbidden, "EMAIL_NOT_VERIFIED", "Email not verified")
		}
		if ce.err != nil {
			p.h.Logger().WarnContext(ctx, "oauth: ID-token sign-in failed", "provider", r.ID, "code", ce.code, "err", ce.err)
		}
		return nil, ErrOAuthLink.WithMessage(strings.ReplaceAll(ce.code, "_", " "))
	}
	if err != nil {
		return nil, err
	}
	res, err := p.h.CreateSession(plugin.WithSignIn(ctx, "oauth"), u, true)
	if err != nil {
		return nil, err
	}
	c.SignedIn(res)
	return idTokenAnswer{Redirect: false, Token: res.Token(), User: res.User}, nil
}

// idTokenLink links the account of a client's ID token to the signed-in
// user.
func (p *Plugin) idTokenLink(c *plugin.Context, in *flowInput, r *remote, u *plugin.User) (any, error) {
	ctx := c.Context()
	prof, acc, err := p.verifiedIDToken(c, in.IDToken, r)
	if err != nil {
		return nil, err
	}
	switch p.checkLink(r, prof, u.Email) {
	case "unable_to_link_account":
		return nil, ErrLinkingNotAllowed
	case "email_does_not_match":
		return nil, ErrLinkingDifferentEmails
	}
	existing, err := p.findAccount(ctx, r.ID, prof.ID)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.UserID != u.ID {
			return nil, ErrSocialAccountAlreadyLinked
		}
		if _, err := p.h.DB().Update(ctx, plugin.TableAccount, tokenFields(acc, p.h.Now()), storage.W("id", existing.ID)); err != nil {
			return nil, plugin.StorageError(err)
		}
	} else {
		acc.UserID = u.ID
		if err := p.h.DB().Create(ctx, plugin.TableAccount, acc.Record()); err != nil {
			p.h.Logger().WarnContext(ctx, "oauth: linking failed", "err", err)
			return nil, ErrLinkingFailed
		}
	}
	return map[string]any{"url": "", "status": true, "redirect": false}, nil
}
