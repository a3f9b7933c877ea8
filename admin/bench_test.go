package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// seedUsers stores n users directly, user00000@example.com onwards.
func seedUsers(b *testing.B, e *env, n int) {
	b.Helper()
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	err := e.db.Tx(ctx, func(tx storage.Adapter) error {
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Millisecond)
			if err := tx.Create(ctx, plugin.TableUser, storage.Record{"id": fmt.Sprintf("u%05d", i), "name": fmt.Sprintf("User %05d", i),
				"email": fmt.Sprintf("user%05d@example.com", i), "emailVerified": i%2 == 0, "createdAt": at, "updatedAt": at,
				"role": "user", "banned": false}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListUsers is GET /admin/list-users over 10 000 users: a page
// of 100 with a contains search on the email (matching all, so that the
// count and the sort see every row), through HTTP as an admin.
func BenchmarkListUsers(b *testing.B) {
	for _, kind := range dbKinds {
		b.Run(kind, func(b *testing.B) {
			e := newEnv(b, envOpts{db: kind})
			adm := e.admin("root@example.net")
			seedUsers(b, e, 10000)
			q := url.Values{"searchValue": {"example.com"}, "limit": {"100"}, "offset": {"5000"}}
			if r := adm.get("/admin/list-users", q); r.body["total"] != 10000.0 || len(r.body["users"].([]any)) != 100 {
				b.Fatalf("list-users: total %v, %d users", r.body["total"], len(r.body["users"].([]any)))
			}
			target := e.srv.URL + "/api/auth/admin/list-users?" + q.Encode()
			cookie := cookieHeader(adm)
			req, _ := http.NewRequest("GET", target, nil)
			req.Header.Set("Cookie", cookie)
			b.ResetTimer()
			for b.Loop() {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
