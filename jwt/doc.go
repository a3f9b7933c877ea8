// Package jwt is Better Auth's JWT plugin for an auth.Auth: it issues the
// access tokens that other services check with package jwt/verify (which
// does not import the SDK).
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
// encrypted with the auth secret exactly as Better Auth does (see SealColumn), so
// a Better Auth deployment and this package can share the table. The first
// key is created on first use; Plugin.RotateKeys (or
// Options.KeyRotationInterval) replaces the signing key, and retired keys
// stay in the JWKS for Options.GracePeriod.
//
// Each instance answers from a snapshot of the table in memory: GET /jwks
// serves a document built once (with an ETag; If-None-Match gets a 304),
// and neither it, Mint nor Verify reads the database while the snapshot is
// fresh. Options.KeyCacheTTL bounds its age, so keys created or retired by
// other instances are seen within it; the instance's own changes at once.
// A new key is published before it signs: it signs from
// Options.KeyActivationDelay after its creation (by default KeyCacheTTL +
// JWKSMaxAge, when every instance and every cache honouring max-age lists
// it), the key it replaces until then.
//
// # Verifying tokens (any Go service)
//
// Services that receive the tokens import only
// github.com/managarten/mana-auth/jwt/verify:
//
//	v, err := verify.New("https://auth.example.com/api/auth/jwks",
//		verify.WithIssuer("https://auth.example.com"),
//		verify.WithAudience("https://auth.example.com"))
//	…
//	mux.Handle("/api/", verify.Middleware(v, verify.MiddlewareOptions{})(api))
//
// In the auth server itself, Plugin.Verify checks a token against the
// plugin's key table (no HTTP round trip); its errors are *verify.Error.
package jwt
