package server

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/managarten/mana-auth/vault"
)

// An access token outlives the account it was minted for (it is valid
// for 15 minutes and the server keeps no list of revoked ones). Replayed
// after the account is erased, it must be refused on every /api/v1 route
// that acts for its subject: 401 on the vault routes (which would
// otherwise write an audit or vault row for a user that no longer exists
// and fail on the foreign key), 404 USER_NOT_FOUND on /me/data as before,
// 403 on the admin routes; never a 500. One user had a vault before the
// erase, one never had.
func TestDeletedUsersTokenIsRefused(t *testing.T) {
	t.Parallel()
	const p = vaultPrefix
	wrap := base64.StdEncoding.EncodeToString(make([]byte, vault.WrappedKeySize))
	iv := base64.StdEncoding.EncodeToString(make([]byte, vault.IVSize))
	mk := base64.StdEncoding.EncodeToString(make([]byte, vault.MasterKeySize))
	routes := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", p + "/status", "", 401, "USER_NOT_FOUND"},
		{"POST", p + "/init", "", 401, "USER_NOT_FOUND"},
		{"GET", p + "/key", "", 401, "USER_NOT_FOUND"},
		{"POST", p + "/rotate", "", 401, "USER_NOT_FOUND"},
		{"POST", p + "/recovery-wrap", `{"recoveryWrappedMk":"` + wrap + `","recoveryIv":"` + iv + `"}`, 401, "USER_NOT_FOUND"},
		{"POST", p + "/recovery-wrap", `{"recoveryWrappedMk":"short"}`, 401, "USER_NOT_FOUND"}, // refused before the service: only an audit row
		{"DELETE", p + "/recovery-wrap", "", 401, "USER_NOT_FOUND"},
		{"POST", p + "/zero-knowledge", `{"enable":true}`, 401, "USER_NOT_FOUND"},
		{"POST", p + "/zero-knowledge", `{"enable":false,"masterKey":"` + mk + `"}`, 401, "USER_NOT_FOUND"},
		{"POST", p + "/zero-knowledge", `{}`, 401, "USER_NOT_FOUND"},
		{"GET", "/api/v1/me/data", "", 404, "USER_NOT_FOUND"},
		{"GET", "/api/v1/me/data/export", "", 404, "USER_NOT_FOUND"},
		{"DELETE", "/api/v1/me/data", "", 404, "USER_NOT_FOUND"},
		{"GET", "/api/v1/admin/users", "", 403, "FORBIDDEN"},
	}
	// testStores: memory, SQLite and PostgreSQL (each enforces the
	// vault tables' foreign keys to the user table).
	onEachStore(t, nil, func(t *testing.T, env *e2e) {
		withVault, without := env.seed(t, "had-vault@example.com"), env.seed(t, "no-vault@example.com")
		want(t, "vault init before the erase", env.post(t, p+"/init", "", bearer(withVault.jwt)...), 200, "")
		for _, u := range []*seeded{withVault, without} {
			want(t, "erase "+u.email, env.do(t, req{method: "DELETE", path: "/api/v1/me/data", hdr: bearer(u.jwt)}), 200, "")
		}
		if n := env.count(t, vault.TableVaults); n != 0 {
			t.Fatalf("%d vault rows after the erase", n)
		}
		for _, u := range []*seeded{withVault, without} {
			for _, rt := range routes {
				r := env.do(t, req{method: rt.method, path: rt.path, body: rt.body, hdr: bearer(u.jwt)})
				if r.status != rt.status || errCode(r) != rt.code {
					t.Errorf("%s: %s %s %s: %d %s, want %d %s", u.email, rt.method, rt.path, rt.body, r.status, short(r.raw), rt.status, rt.code)
				}
			}
		}
		if n := env.count(t, vault.TableVaults) + env.count(t, vault.TableAudit); n != 0 {
			t.Errorf("%d vault or audit rows written for deleted users", n)
		}
		// The same routes for a user who still exists are not refused.
		alive := env.seed(t, "alive@example.com")
		if r := env.get(t, p+"/status", bearer(alive.jwt)...); r.status != http.StatusOK {
			t.Errorf("status of a live user: %d %s", r.status, r.raw)
		}
	})
}
