package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/managarten/mana-auth/plugin"
)

// Provider is an OAuth 2.0 or OpenID Connect provider, as a plain value:
// its endpoints, the client's credentials, the scopes and how its answer
// maps to a user. The built-in providers (Google, GitHub, Apple, …) are
// functions returning one; any other provider is a Provider written by
// hand, or OIDC for an OpenID provider with discovery.
//
// A provider is OpenID Connect when it has an Issuer (given, or read by
// discovery): its ID tokens are then verified (signature by the issuer's
// JWKS, iss, aud, exp and the flow's nonce) and their claims are the
// profile, completed by the UserInfo endpoint when they lack the email.
// Otherwise the profile is what UserInfo returns.
type Provider struct {
	// ID names the provider in requests ("google", "my-idp") and in its
	// callback route, /callback/<ID>. Letters, digits, "-" and "_".
	ID string
	// ClientID and ClientSecret are the client's credentials.
	ClientID, ClientSecret string
	// ClientSecretFunc, if set, returns the client secret for each use
	// instead of ClientSecret (Apple's is a short-lived signed JWT).
	ClientSecretFunc func(ctx context.Context) (string, error)
	// AuthInHeader sends the client's credentials with HTTP Basic
	// (client_secret_basic) instead of in the form (client_secret_post,
	// Better Auth's default).
	AuthInHeader bool

	// DiscoveryURL is the provider's OpenID configuration document
	// (…/.well-known/openid-configuration). It is read at first use (and
	// again after a failure) and fills the endpoints, Issuer, JWKSURL and
	// SigningAlgs left empty.
	DiscoveryURL string
	// Issuer is the OpenID issuer: the iss of its ID tokens and of the
	// callback's RFC 9207 iss parameter. Empty for plain OAuth 2.0.
	Issuer string
	// IssuerMatch, if set, replaces the equality check of an ID token's
	// iss with Issuer (for multi-tenant issuers: Microsoft's "common"
	// tenant issues tokens with the user's tenant in iss).
	IssuerMatch func(iss string, claims map[string]any) bool
	// AuthURL, TokenURL, UserInfoURL and JWKSURL are the endpoints.
	AuthURL, TokenURL, UserInfoURL, JWKSURL string
	// SigningAlgs are the accepted ID token algorithms. Default: the
	// discovery document's, else RS256.
	SigningAlgs []string

	// Scopes are requested on every authorization (a sign-in may add
	// more). For an OpenID provider "openid" is added if missing.
	Scopes []string
	// AuthParams are added to the authorization URL (prompt,
	// access_type, response_mode, …).
	AuthParams map[string]string
	// DisablePKCE omits PKCE (S256), for the rare provider that refuses
	// it.
	DisablePKCE bool
	// DisableNonce omits the OpenID nonce that binds the ID token to the
	// browser's flow.
	DisableNonce bool
	// Audiences are further client IDs whose ID tokens are accepted by
	// ID-token sign-in (a mobile app's own client ID).
	Audiences []string
	// DisableIDTokenSignIn refuses ID-token sign-in for the provider.
	DisableIDTokenSignIn bool
	// HashedNonce accepts, in ID-token sign-in, a token whose nonce is
	// the SHA-256 (hex) of the nonce the client gives: Apple's iOS SDK
	// sends the provider the hash.
	HashedNonce bool

	// DisableSignUp refuses to create users through the provider.
	DisableSignUp bool
	// DisableImplicitSignUp creates users only when the sign-in asked for
	// it (requestSignUp).
	DisableImplicitSignUp bool
	// RequireEmailVerified refuses a sign-in whose address the provider
	// has not verified (error email_not_verified).
	RequireEmailVerified bool

	// UserInfo fetches the profile's claims when the ID token does not
	// carry them, with the plugin's HTTP client, from the UserInfo
	// endpoint (UserInfoURL or discovery's). Default: GET it with the
	// access token and read a JSON object.
	UserInfo func(ctx context.Context, client *http.Client, userInfoURL string, tok *oauth2.Token) (map[string]any, error)
	// Profile maps the claims (of the verified ID token and UserInfo,
	// plus, for Apple, the "user" the callback received) to the user.
	// Default: StandardProfile.
	Profile func(claims map[string]any) (Profile, error)
}

// Profile is what a provider says of its user.
type Profile struct {
	// ID is the provider's stable id of the user (OpenID's sub): the
	// account's accountId.
	ID string
	// Email is the user's address; EmailVerified whether the provider
	// verified it.
	Email         string
	EmailVerified bool
	// Name and Image are the display name and picture URL.
	Name, Image string
}

var providerIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// StandardProfile maps OpenID Connect's standard claims: sub, email,
// email_verified (a boolean or "true"), name (else preferred_username, else
// given and family name) and picture.
func StandardProfile(claims map[string]any) (Profile, error) {
	p := Profile{ID: Claim(claims, "sub"), Email: Claim(claims, "email"),
		EmailVerified: ClaimBool(claims, "email_verified"), Image: Claim(claims, "picture")}
	p.Name = Claim(claims, "name")
	if p.Name == "" {
		p.Name = Claim(claims, "preferred_username")
	}
	if p.Name == "" {
		p.Name = strings.TrimSpace(Claim(claims, "given_name") + " " + Claim(claims, "family_name"))
	}
	if p.ID == "" {
		return p, errors.New("oauth: the profile has no subject (sub)")
	}
	return p, nil
}

// Claim returns a claim as a string: a string as is, a number in decimal
// (GitHub's and Discord's ids are numbers), anything else "".
func Claim(claims map[string]any, name string) string {
	switch v := claims[name].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprintf("%.0f", v)
	case json.Number:
		return v.String()
	}
	return ""
}

// ClaimBool returns a boolean claim: true or "true".
func ClaimBool(claims map[string]any, name string) bool {
	switch v := claims[name].(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// check validates the provider's configuration.
func (p *Provider) check() error {
	if !providerIDPattern.MatchString(p.ID) {
		return fmt.Errorf("oauth: provider id %q: use 1 to 64 letters, digits, - and _", p.ID)
	}
	if p.ClientID == "" {
		return fmt.Errorf("oauth: provider %q: ClientID is required", p.ID)
	}
	if p.DiscoveryURL == "" && (p.AuthURL == "" || p.TokenURL == "") {
		return fmt.Errorf("oauth: provider %q: set DiscoveryURL, or AuthURL and TokenURL", p.ID)
	}
	if p.DiscoveryURL == "" && p.Issuer == "" && p.UserInfoURL == "" && p.UserInfo == nil {
		return fmt.Errorf("oauth: provider %q: without an Issuer (OpenID), UserInfoURL or UserInfo is required", p.ID)
	}
	if p.Issuer != "" && p.DiscoveryURL == "" && p.JWKSURL == "" {
		return fmt.Errorf("oauth: provider %q: an OpenID provider (Issuer) needs JWKSURL or DiscoveryURL", p.ID)
	}
	for _, u := range []string{p.DiscoveryURL, p.AuthURL, p.TokenURL, p.UserInfoURL, p.JWKSURL} {
		if u == "" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			return fmt.Errorf("oauth: provider %q: %q is not an http(s) URL", p.ID, u)
		}
	}
	return nil
}

// endpoints is a provider with its discovery resolved.
type endpoints struct {
	authURL, tokenURL, userInfoURL, jwksURL, issuer string
	algs                                            []string
	keys                                            *oidc.RemoteKeySet // nil: not OpenID
}

// remote is a configured provider at run time: its discovery, cached, and
// its key set (go-oidc's, which caches the JWKS and refetches it for an
// unknown key id).
type remote struct {
	*Provider
	callbackURL string
	client      *http.Client

	mu       sync.Mutex
	resolved *endpoints
	failedAt time.Time
}

// discoveryRetry is how long a failed discovery is not retried.
const discoveryRetry = 5 * time.Second

var errProviderUnavailable = errors.New("oauth: provider unavailable")

// endpoints returns the provider's endpoints, reading its discovery
// document the first time.
func (r *remote) endpoints(ctx context.Context) (*endpoints, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resolved != nil {
		return r.resolved, nil
	}
	if !r.failedAt.IsZero() && time.Since(r.failedAt) < discoveryRetry {
		return nil, errProviderUnavailable
	}
	e := &endpoints{authURL: r.AuthURL, tokenURL: r.TokenURL, userInfoURL: r.UserInfoURL,
		jwksURL: r.JWKSURL, issuer: r.Issuer, algs: r.SigningAlgs}
	if r.DiscoveryURL != "" {
		var doc struct {
			Issuer   string   `json:"issuer"`
			Auth     string   `json:"authorization_endpoint"`
			Token    string   `json:"token_endpoint"`
			UserInfo string   `json:"userinfo_endpoint"`
			JWKS     string   `json:"jwks_uri"`
			Algs     []string `json:"id_token_signing_alg_values_supported"`
		}
		if err := r.getJSON(ctx, r.DiscoveryURL, "", &doc); err != nil {
			r.failedAt = time.Now()
			return nil, fmt.Errorf("%w: discovery of %q: %v", errProviderUnavailable, r.ID, err)
		}
		fill := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		fill(&e.issuer, doc.Issuer)
		fill(&e.authURL, doc.Auth)
		fill(&e.tokenURL, doc.Token)
		fill(&e.userInfoURL, doc.UserInfo)
		fill(&e.jwksURL, doc.JWKS)
		if len(e.algs) == 0 {
			e.algs = doc.Algs
		}
		if e.authURL == "" || e.tokenURL == "" {
			r.failedAt = time.Now()
			return nil, fmt.Errorf("%w: discovery of %q names no authorization or token endpoint", errProviderUnavailable, r.ID)
		}
	}
	if e.issuer != "" && e.jwksURL != "" {
		e.keys = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), r.client), e.jwksURL)
	}
	if len(e.algs) == 0 {
		e.algs = []string{oidc.RS256}
	}
	r.resolved = e
	return e, nil
}

// getJSON GETs a JSON object, with a bearer token if not empty.
func (r *remote) getJSON(ctx context.Context, u, bearer string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	return d.Decode(v)
}

// config returns the x/oauth2 configuration of the provider.
func (r *remote) config(ctx context.Context, e *endpoints, scopes []string) (*oauth2.Config, error) {
	secret := r.ClientSecret
	if r.ClientSecretFunc != nil {
		s, err := r.ClientSecretFunc(ctx)
		if err != nil {
			return nil, fmt.Errorf("oauth: client secret of %q: %w", r.ID, err)
		}
		secret = s
	}
	style := oauth2.AuthStyleInParams
	if r.AuthInHeader {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{ClientID: r.ClientID, ClientSecret: secret, RedirectURL: r.callbackURL, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.authURL, TokenURL: e.tokenURL, AuthStyle: style}}, nil
}

// scopes returns the provider's scopes with extra appended, without
// repeats, "openid" first for an OpenID provider.
func (r *remote) scopes(e *endpoints, extra []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if e.issuer != "" {
		add("openid")
	}
	for _, s := range r.Scopes {
		add(s)
	}
	for _, s := range extra {
		add(s)
	}
	return out
}

// usesNonce reports whether the flow binds the ID token with a nonce.
func (r *remote) usesNonce(e *endpoints) bool { return e.keys != nil && !r.DisableNonce }

// verifyIDToken verifies an ID token of the provider (signature, iss, aud
// among audiences, exp at now, unless now is nil) and, if nonce is not empty, its nonce. It
// returns the token's claims.
func (r *remote) verifyIDToken(ctx context.Context, e *endpoints, raw, nonce string, audiences []string, now func() time.Time) (map[string]any, error) {
	if e.keys == nil {
		return nil, errors.New("oauth: the provider issues no verifiable ID tokens")
	}
	v := oidc.NewVerifier(e.issuer, e.keys, &oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: e.algs,
		Now: now, SkipExpiryCheck: now == nil, SkipIssuerCheck: r.IssuerMatch != nil})
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if !audienceOK(tok.Audience, audiences) {
		return nil, fmt.Errorf("oauth: ID token audience %q is not this client's", tok.Audience)
	}
	if nonce != "" && !plugin.SecureEqual(tok.Nonce, nonce) {
		sum := sha256.Sum256([]byte(nonce))
		if !r.HashedNonce || !plugin.SecureEqual(tok.Nonce, hex.EncodeToString(sum[:])) {
			return nil, errors.New("oauth: ID token nonce does not match the flow's")
		}
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, err
	}
	if r.IssuerMatch != nil && !r.IssuerMatch(tok.Issuer, claims) {
		return nil, fmt.Errorf("oauth: ID token issuer %q refused", tok.Issuer)
	}
	return claims, nil
}

func audienceOK(aud, allowed []string) bool {
	for _, a := range aud {
		for _, b := range allowed {
			if a == b {
				return true
			}
		}
	}
	return false
}

// profile returns the user's claims and profile from the tokens: the
// verified ID token's claims (nonce checked if not empty), completed by
// the UserInfo endpoint when they carry no email; user is the "user"
// parameter of the callback (Apple's name on first sign-in), or nil.
func (r *remote) profile(ctx context.Context, e *endpoints, tok *oauth2.Token, nonce string, user map[string]any, now func() time.Time) (map[string]any, Profile, error) {
	var claims map[string]any
	if raw, _ := tok.Extra("id_token").(string); raw != "" && e.keys != nil {
		c, err := r.verifyIDToken(ctx, e, raw, nonce, []string{r.ClientID}, now)
		if err != nil {
			return nil, Profile{}, err
		}
		claims = c
	} else if e.keys != nil && nonce != "" {
		// An OpenID flow whose token answer has no ID token: the nonce
		// cannot be checked, so nothing from UserInfo is bound to it.
		return nil, Profile{}, errors.New("oauth: the token answer has no ID token")
	}
	if claims == nil || Claim(claims, "email") == "" {
		info, err := r.userInfo(ctx, e, tok)
		if err != nil && claims == nil {
			return nil, Profile{}, err
		}
		if err == nil {
			if claims != nil && Claim(info, "sub") != "" && Claim(info, "sub") != Claim(claims, "sub") {
				return nil, Profile{}, errors.New("oauth: UserInfo's sub differs from the ID token's")
			}
			if claims == nil {
				claims = info
			} else {
				for k, v := range info {
					if _, ok := claims[k]; !ok {
						claims[k] = v
					}
				}
			}
		}
	}
	if user != nil {
		claims["user"] = user
	}
	p, err := r.mapProfile(claims)
	if err != nil {
		return nil, Profile{}, err
	}
	return claims, p, nil
}

// mapProfile maps claims to the profile (Provider.Profile, else
// StandardProfile), with the email normalised; a profile without an id
// is an error.
func (r *remote) mapProfile(claims map[string]any) (Profile, error) {
	mapProfile := r.Profile
	if mapProfile == nil {
		mapProfile = StandardProfile
	}
	p, err := mapProfile(claims)
	if err != nil {
		return Profile{}, err
	}
	if p.ID == "" {
		return Profile{}, errors.New("oauth: the profile has no id")
	}
	if !storable(p.ID) || len(p.ID) > 255 {
		return Profile{}, errors.New("oauth: the profile's id cannot be stored")
	}
	p.Email = strings.ToLower(strings.TrimSpace(p.Email))
	if p.Email != "" && !plugin.ValidEmail(p.Email) {
		p.Email = "" // as if the provider gave none
	}
	return p, nil
}

// storable reports whether every database stores s as it is: valid UTF-8
// without NUL (PostgreSQL refuses both).
func storable(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// context returns ctx carrying the plugin's HTTP client for x/oauth2.
func (r *remote) context(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, r.client)
}

// userInfo returns the provider's UserInfo answer for the access token.
func (r *remote) userInfo(ctx context.Context, e *endpoints, tok *oauth2.Token) (map[string]any, error) {
	if r.UserInfo != nil {
		return r.UserInfo(ctx, r.client, e.userInfoURL, tok)
	}
	if e.userInfoURL == "" {
		return nil, errors.New("oauth: the provider has no UserInfo endpoint")
	}
	var m map[string]any
	if err := r.getJSON(ctx, e.userInfoURL, tok.AccessToken, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// OIDC returns a generic OpenID Connect provider with the id, configured
// by its discovery document (Better Auth's genericOAuth with a
// discoveryUrl). Its scopes are "openid email profile"; set Scopes to
// change them.
func OIDC(id, discoveryURL, clientID, clientSecret string) Provider {
	return Provider{ID: id, DiscoveryURL: discoveryURL, ClientID: clientID, ClientSecret: clientSecret,
		Scopes: []string{"openid", "email", "profile"}}
}
