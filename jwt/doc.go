// Package jwt is Better Auth's JWT plugin for an auth.Auth, and the
// verifier other Go services use to check its tokens without a database.
//
// # Issuing tokens (the auth server)
//
// Register the plugin with auth.New:
//
//	p := jwt.New(jwt.Options{})
//	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: secret}, db, p)
//
// It adds, under BasePath (wire-compatible with Better Auth 1.7):
//
//   - GET /token (session required) → {"token":"<jwt>"};
//   - GET /jwks → {"keys":[{"alg":"EdDSA","crv":"Ed25519","x":…,"kty":"OKP","kid":…}]};
//   - a "set-auth-jwt: <jwt>" header on GET /get-session when a session was
//     resolved (and "set-auth-jwt" in Access-Control-Expose-Headers).
//
// Tokens are EdDSA (Ed25519) compact JWS with a kid header. By default the
// claims are sub (user id), email, role (the user's "role" field, else
// "user"), sid (session id), iat, exp (iat + 15 minutes), and iss and aud,
// both the BaseURL's origin. Options.Payload changes the claims;
// BetterAuthPayload gives Better Auth's default (the whole user object).
// Plugin.Mint mints the same token from Go.
//
// Keys live in the "jwks" table with Better Auth's columns; private keys are
// encrypted with the auth secret exactly as Better Auth does (see Seal), so
// a Better Auth deployment and this package can share the table. The first
// key is created on first use; Plugin.RotateKeys (or
// Options.KeyRotationInterval) replaces the signing key, and retired keys
// stay in the JWKS for Options.GracePeriod. The parsed signing key is cached
// in memory for Options.KeyCacheTTL, which bounds how long another instance
// keeps signing with a rotated-out (but still published) key.
//
// # Verifying tokens (any Go service)
//
//	v, err := jwt.NewVerifier("https://auth.example.com/api/auth/jwks",
//		jwt.WithIssuer("https://auth.example.com"),
//		jwt.WithAudience("https://auth.example.com"))
//	…
//	mux.Handle("/api/", jwt.Middleware(v, jwt.MiddlewareOptions{})(api))
//
//	func api(w http.ResponseWriter, r *http.Request) {
//		c := jwt.ClaimsFrom(r.Context()) // c.Subject, c.Email, c.Role, c.SessionID, c.Raw
//	}
//
// Or directly: claims, err := v.Verify(ctx, token). The verifier accepts
// only alg EdDSA (or Ed25519), requires a kid and exp, checks nbf with a
// leeway, and iss / aud when configured. It fetches and caches the JWKS,
// refetching on an unknown kid at most once per MinRefreshInterval; fetches
// have a timeout and a size limit. Errors are *Error values with stable
// codes (ErrTokenExpired, ErrInvalidSignature, ErrUnknownKey, …).
// NewStaticVerifier verifies against fixed keys.
package jwt
