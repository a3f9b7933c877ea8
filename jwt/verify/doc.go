// Package verify checks the access tokens (JWTs) of a mana-auth server —
// or of Better Auth's JWT plugin — in any Go service, without a database
// and without the SDK: it imports the standard library and go-jose only
// (a test keeps it so), so a resource server that imports it does not pull
// in package auth, storage or their dependencies.
//
//	v, err := verify.New("https://auth.example.com/api/auth/jwks",
//		verify.WithIssuer("https://auth.example.com"),
//		verify.WithAudience("https://auth.example.com"))
//	…
//	mux.Handle("/api/", verify.Middleware(v, verify.MiddlewareOptions{})(api))
//
//	func api(w http.ResponseWriter, r *http.Request) {
//		c := verify.ClaimsFrom(r.Context()) // c.Subject, c.Email, c.Role, c.SessionID, c.Raw
//	}
//
// Or directly: claims, err := v.Verify(ctx, token). The verifier accepts
// only alg EdDSA (or Ed25519), requires a kid and exp, checks nbf with a
// leeway, and iss / aud when configured. New fetches and caches the JWKS,
// refetching on an unknown kid at most once per MinRefreshInterval;
// fetches have a timeout and a size limit. NewStatic verifies against
// fixed keys (ParseJWKS reads a JWKS document), NewKeyFunc against keys
// from a function of yours.
//
// Every error Verify returns is an *Error with a stable Code, matching one
// of the Err* values with errors.Is (ErrTokenExpired, ErrInvalidSignature,
// ErrUnknownKey, …); only ErrKeySetUnavailable is not the token's fault.
// Middleware answers them with 401 (RFC 6750's WWW-Authenticate), 403 for
// a missing role, and 503 when the keys cannot be fetched.
//
// The tokens are minted by package jwt, the SDK's JWT plugin, whose
// Plugin.Verify checks them with this package against its own key table.
package verify
