package compat_test

import (
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/username"
)

// TestUsernameClient runs username-client.mjs — Better Auth's client with
// usernameClient() — against our server with the username plugin
// (default options), on SQLite and PostgreSQL, then against Better Auth:
// signUp.email with username and displayUsername, signIn.username,
// isUsernameAvailable, updateUser {username}, and the error codes
// (USERNAME_IS_ALREADY_TAKEN, INVALID_USERNAME_OR_PASSWORD for a wrong
// password and an unknown username alike, 422 USERNAME_TOO_SHORT, …).
func TestUsernameClient(t *testing.T) {
	pluginClientTest{
		script:    "username-client.mjs",
		reference: "username",
		start: func(t *testing.T, db string) string {
			u, err := username.New(username.Options{})
			if err != nil {
				t.Fatal(err)
			}
			base, _ := startPluginServer(t, db, auth.Config{}, nil, u)
			return base
		},
	}.run(t)
}
