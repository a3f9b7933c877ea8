// Package admin is Better Auth's admin plugin: roles with an access
// control, user management, bans and impersonation, answering as Better
// Auth 1.7 does (paths, bodies, codes, cookies, tables), so that its
// adminClient works unchanged.
//
// Usage:
//
//	adm, err := admin.New(admin.Options{AdminUserIDs: []string{firstAdminID}})
//	if err != nil { … }
//	a, err := auth.New(auth.Config{…}, db, adm)
//	…
//	// A server-side check, as the routes make it:
//	if !adm.HasPermission(sd.User, admin.Statements{"user": {"ban"}}) { … }
//
// The plugin adds user.role, banned, banReason, banExpires and
// session.impersonatedBy. New users get Options.DefaultRole ("user"); a
// role in a sign-up or update-user body is ignored or refused. A user's
// role may list several roles ("user,admin"); a permission is granted if
// any of them grants it. The default roles are "admin" (every user and
// session action but impersonate-admins) and "user" (nothing); custom
// roles are built from an AccessControl (DefaultAccessControl, or one's
// own statements).
//
// Routes, under the base path: GET /admin/list-users, GET /admin/get-user,
// POST /admin/create-user, /admin/update-user, /admin/set-role,
// /admin/ban-user, /admin/unban-user, /admin/list-user-sessions,
// /admin/revoke-user-session, /admin/revoke-user-sessions,
// /admin/remove-user, /admin/set-user-password, /admin/impersonate-user,
// /admin/stop-impersonating and /admin/has-permission. Each is a thin
// layer over a Go method of Plugin whose first argument after the
// context is the acting user, whose permissions it checks (nil for a
// trusted server-side call).
//
// # Security
//
// Every route reads the session from the database, never from a cookie
// cache, so that a revoked session or a withdrawn role cannot act; a
// request without a session is answered 401 with an empty body. A banned
// user cannot sign in on any path that creates a session (403
// BANNED_USER); banning ends their sessions at once. Impersonation
// sessions last an hour, end with the browser session, are hidden from
// the user's /list-sessions, and cannot impersonate anyone; admins are
// not impersonated unless allowed. Removing or banning an admin ends the
// impersonation sessions they opened.
package admin
