package compat_test

import (
	"testing"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/auth"
)

// TestAPIKeyClient runs apikey-client.mjs — Better Auth's client with
// apiKeyClient() from @better-auth/api-key 1.7.21 — against our server
// with the API-key plugin (EnableMetadata and EnableSessionForAPIKeys), on
// SQLite and PostgreSQL, then against Better Auth: apiKey.create (the key
// shown once), list (no key, paging), get, update, delete, another user's
// keys answered 404, the refusals (a userId from a client, server-only
// properties, bounds), and the key as a session: getSession with
// x-api-key, a route acting as the key's user with each use counted, bad,
// disabled and deleted keys refused even beside a valid session cookie.
func TestAPIKeyClient(t *testing.T) {
	pluginClientTest{
		script:    "apikey-client.mjs",
		reference: "api-key",
		packages:  []string{"@better-auth/api-key"},
		start: func(t *testing.T, db string) string {
			p, err := apikey.New(apikey.Options{EnableMetadata: true, EnableSessionForAPIKeys: true})
			if err != nil {
				t.Fatal(err)
			}
			base, _ := startPluginServer(t, db, auth.Config{}, nil, p)
			return base
		},
	}.run(t)
}
