package server

import (
	"context"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/storage"
)

// With versioned secrets only (no AUTH_SECRET), the server signs in, mints
// access tokens, and seals its JWT key under the current version.
func TestServerWithVersionedSecrets(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) {
		c.Secret = ""
		c.Secrets = []keyring.Version{{Version: 7, Value: "server-rotation-secret-seven-0123456789"}, {Version: 6, Value: "old"}}
	})
	env.register(t, "ada@example.com")
	tok, _ := env.login(t, "ada@example.com")
	if r := env.call(t, "POST", "/api/v1/auth/validate", `{"token":"`+tok+`"}`); r.status != 200 || r.body["valid"] != true {
		t.Fatalf("validate: %d %s", r.status, r.raw)
	}
	rows, err := env.s.auth.Host().DB().FindMany(context.Background(), jwt.TableJWKS, storage.Query{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("jwks rows: %d, %v", len(rows), err)
	}
	if pk := rows[0].String("privateKey"); !strings.HasPrefix(pk, `"$ba$7$`) {
		t.Errorf("JWT private key stored as %.12s…, want sealed under version 7", pk)
	}
	if got := env.s.auth.Host().Secret(); got != "server-rotation-secret-seven-0123456789" {
		t.Errorf("signing secret = %q, want version 7's", got)
	}
}
