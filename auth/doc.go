// Package auth is the core of the SDK: email and password accounts,
// sessions in signed cookies, password hashing, the plugin API and the
// http.Handler that serves it all under /api/auth, answering exactly as a
// Better Auth 1.7 server does (same JSON, error codes, cookie names and
// signed-cookie format, same password hashes and tables), so Better Auth's
// official JS client works unchanged.
//
// Build an Auth over a storage adapter, with any plugins, and mount its
// handler:
//
//	a, err := auth.New(auth.Config{
//		BaseURL: "https://example.com",
//		Secret:  os.Getenv("AUTH_SECRET"),
//	}, sqliteAdapter, jwt.New(jwt.Options{}))
//	if err != nil { ... }
//	if err := a.Migrate(ctx); err != nil { ... }
//	mux.Handle("/api/auth/", a.Handler())
//	mux.Handle("/me", a.RequireSession(meHandler)) // auth.SessionFrom(r.Context())
//
// Every route is a thin layer over an exported method: a.SignUpEmail,
// a.SignInEmail, a.SignOut, a.GetSession, a.ListSessions, a.RevokeSession,
// a.UpdateUser, a.ChangePassword, a.DeleteUser, a.ExportUser. Calling one
// from Go yields the same session and the same cookies the route sets.
//
// # Plugins
//
// Plugins are written on package plugin, the plugin API: at Init each gets
// a plugin.Host (Better Auth's ctx.context), never the *Auth, and it adds
// routes, tables, hooks, rate-limit rules, error codes and per-user data
// through the optional interfaces of that package. The built-in plugins
// (jwt, twofactor, magiclink, org, passkey, vault) use nothing else. An app
// reaches the same host with a.Host() (Better Auth's auth.$context), for
// admin tools and migrations.
//
// # Security
//
// State-changing requests that carry cookies must come from a trusted
// origin; redirect targets must be safe relative paths or trusted origins;
// requests are rate-limited per client IP and path (the IP taken from
// X-Forwarded-For only behind Config.TrustedProxies); bodies are limited in
// size; password hashing runs under a concurrency bound and answers 503
// rather than queueing without limit; unknown emails cost the same work and
// get the same answer as wrong passwords; secrets are compared in constant
// time. Errors are *Error values (plugin.Error, the one error type of the
// core and every plugin) with an HTTP status, a stable code and a message
// safe to show; details stay in the log.
package auth
