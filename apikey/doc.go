// Package apikey is Better Auth's API-key plugin (@better-auth/api-key
// 1.7): keys a signed-in user creates for programs that call the app on
// their behalf, answering as Better Auth does, so that its apiKeyClient
// works unchanged:
//
//	POST /api-key/create  {name?, expiresIn?, prefix?, metadata?}  → the key, shown once
//	GET  /api-key/list                                              → {apiKeys, total}
//	GET  /api-key/get?id=…                                          → one key
//	POST /api-key/update  {keyId, name?, enabled?, expiresIn?, metadata?}
//	POST /api-key/delete  {keyId}                                   → {success: true}
//
// Verifying a key and deleting expired keys are server-side only, as in
// Better Auth (their HTTP routes answer 404): Plugin.Verify and
// Plugin.DeleteExpired. Plugin.CreateKey creates a key with the
// properties only the server may set (remaining uses and their refill,
// the key's rate limit, permissions).
//
// Usage:
//
//	p, err := apikey.New(apikey.Options{DefaultPrefix: "myapp_", EnableSessionForAPIKeys: true})
//	if err != nil { … }
//	a, err := auth.New(auth.Config{…}, db, p)
//	…
//	res, err := p.Verify(ctx, r.Header.Get("x-api-key"), map[string][]string{"files": {"read"}})
//	if err != nil { … } // the database failed
//	if !res.Valid { … } // res.Error says why (KEY_EXPIRED, USAGE_EXCEEDED, RATE_LIMITED, …)
//
// With Options.EnableSessionForAPIKeys, a request carrying the key in the
// x-api-key header acts as the key's user on every route (the plugin is a
// plugin.SessionSource): get-session answers a session whose id is the
// key's and whose token is the key. A bad key refuses the request, on
// every route and even with a valid session cookie.
//
// # Security
//
// A key is the prefix and 64 random letters (about 365 bits). Only
// base64url(SHA-256(key)) is stored, in the indexed column "key": a
// fast hash, since the key is high-entropy, and the row found by it is
// compared again in constant time. The key is shown once, by create;
// no other answer (but get-session's to the key's own bearer, whose
// session token it is, as in Better Auth), log line or export holds it
// or its hash, and a route that re-issues the request's session cookies
// sets none for a key's session.
//
// Every accepted use is counted atomically, by a conditional update
// (compare-and-swap on the counters, retried on a lost race): a key with
// one use left lets exactly one of any number of concurrent requests
// through, and a key's rate limit (Better Auth's evaluateRateLimit: 10
// requests a day by default) cannot be overrun by a burst.
//
// Keys belong to the user who created them: another user's key id
// answers 404 KEY_NOT_FOUND, as an unknown one does; a client may not
// name a user (401) nor set the server-only properties (400
// SERVER_ONLY_PROPERTY). A user's keys are dropped when someone takes an
// unverified account over through its mailbox (Hooks.ResetCredentials),
// exported (without hashes) and deleted with the user (DataSource).
package apikey
