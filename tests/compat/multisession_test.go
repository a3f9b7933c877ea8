package compat_test

import (
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/multisession"
)

// TestMultiSessionClient runs multisession-client.mjs — Better Auth's
// client with multiSessionClient() — against our server with the
// multi-session plugin (default options), on SQLite and PostgreSQL, then
// against Better Auth: users signed in one after the other in one cookie
// jar (the multi-session cookies and their attributes),
// listDeviceSessions, setActive (and a session the browser does not
// hold), the same user signing in again, revoke of another and of the
// active device session, and signOut ending them all.
func TestMultiSessionClient(t *testing.T) {
	pluginClientTest{
		script:    "multisession-client.mjs",
		reference: "multi-session",
		start: func(t *testing.T, db string) string {
			ms, err := multisession.New(multisession.Options{})
			if err != nil {
				t.Fatal(err)
			}
			base, _ := startPluginServer(t, db, auth.Config{}, nil, ms)
			return base
		},
	}.run(t)
}
