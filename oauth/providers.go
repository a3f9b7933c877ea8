package oauth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// This file holds the built-in providers, each matching its Better Auth
// 1.7 social provider (packages/core/src/social-providers): the same
// provider ID, endpoints and default scopes, and a profile mapping that
// gives the same account id, email, verification, name and image. Each
// one's callback URL, to register at the provider, is
// BASE/api/auth/callback/<ID> (BASE being the server's base URL, with its
// base path).

// Google returns the Google provider ("google"), OpenID Connect: its ID
// token is verified against Google's keys and is the profile (sub, email,
// email_verified, name, picture).
//
// Create an OAuth client ID of type "Web application" in the Google Cloud
// console (APIs & Services, Credentials) and add the authorized redirect
// URI BASE/api/auth/callback/google. As Better Auth does, the
// authorization asks for include_granted_scopes=true, so that a token
// covers the scopes granted before. For ID-token sign-in from an Android
// or iOS app, add the app's client ID to Audiences.
func Google(clientID, clientSecret string) Provider {
	return Provider{
		ID: "google", ClientID: clientID, ClientSecret: clientSecret,
		Issuer: "https://accounts.google.com",
		// Google's ID tokens carry either form of its issuer.
		IssuerMatch: func(iss string, _ map[string]any) bool {
			return iss == "https://accounts.google.com" || iss == "accounts.google.com"
		},
		AuthURL:     "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:    "https://oauth2.googleapis.com/token",
		UserInfoURL: "https://openidconnect.googleapis.com/v1/userinfo",
		JWKSURL:     "https://www.googleapis.com/oauth2/v3/certs",
		SigningAlgs: []string{"RS256"},
		Scopes:      []string{"openid", "email", "profile"},
		AuthParams:  map[string]string{"include_granted_scopes": "true"},
		Profile:     StandardProfile,
	}
}

// githubUserURL is GitHub's "get the authenticated user" endpoint; its
// emails are at githubUserURL + "/emails".
const githubUserURL = "https://api.github.com/user"

// GitHub returns the GitHub provider ("github"), plain OAuth 2.0 with
// the scopes read:user and user:email. The profile is GitHub's user
// (https://api.github.com/user): its numeric id, in decimal, is the
// account id, its name (else its login) the name, its avatar_url the
// image. The email is the user's public one, else their primary one, and
// is verified when GitHub's list of the user's emails
// (https://api.github.com/user/emails) says so.
//
// Create an OAuth App (Settings, Developer settings, OAuth Apps) with the
// authorization callback URL BASE/api/auth/callback/github. A GitHub App
// works too if it may read the user's email addresses (its "Email
// addresses" account permission).
func GitHub(clientID, clientSecret string) Provider {
	return Provider{
		ID: "github", ClientID: clientID, ClientSecret: clientSecret,
		AuthURL:     "https://github.com/login/oauth/authorize",
		TokenURL:    "https://github.com/login/oauth/access_token",
		UserInfoURL: githubUserURL,
		Scopes:      []string{"read:user", "user:email"},
		UserInfo:    githubUserInfo,
		Profile:     githubProfile,
	}
}

// githubEmail is an entry of GitHub's /user/emails.
type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// githubUserInfo is the UserInfo of GitHub's API whose user endpoint is
// userURL (GitHub Enterprise Server's is https://HOST/api/v3/user): the
// user, with "email" (their public address, else their primary one) and
// "email_verified" (whether /emails lists that address as verified) set
// from userURL + "/emails". The emails are optional, as in Better Auth:
// if they cannot be read the email is the public one, unverified.
func githubUserInfo(ctx context.Context, client *http.Client, userURL string, tok *oauth2.Token) (map[string]any, error) {
	var user map[string]any
	if err := githubGet(ctx, client, userURL, tok.AccessToken, &user); err != nil {
		return nil, err
	}
	if user == nil {
		return nil, errors.New("oauth: GitHub's user answer is not an object")
	}
	var emails []githubEmail
	if err := githubGet(ctx, client, userURL+"/emails", tok.AccessToken, &emails); err != nil {
		emails = nil
	}
	email := Claim(user, "email")
	if email == "" && len(emails) > 0 {
		email = emails[0].Email
		for _, e := range emails {
			if e.Primary {
				email = e.Email
				break
			}
		}
	}
	verified := false
	for _, e := range emails {
		if email != "" && strings.EqualFold(e.Email, email) {
			verified = e.Verified
			break
		}
	}
	// Both are set whatever /user said: only /emails vouches for an
	// address.
	user["email"] = email
	user["email_verified"] = verified
	return user, nil
}

// githubGet GETs a JSON value of GitHub's REST API.
func githubGet(ctx context.Context, client *http.Client, u, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "mana-auth")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
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

// githubProfile maps GitHub's user (with the email githubUserInfo set).
func githubProfile(c map[string]any) (Profile, error) {
	p := Profile{ID: Claim(c, "id"), Email: Claim(c, "email"), EmailVerified: ClaimBool(c, "email_verified"),
		Name: Claim(c, "name"), Image: Claim(c, "avatar_url")}
	if p.Name == "" {
		p.Name = Claim(c, "login")
	}
	if p.ID == "" {
		return p, errors.New("oauth: GitHub's user has no id")
	}
	return p, nil
}

// AppleConfig configures Sign in with Apple.
type AppleConfig struct {
	// ClientID is the Services ID (for the web) the sign-in is for, as
	// "com.example.web".
	ClientID string
	// TeamID is the Apple Developer team's ID (10 characters), the
	// client secret's issuer.
	TeamID string
	// KeyID is the ID of the Sign in with Apple private key.
	KeyID string
	// PrivateKey is the contents of the key's .p8 file: a PEM "PRIVATE
	// KEY" (PKCS #8) of an EC P-256 key. Line breaks written as "\n" (as
	// in many environment files) are accepted.
	PrivateKey string
	// Audiences are the bundle IDs of the apps (iOS, macOS) whose ID
	// tokens ID-token sign-in accepts, besides ClientID's.
	Audiences []string
}

const (
	appleIssuer = "https://appleid.apple.com"
	// appleSecretLifetime is how long a client secret is valid (Apple
	// accepts up to 6 months: a short one is of little use if it leaks);
	// appleSecretRenew is how long before its expiry it is replaced.
	appleSecretLifetime = 10 * time.Minute
	appleSecretRenew    = 5 * time.Minute
)

// Apple returns the Sign in with Apple provider ("apple"), OpenID
// Connect: its ID token is verified against Apple's keys and is the
// profile (sub, email, email_verified). Apple sends the user's name only
// on their first sign-in, in the callback's user parameter (or the
// client's idToken.user): it is then the name. Apple gives no picture.
//
// Apple's client secret is a JWT signed with the Sign in with Apple key:
// the provider signs one (ES256, valid 10 minutes) when it needs one and
// reuses it until shortly before it expires. Apple returns to the
// callback with a form POST (response_mode=form_post, which the scopes
// "name email" require); that callback skips the origin check, so, unlike
// Better Auth, https://appleid.apple.com needs adding to no list of
// trusted origins.
//
// In the Apple Developer account (Certificates, Identifiers & Profiles):
// enable Sign in with Apple on the App ID, create a Services ID (the
// ClientID) configured with the domain of the server and the return URL
// BASE/api/auth/callback/apple (Apple wants https, not localhost), and
// create a key with Sign in with Apple enabled (its ID is KeyID, its .p8
// file PrivateKey). Apple() returns an error if the configuration is
// incomplete or the key is not a P-256 .p8 key.
func Apple(cfg AppleConfig) (Provider, error) {
	for _, f := range []struct{ name, v string }{{"ClientID", cfg.ClientID}, {"TeamID", cfg.TeamID}, {"KeyID", cfg.KeyID}} {
		if strings.TrimSpace(f.v) == "" {
			return Provider{}, fmt.Errorf("oauth: Apple: %s is required", f.name)
		}
	}
	key, err := parseAppleKey(cfg.PrivateKey)
	if err != nil {
		return Provider{}, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: cfg.KeyID}}, nil)
	if err != nil {
		return Provider{}, fmt.Errorf("oauth: Apple: %w", err)
	}
	s := &appleSecret{signer: signer, teamID: cfg.TeamID, clientID: cfg.ClientID, now: time.Now}
	if _, err := s.sign(s.now()); err != nil {
		return Provider{}, err
	}
	return Provider{
		ID: "apple", ClientID: cfg.ClientID, ClientSecretFunc: s.get,
		Issuer:      appleIssuer,
		AuthURL:     "https://appleid.apple.com/auth/authorize",
		TokenURL:    "https://appleid.apple.com/auth/token",
		JWKSURL:     "https://appleid.apple.com/auth/keys",
		SigningAlgs: []string{"RS256"},
		Scopes:      []string{"name", "email"},
		AuthParams:  map[string]string{"response_mode": "form_post"},
		Audiences:   append([]string(nil), cfg.Audiences...),
		HashedNonce: true,
		Profile:     appleProfile,
	}, nil
}

// parseAppleKey parses a .p8 key: PEM, PKCS #8, EC P-256.
func parseAppleKey(text string) (*ecdsa.PrivateKey, error) {
	text = strings.TrimSpace(text)
	if !strings.Contains(text, "\n") && strings.Contains(text, `\n`) {
		text = strings.ReplaceAll(text, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("oauth: Apple: PrivateKey is not PEM: give the contents of the .p8 file, -----BEGIN PRIVATE KEY----- included")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("oauth: Apple: PrivateKey is a PEM %q, not the \"PRIVATE KEY\" (PKCS #8) of a .p8 file", block.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("oauth: Apple: PrivateKey is not a PKCS #8 key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("oauth: Apple: PrivateKey is not an EC P-256 key (Sign in with Apple's keys are)")
	}
	return ec, nil
}

// appleSecret makes Apple's client secrets, reusing one until shortly
// before it expires.
type appleSecret struct {
	signer           jose.Signer
	teamID, clientID string
	now              func() time.Time

	mu     sync.Mutex
	secret string
	expiry time.Time
}

// get returns a client secret valid for at least appleSecretRenew.
func (s *appleSecret) get(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.secret != "" && now.Add(appleSecretRenew).Before(s.expiry) {
		return s.secret, nil
	}
	secret, err := s.sign(now)
	if err != nil {
		return "", err
	}
	s.secret, s.expiry = secret, now.Add(appleSecretLifetime)
	return secret, nil
}

// sign returns a client secret issued at now: the team's JWT (kid in its
// header) for the Services ID, to Apple.
func (s *appleSecret) sign(now time.Time) (string, error) {
	claims := jwt.Claims{Issuer: s.teamID, Subject: s.clientID, Audience: jwt.Audience{appleIssuer},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(appleSecretLifetime))}
	secret, err := jwt.Signed(s.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("oauth: Apple: signing the client secret: %w", err)
	}
	return secret, nil
}

// appleProfile maps Apple's ID token and, on the first sign-in, the
// "user" Apple sent with the callback: its name, never its email (the
// parameter is not signed; the ID token's email is).
func appleProfile(c map[string]any) (Profile, error) {
	p := Profile{ID: Claim(c, "sub"), Email: Claim(c, "email"), EmailVerified: ClaimBool(c, "email_verified")}
	if user, ok := c["user"].(map[string]any); ok {
		if name, ok := user["name"].(map[string]any); ok {
			p.Name = strings.TrimSpace(Claim(name, "firstName") + " " + Claim(name, "lastName"))
		}
	}
	if p.Name == "" {
		p.Name = Claim(c, "name")
	}
	if p.ID == "" {
		return p, errors.New("oauth: Apple's ID token has no subject (sub)")
	}
	return p, nil
}

// MicrosoftConfig configures sign-in with Microsoft Entra ID.
type MicrosoftConfig struct {
	// ClientID and ClientSecret are the app registration's application
	// (client) ID and a client secret's value.
	ClientID, ClientSecret string
	// TenantID is who may sign in: "common" (the default: work, school
	// and personal Microsoft accounts), "organizations" (work and school
	// accounts), "consumers" (personal accounts), or one directory's
	// tenant ID (a GUID: its users only).
	TenantID string
}

// microsoftConsumerTenant is the tenant ID of every personal Microsoft
// account (their tokens' tid).
const microsoftConsumerTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// Microsoft returns the Microsoft Entra ID provider ("microsoft"),
// OpenID Connect: its ID token is verified against the tenant's keys and
// is the profile. As in Better Auth 1.7, the account id is the user's
// object id (oid), stable across app registrations (sub is not); the
// email is the email claim, else preferred_username when it is an
// address, and is verified only when the email claim is and the token
// says so (the optional email_verified claim, else the address among
// verified_primary_email or verified_secondary_email). Microsoft's
// profile photo (Better Auth's data: URL, from Microsoft Graph) is not
// read.
//
// For the multi-tenant values of TenantID ("common", "organizations",
// "consumers") the ID token's issuer must be its own tenant's,
// https://login.microsoftonline.com/<tid>/v2.0, and, for "organizations"
// and "consumers", the tenant must be of the account class allowed;
// otherwise it must be the tenant's issuer.
//
// Register an app in the Microsoft Entra admin center (App
// registrations) with the supported account types matching TenantID, a
// Web redirect URI BASE/api/auth/callback/microsoft and a client secret
// (Certificates & secrets).
func Microsoft(cfg MicrosoftConfig) Provider {
	tenant := strings.TrimSpace(cfg.TenantID)
	if tenant == "" {
		tenant = "common"
	}
	multi := false
	switch t := strings.ToLower(tenant); t {
	case "common", "organizations", "consumers":
		tenant, multi = t, true
	}
	base := "https://login.microsoftonline.com/" + url.PathEscape(tenant)
	p := Provider{
		ID: "microsoft", ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Issuer:      base + "/v2.0",
		AuthURL:     base + "/oauth2/v2.0/authorize",
		TokenURL:    base + "/oauth2/v2.0/token",
		JWKSURL:     base + "/discovery/v2.0/keys",
		SigningAlgs: []string{"RS256"},
		Scopes:      []string{"openid", "profile", "email", "offline_access"},
		Profile:     microsoftProfile,
	}
	if multi {
		p.IssuerMatch = microsoftIssuerMatch(tenant)
	}
	return p
}

// microsoftIssuerMatch accepts, for a multi-tenant endpoint, the issuer
// of the token's own tenant (tid), of the account class the endpoint
// allows.
func microsoftIssuerMatch(tenant string) func(iss string, claims map[string]any) bool {
	return func(iss string, claims map[string]any) bool {
		tid, _ := claims["tid"].(string)
		if tid == "" || strings.ContainsAny(tid, "/?#") || iss != "https://login.microsoftonline.com/"+tid+"/v2.0" {
			return false
		}
		switch tenant {
		case "organizations":
			return tid != microsoftConsumerTenant
		case "consumers":
			return tid == microsoftConsumerTenant
		}
		return true
	}
}

// microsoftProfile maps Microsoft's ID token.
func microsoftProfile(c map[string]any) (Profile, error) {
	p := Profile{ID: strings.TrimSpace(Claim(c, "oid")), Name: Claim(c, "name"), Image: Claim(c, "picture")}
	if p.Name == "" {
		p.Name = strings.TrimSpace(Claim(c, "given_name") + " " + Claim(c, "family_name"))
	}
	if email := Claim(c, "email"); email != "" {
		p.Email = email
		if _, ok := c["email_verified"]; ok {
			p.EmailVerified = ClaimBool(c, "email_verified")
		} else {
			p.EmailVerified = claimListHas(c, "verified_primary_email", email) ||
				claimListHas(c, "verified_secondary_email", email)
		}
	} else if u := Claim(c, "preferred_username"); strings.Contains(u, "@") {
		// The sign-in name, often the address, which nothing says is
		// the user's: never verified.
		p.Email = u
	}
	if p.ID == "" {
		return p, errors.New("oauth: Microsoft's ID token has no object id (oid)")
	}
	return p, nil
}

// claimListHas reports whether the claim, a list of strings, holds v
// (ignoring case, as email addresses do).
func claimListHas(c map[string]any, name, v string) bool {
	switch l := c[name].(type) {
	case []any:
		for _, x := range l {
			if s, ok := x.(string); ok && strings.EqualFold(s, v) {
				return true
			}
		}
	case []string:
		for _, s := range l {
			if strings.EqualFold(s, v) {
				return true
			}
		}
	}
	return false
}

// Discord returns the Discord provider ("discord"), plain OAuth 2.0
// with the scopes identify and email; the profile is Discord's user
// (https://discord.com/api/users/@me): its id is the account id, its
// email is verified when its verified flag is, its global_name (else its
// username) is the name and its avatar, if any, the image. As Better
// Auth does, the authorization asks for prompt=none (no consent screen
// for a user who already authorized the app).
//
// Create an application in the Discord Developer Portal and add the
// redirect BASE/api/auth/callback/discord (OAuth2, Redirects).
func Discord(clientID, clientSecret string) Provider {
	return Provider{
		ID: "discord", ClientID: clientID, ClientSecret: clientSecret,
		AuthURL:     "https://discord.com/api/oauth2/authorize",
		TokenURL:    "https://discord.com/api/oauth2/token",
		UserInfoURL: "https://discord.com/api/users/@me",
		Scopes:      []string{"identify", "email"},
		AuthParams:  map[string]string{"prompt": "none"},
		Profile:     discordProfile,
	}
}

// discordProfile maps Discord's user.
func discordProfile(c map[string]any) (Profile, error) {
	p := Profile{ID: Claim(c, "id"), Email: Claim(c, "email"), EmailVerified: ClaimBool(c, "verified"),
		Name: Claim(c, "global_name")}
	if p.Name == "" {
		p.Name = Claim(c, "username")
	}
	if avatar := Claim(c, "avatar"); avatar != "" && p.ID != "" {
		ext := "png"
		if strings.HasPrefix(avatar, "a_") {
			ext = "gif"
		}
		p.Image = "https://cdn.discordapp.com/avatars/" + url.PathEscape(p.ID) + "/" + url.PathEscape(avatar) + "." + ext
	}
	if p.ID == "" {
		return p, errors.New("oauth: Discord's user has no id")
	}
	return p, nil
}

// GitLabConfig configures sign-in with GitLab.
type GitLabConfig struct {
	// ClientID and ClientSecret are the application's ID and secret.
	ClientID, ClientSecret string
	// BaseURL is the GitLab instance, as https://gitlab.example.com, for
	// a self-managed one. Default https://gitlab.com.
	BaseURL string
}

// GitLab returns the GitLab provider ("gitlab"), OpenID Connect: its ID
// token is verified against the instance's keys and is the profile
// (StandardProfile). Its sub, the user's numeric id, is the account id,
// as Better Auth's (which reads GitLab's /api/v4/user) is.
//
// Create an application (User settings, or an admin's Applications, or a
// group's) with the redirect URI BASE/api/auth/callback/gitlab and the
// scopes openid, email and profile.
func GitLab(cfg GitLabConfig) Provider {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if base == "" {
		base = "https://gitlab.com"
	}
	return Provider{
		ID: "gitlab", ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Issuer:      base,
		AuthURL:     base + "/oauth/authorize",
		TokenURL:    base + "/oauth/token",
		UserInfoURL: base + "/oauth/userinfo",
		JWKSURL:     base + "/oauth/discovery/keys",
		SigningAlgs: []string{"RS256"},
		Scopes:      []string{"openid", "email", "profile"},
		Profile:     StandardProfile,
	}
}
