package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// userLookupFails is a memory adapter whose lookup of one user by id
// fails as a database that is down would (storage.ErrUnavailable, not "not found").
type userLookupFails struct {
	*memory.Adapter
	id atomic.Value // string: the user whose lookup fails
}

func (d *userLookupFails) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	if id, _ := d.id.Load().(string); id != "" && table == plugin.TableUser && len(where) == 1 && where[0].Field == "id" && where[0].Value == id {
		return nil, fmt.Errorf("user lookup: %w", storage.ErrUnavailable)
	}
	return d.Adapter.FindOne(ctx, table, where...)
}

// TestAdminEraseWhenLookupFails: when the user to erase cannot be looked
// up (the database fails, which is not "no such user"), the admin's erase
// is refused with 503 before anything is erased anywhere: not the user's
// credits, not the user, and no admin action is recorded.
func TestAdminEraseWhenLookupFails(t *testing.T) {
	t.Parallel()
	db := &userLookupFails{Adapter: memory.New()}
	env := newE2EOn(t, db, nil)
	ctx := context.Background()
	admin := env.seed(t, "admin@example.com")
	target := env.seed(t, "target@example.com")

	db.id.Store(target.id)
	r := env.do(t, req{method: "DELETE", path: "/api/v1/admin/users/" + target.id + "/data", hdr: bearer(admin.jwt)})
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("erase while the lookup fails: %d %s, want 503", r.status, r.raw)
	}
	env.credits.mu.Lock()
	deleted := env.credits.deleted[target.id]
	env.credits.mu.Unlock()
	if deleted {
		t.Error("the user's credits were erased although the user could not be looked up")
	}
	db.id.Store("")
	if _, err := env.s.auth.Host().FindUserByID(ctx, target.id); err != nil {
		t.Errorf("the user is gone: %v", err)
	}
	events, err := env.s.db.FindMany(ctx, TableSecurityEvent, storage.Query{Where: []storage.Where{storage.W("eventType", EventAdminAction)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.String("userId") == admin.id && e.String("metadata") != "" && strings.Contains(e.String("metadata"), "delete-user-data") {
			t.Errorf("an erase was recorded that did not happen: %v", e)
		}
	}

	// With the database back, the same erase goes through.
	r = env.do(t, req{method: "DELETE", path: "/api/v1/admin/users/" + target.id + "/data", hdr: bearer(admin.jwt)})
	if r.status != 200 || r.body["success"] != true {
		t.Fatalf("erase: %d %s", r.status, r.raw)
	}
}
