// Package multisession is Better Auth's multi-session plugin: one browser
// keeps several users signed in at once and switches between them,
// answering on the wire as Better Auth 1.7's multiSession plugin does, so
// that its client plugin (multiSessionClient: listDeviceSessions,
// setActive, revoke) works unchanged.
//
// Usage:
//
//	ms, err := multisession.New(multisession.Options{MaximumSessions: 5})
//	if err != nil { … }
//	a, err := auth.New(auth.Config{…}, db, ms)
//
// Mount it after the plugins whose after-hooks sign users in, so that its
// hook sees their session cookies.
//
// # Cookies
//
// Whenever an answer sets a new session cookie (a sign-in or sign-up of
// any kind, an OAuth callback, the auto sign-in of email verification, a
// second factor verified, …), the plugin also sets
// <prefix>.session_token_multi-<token lower-cased> with the same signed
// value and the session cookie's attributes. Before that, the request's
// multi-session cookies whose sessions belong to the same user are
// expired and those sessions deleted (one device session per user per
// browser), and those whose sessions are gone are expired. No new
// multi-session cookie is set if the browser would then hold more than
// Options.MaximumSessions; the sign-in itself still succeeds. The plugin
// adds no table.
//
// # Routes
//
//	GET  /multi-session/list-device-sessions                 → [{session, user}]
//	POST /multi-session/set-active {sessionToken}            → {session, user}
//	POST /multi-session/revoke     {sessionToken} (session)  → {status: true}
//
// and POST /sign-out also expires every multi-session cookie of the
// request and deletes those sessions.
//
// # Security
//
// A multi-session cookie is signed as the session cookie is, and it is
// the cookie's signed value, never the token named in a request, that
// set-active and revoke act on: a browser can switch to, or revoke, only
// the sessions it holds signed cookies for (401 INVALID_SESSION_TOKEN
// otherwise), and a signed cookie placed under another session's name
// acts on its own session only. Unsigned or tampered cookies are
// ignored everywhere, sign-out included. At most 128 multi-session
// cookies of a request are read.
package multisession
