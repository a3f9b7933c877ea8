// Package username is Better Auth's username plugin: users sign in with a
// username and password (POST /sign-in/username), an app asks whether a
// username is free (POST /is-username-available), and sign-up
// (POST /sign-up/email) and update-user (POST /update-user) take a
// username and a displayUsername, with Better Auth's rules, bodies and
// error codes, so that Better Auth's usernameClient works unchanged.
//
// Usage:
//
//	u, err := username.New(username.Options{
//		ReservedUsernames: []string{"admin", "support"},
//	})
//	if err != nil { … }
//	a, err := auth.New(auth.Config{…}, db, u)
//	// a.Migrate adds the user columns username (unique) and displayUsername.
//
// A client then signs up with
// {"email":"ada@example.com","password":"…","name":"Ada","username":"Ada_L"}
// (stored as "ada_l", displayed as "Ada_L") and signs in with
// POST /api/auth/sign-in/username {"username":"ADA_L","password":"…"}.
//
// # Rules
//
// A username is 3 to 30 characters of [a-zA-Z0-9_.] (Options), checked
// as given (or, with ValidationOrder, once normalised) and stored
// normalised: lower-cased by default, so that lookups ignore case. It is
// unique among the normalised forms; the database's unique index decides
// between two requests that claim one at once. displayUsername keeps the
// username as typed; it defaults to the username, and a valid
// displayUsername given alone becomes the username as well.
//
// # Security
//
// Sign-in by username is the core's sign-in by email once the username
// is found (plugin.Host.SignInWithPassword): the login CSRF guard, the
// PasswordCheck hooks (a lockout counts username and email sign-ins of an
// account together), email verification, bans and second factors are
// the core's. An unknown username answers exactly as a wrong password
// (401 INVALID_USERNAME_OR_PASSWORD) after the same work: one password
// verification against the core's dummy hash, under the PasswordCheck
// hooks of an address derived from the username with the server's
// secret, so that a lockout treats an unknown username as it treats a
// known one. A username never contains what hides text (control,
// format, invalid UTF-8), whatever the validator.
//
// POST /is-username-available tells anyone whether a username is taken,
// by design (Better Auth's); the rate limiter's global rule bounds it.
package username
