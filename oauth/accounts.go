package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// seal returns a provider's token as stored: sealed with the keyring if
// the plugin encrypts tokens; nil for an empty token.
func (p *Plugin) seal(token string) *string {
	if token == "" {
		return nil
	}
	if p.cfg.EncryptTokens {
		token = p.h.Keyring().Encrypt(token)
	}
	return &token
}

// open returns a stored token in clear. A token stored in plain text
// (before EncryptTokens was set) is returned as is.
func (p *Plugin) open(stored *string) string {
	if stored == nil {
		return ""
	}
	if p.cfg.EncryptTokens {
		if t, err := p.h.Keyring().Decrypt(*stored); err == nil {
			return t
		}
	}
	return *stored
}

// splitScope splits a stored scope ("openid,email") into its scopes.
func splitScope(s *string) []string {
	out := []string{}
	if s == nil {
		return out
	}
	for _, x := range strings.Split(*s, ",") {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

// accountOf reads the body of get-access-token, refresh-token and
// account-info ({accountId} or {useAccountCookie: true}, in the body or
// the query) and returns the signed-in user's account it names. Without
// a session it answers 401 with an empty body, as Better Auth does.
func (p *Plugin) accountOf(c *plugin.Context) (*plugin.Account, *remote, error) {
	body := c.Body()
	id, idOK := body["accountId"].(string)
	if c.Request().Method == http.MethodGet {
		id, idOK = c.Query("accountId"), c.Query("accountId") != ""
	}
	if uid, ok := body["userId"]; ok {
		if _, isStr := uid.(string); !isStr {
			idOK = false
		}
	}
	useCookie, _ := body["useAccountCookie"].(bool)
	if (!idOK || id == "") && !useCookie {
		if c.Request().Method == http.MethodGet {
			return nil, nil, plugin.ErrValidation.WithMessage("[query] Invalid input")
		}
		return nil, nil, plugin.ErrValidation.WithMessage("[body] Invalid input")
	}
	sd := c.Session()
	if sd == nil {
		return nil, nil, errEmptyUnauthorized
	}
	if !idOK { // no account cookie is kept (Better Auth's storeAccountCookie)
		return nil, nil, ErrAccountNotFound
	}
	rec, err := p.h.DB().FindOne(c.Context(), plugin.TableAccount, storage.W("id", id), storage.W("userId", sd.User.ID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil, ErrAccountNotFound
	}
	if err != nil {
		return nil, nil, plugin.StorageError(err)
	}
	acc := plugin.AccountFromRecord(rec)
	r := p.provider(acc.ProviderID)
	if r == nil {
		return nil, nil, ErrProviderNotSupported.WithMessage("Provider " + acc.ProviderID + " is not supported.")
	}
	return acc, r, nil
}

// errEmptyUnauthorized marks Better Auth's empty-bodied 401.
var errEmptyUnauthorized = errors.New("oauth: unauthorized")

// answer maps errEmptyUnauthorized to its empty 401.
func answer(c *plugin.Context, v any, err error) (any, error) {
	if errors.Is(err, errEmptyUnauthorized) {
		c.SetStatus(http.StatusUnauthorized)
		return plugin.RawJSON(nil), nil
	}
	return v, err
}

// AccessToken is a provider's access token as get-access-token answers it.
type AccessToken struct {
	AccessToken          string   `json:"accessToken"`
	AccessTokenExpiresAt *string  `json:"accessTokenExpiresAt"`
	Scopes               []string `json:"scopes"`
	IDToken              *string  `json:"idToken"`
}

// refreshWindow: a stored access token expiring within it is refreshed
// before it is handed out (Better Auth's 5 seconds).
const refreshWindow = 5 * time.Second

func timeJSON(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := plugin.FormatTime(*t)
	return &s
}

func (p *Plugin) handleGetAccessToken(c *plugin.Context) (any, error) {
	v, err := p.getAccessToken(c)
	return answer(c, v, err)
}

func (p *Plugin) getAccessToken(c *plugin.Context) (any, error) {
	acc, r, err := p.accountOf(c)
	if err != nil {
		return nil, err
	}
	if acc.AccessTokenExpiresAt != nil && acc.RefreshToken != nil && !acc.AccessTokenExpiresAt.After(p.h.Now().Add(refreshWindow)) {
		if acc, err = p.refresh(c.Context(), r, acc); err != nil {
			p.h.Logger().WarnContext(c.Context(), "oauth: refreshing an access token failed", "provider", r.ID, "err", err)
			return nil, unavailableOr(err, ErrFailedToGetAccessToken)
		}
	}
	return AccessToken{AccessToken: p.open(acc.AccessToken), AccessTokenExpiresAt: timeJSON(acc.AccessTokenExpiresAt),
		Scopes: splitScope(acc.Scope), IDToken: acc.IDToken}, nil
}

// unavailableOr answers a provider that could not be reached with a 502,
// any other failure with fallback.
func unavailableOr(err, fallback error) error {
	if u := unavailable(err); u != err {
		return u
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fallback
	}
	if ae := plugin.AsError(err); ae.Status != http.StatusInternalServerError || ae.Err != err {
		return err
	}
	return fallback
}

// refresh gets new tokens for acc from the provider and stores them.
func (p *Plugin) refresh(ctx context.Context, r *remote, acc *plugin.Account) (*plugin.Account, error) {
	if acc.RefreshToken == nil {
		return nil, ErrRefreshTokenNotFound
	}
	e, err := r.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	conf, err := r.config(ctx, e, nil)
	if err != nil {
		return nil, err
	}
	old := &oauth2.Token{RefreshToken: p.open(acc.RefreshToken), Expiry: time.Unix(1, 0)}
	tok, err := conf.TokenSource(r.context(ctx), old).Token()
	if err != nil {
		return nil, err
	}
	fresh := p.accountFromToken(r, acc.AccountID, tok)
	rec := tokenFields(fresh, p.h.Now())
	if fresh.Scope != nil {
		rec["scope"] = *fresh.Scope
		acc.Scope = fresh.Scope
	}
	if _, err := p.h.DB().Update(ctx, plugin.TableAccount, rec, storage.W("id", acc.ID)); err != nil {
		return nil, plugin.StorageError(err)
	}
	acc.AccessToken, acc.AccessTokenExpiresAt, acc.UpdatedAt = fresh.AccessToken, fresh.AccessTokenExpiresAt, p.h.Now()
	if fresh.RefreshToken != nil {
		acc.RefreshToken = fresh.RefreshToken
	}
	if fresh.IDToken != nil {
		acc.IDToken = fresh.IDToken
	}
	if fresh.RefreshTokenExpiresAt != nil {
		acc.RefreshTokenExpiresAt = fresh.RefreshTokenExpiresAt
	}
	return acc, nil
}

// refreshJSON is the answer of refresh-token.
type refreshJSON struct {
	AccessToken           string  `json:"accessToken"`
	RefreshToken          string  `json:"refreshToken"`
	AccessTokenExpiresAt  *string `json:"accessTokenExpiresAt"`
	RefreshTokenExpiresAt *string `json:"refreshTokenExpiresAt"`
	Scope                 *string `json:"scope"`
	IDToken               *string `json:"idToken"`
	ProviderID            string  `json:"providerId"`
	AccountID             string  `json:"accountId"`
}

func (p *Plugin) handleRefreshToken(c *plugin.Context) (any, error) {
	v, err := p.refreshToken(c)
	return answer(c, v, err)
}

func (p *Plugin) refreshToken(c *plugin.Context) (any, error) {
	acc, r, err := p.accountOf(c)
	if err != nil {
		return nil, err
	}
	if acc.RefreshToken == nil {
		return nil, ErrRefreshTokenNotFound
	}
	if acc, err = p.refresh(c.Context(), r, acc); err != nil {
		p.h.Logger().WarnContext(c.Context(), "oauth: refreshing tokens failed", "provider", r.ID, "err", err)
		return nil, unavailableOr(err, ErrFailedToRefreshAccessToken)
	}
	return refreshJSON{AccessToken: p.open(acc.AccessToken), RefreshToken: p.open(acc.RefreshToken),
		AccessTokenExpiresAt: timeJSON(acc.AccessTokenExpiresAt), RefreshTokenExpiresAt: timeJSON(acc.RefreshTokenExpiresAt),
		Scope: acc.Scope, IDToken: acc.IDToken, ProviderID: acc.ProviderID, AccountID: acc.ID}, nil
}

func (p *Plugin) handleAccountInfo(c *plugin.Context) (any, error) {
	v, err := p.accountInfo(c)
	return answer(c, v, err)
}

func (p *Plugin) accountInfo(c *plugin.Context) (any, error) {
	ctx := c.Context()
	acc, r, err := p.accountOf(c)
	if err != nil {
		return nil, err
	}
	if acc.AccessTokenExpiresAt != nil && acc.RefreshToken != nil && !acc.AccessTokenExpiresAt.After(p.h.Now().Add(refreshWindow)) {
		if acc, err = p.refresh(ctx, r, acc); err != nil {
			return nil, unavailableOr(err, ErrFailedToGetAccessToken)
		}
	}
	if acc.AccessToken == nil {
		return nil, ErrAccessTokenNotFound
	}
	e, err := r.endpoints(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	tok := &oauth2.Token{AccessToken: p.open(acc.AccessToken)}
	if acc.IDToken != nil {
		tok = tok.WithExtra(map[string]any{"id_token": *acc.IDToken})
	}
	// The stored ID token was verified with its nonce when it was issued;
	// it has expired since, likely, so its claims are read from UserInfo
	// when the provider has one, and from the token (signature checked,
	// expiry not) otherwise.
	claims, prof, err := p.storedProfile(ctx, r, e, tok)
	if err != nil {
		p.h.Logger().WarnContext(ctx, "oauth: account info failed", "provider", r.ID, "err", err)
		return nil, unavailableOr(err, ErrFailedToGetUserInfo)
	}
	data := map[string]any{}
	for k, v := range claims {
		data[k] = v
	}
	data["id"] = prof.ID
	data["emailVerified"] = prof.EmailVerified
	user := map[string]any{"name": prof.Name, "email": prof.Email, "emailVerified": prof.EmailVerified}
	if prof.Image != "" {
		user["image"] = prof.Image
	}
	return map[string]any{"user": user, "data": data,
		"account": map[string]string{"id": acc.ID, "providerId": acc.ProviderID, "accountId": acc.AccountID}}, nil
}

// storedProfile reads the provider's profile for stored tokens.
func (p *Plugin) storedProfile(ctx context.Context, r *remote, e *endpoints, tok *oauth2.Token) (map[string]any, Profile, error) {
	if e.userInfoURL != "" || r.UserInfo != nil {
		info, err := r.userInfo(ctx, e, tok)
		if err != nil {
			return nil, Profile{}, err
		}
		prof, err := r.mapProfile(info)
		return info, prof, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" || e.keys == nil {
		return nil, Profile{}, ErrFailedToGetUserInfo
	}
	// An issued token's expiry is not the question here: nil skips it.
	claims, err := r.verifyIDToken(ctx, e, raw, "", []string{r.ClientID}, nil)
	if err != nil {
		return nil, Profile{}, err
	}
	prof, err := r.mapProfile(claims)
	return claims, prof, err
}
