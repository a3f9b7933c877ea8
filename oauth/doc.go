// Package oauth is sign-in with OAuth 2.0 and OpenID Connect providers,
// answering as Better Auth's social sign-in and genericOAuth plugin do:
// POST /sign-in/social, GET and POST /callback/:id, POST /link-social,
// POST /get-access-token, POST /refresh-token and GET /account-info, with
// Better Auth's bodies, redirects, cookies and error codes, so that Better
// Auth's client (signIn.social, linkSocial, getAccessToken, …) works
// unchanged. GET /list-accounts and POST /unlink-account, which list and
// remove the accounts a provider adds, are the core's, as in Better Auth
// (auth.(*Auth).ListAccounts and UnlinkAccount).
//
// Providers are plain values (Provider): the built-in ones are functions
// returning one (Google, GitHub, Apple, Microsoft, Discord, GitLab), any
// OpenID provider is OIDC with its discovery URL, and any other OAuth 2.0
// provider is a Provider with its endpoints and a Profile mapping.
//
// Usage:
//
//	p, err := oauth.New(oauth.Config{Providers: []oauth.Provider{
//		oauth.Google(os.Getenv("GOOGLE_CLIENT_ID"), os.Getenv("GOOGLE_CLIENT_SECRET")),
//		oauth.OIDC("my-idp", "https://idp.example.com/.well-known/openid-configuration", clientID, clientSecret),
//	}})
//	if err != nil { … }
//	a, err := auth.New(auth.Config{…}, db, p)
//
// A browser then starts a flow with POST /api/auth/sign-in/social
// {"provider":"google","callbackURL":"/dashboard"}; the provider returns
// it to /api/auth/callback/google, which signs the user in and redirects
// to the callbackURL. Register exactly that callback URL at the provider.
//
// # Security
//
// Every flow has a state of 32 random characters, stored in the
// verification table and signed in a cookie of the browser that began
// it: a callback is accepted once, in that browser, within
// Config.StateExpiresIn. PKCE (S256) binds the code to the flow, and an
// OpenID provider's ID token is verified (signature by the provider's
// JWKS, which go-oidc caches, iss, aud, exp) and bound to the flow by its
// nonce. Every request to a provider is bounded by Config.Timeout.
//
// A provider's account joins an existing user only by Better Auth's
// linking rules (AccountLinking): implicitly when the provider verified
// the address (or is trusted) and the user verified it too, or
// explicitly by link-social from a signed-in session. A sign-in goes
// through the host's session hooks: a user with a second factor is asked
// for it, and the server's bans and limits apply.
package oauth
