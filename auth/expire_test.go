package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// DeleteExpired removes expired sessions and verification values and
// keeps live ones, which still work afterwards.
func TestDeleteExpired(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newClock()
	a := newAuth(t, func(c *auth.Config) { c.Now = clock.Now })

	// A session and a token made now, which will have expired below.
	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Old", Email: "old@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Host().CreateVerification(ctx, "reset:old", "v-old", time.Hour); err != nil {
		t.Fatal(err)
	}
	clock.Advance(8 * 24 * time.Hour) // past the 7-day session and the 1-hour token
	live, err := a.SignInEmail(ctx, auth.SignInInput{Email: "old@example.com", Password: "password-123"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Host().CreateVerification(ctx, "reset:new", "v-new", time.Hour); err != nil {
		t.Fatal(err)
	}

	n, err := a.DeleteExpired(ctx)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2, nil", n, err)
	}
	count := func(table string, w storage.Where) int64 {
		c, err := a.Host().DB().Count(ctx, table, w)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	got := map[string]int64{
		"expired session": count(plugin.TableSession, storage.W("token", res.Token())),
		"live session":    count(plugin.TableSession, storage.W("token", live.Token())),
		"expired token":   count(plugin.TableVerification, storage.W("identifier", "reset:old")),
		"live token":      count(plugin.TableVerification, storage.W("identifier", "reset:new")),
	}
	want := map[string]int64{"expired session": 0, "live session": 1, "expired token": 0, "live token": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows after DeleteExpired (-want +got):\n%s", diff)
	}
	if _, err := a.GetSession(ctx, live.Token()); err != nil {
		t.Errorf("live session after DeleteExpired: %v", err)
	}
	if n, err := a.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}
