package auth_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// linkAccount stores an account of provider for the user, as the oauth
// plugin would, and returns its row id.
func linkAccount(t testing.TB, a *auth.Auth, userID, provider, scope string, at time.Time) string {
	t.Helper()
	acc := &plugin.Account{ID: plugin.NewID(), AccountID: provider + "-" + userID, ProviderID: provider, UserID: userID,
		Scope: &scope, CreatedAt: at, UpdatedAt: at}
	if err := a.Host().DB().Create(context.Background(), plugin.TableAccount, acc.Record()); err != nil {
		t.Fatal(err)
	}
	return acc.ID
}

// TestListAccounts: GET /list-accounts, a core route, answers the
// user's own accounts oldest first, without secrets, the scope as a
// list; 401 without a session.
func TestListAccounts(t *testing.T) {
	t.Parallel()
	for _, kind := range sqlKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			a, srv := newSQLServer(t, kind, nil)
			c := newClient(t, a, srv)
			uid := c.signUp("list@example.com", "password-123")["user"].(map[string]any)["id"].(string)
			newClient(t, a, srv).signUp("other@example.com", "password-123")
			ghID := linkAccount(t, a, uid, "github", "read:user, user:email", time.Now().Add(time.Hour))
			r := c.get("/list-accounts")
			if r.Status != 200 {
				t.Fatalf("list-accounts: %d %s", r.Status, r.Body)
			}
			type row struct{ ID, ProviderID, AccountID, UserID string }
			var got []row
			var scopes [][]any
			var keys [][]string
			for _, x := range r.JSON(t).([]any) {
				m := x.(map[string]any)
				id, _ := m["id"].(string)
				if id != ghID {
					id = "(credential)"
				}
				got = append(got, row{id, m["providerId"].(string), m["accountId"].(string), m["userId"].(string)})
				scopes = append(scopes, m["scopes"].([]any))
				keys = append(keys, slices.Sorted(maps.Keys(m)))
			}
			want := []row{{"(credential)", "credential", uid, uid}, {ghID, "github", "github-" + uid, uid}}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("accounts (-want +got):\n%s", d)
			}
			if d := cmp.Diff([][]any{{}, {"read:user", "user:email"}}, scopes); d != "" {
				t.Errorf("scopes (-want +got):\n%s", d)
			}
			fields := []string{"accountId", "createdAt", "id", "providerId", "scopes", "updatedAt", "userId"}
			if d := cmp.Diff([][]string{fields, fields}, keys); d != "" {
				t.Errorf("fields (-want +got):\n%s", d)
			}
			wantError(t, newClient(t, a, srv).get("/list-accounts"), 401, "UNAUTHORIZED")
			// The Go method gives the full rows.
			accs, err := a.ListAccounts(context.Background(), uid)
			if err != nil || len(accs) != 2 || accs[0].Password == nil || accs[1].ID != ghID {
				t.Errorf("ListAccounts: %+v, %v", accs, err)
			}
		})
	}
}

// TestUnlinkAccount: POST /unlink-account refuses the last account
// (first, whatever the id) unless AllowUnlinkingAll, an id that is not
// the user's, a body without accountId, a stale session and no session;
// it removes the user's own account.
func TestUnlinkAccount(t *testing.T) {
	t.Parallel()
	for _, kind := range sqlKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, allowAll := range []bool{false, true} {
				clock := newClock()
				a, srv := newSQLServer(t, kind, func(c *auth.Config) {
					c.Now = clock.Now
					c.Account.AccountLinking.AllowUnlinkingAll = allowAll
				})
				c := newClient(t, a, srv)
				uid := c.signUp("me@example.com", "password-123")["user"].(map[string]any)["id"].(string)
				other := newClient(t, a, srv)
				otherID := other.signUp("other@example.com", "password-123")["user"].(map[string]any)["id"].(string)
				othersAcc := linkAccount(t, a, otherID, "github", "", clock.Now())
				accs, err := a.ListAccounts(context.Background(), uid)
				if err != nil || len(accs) != 1 {
					t.Fatalf("accounts %v %v", accs, err)
				}
				credID := accs[0].ID
				unlink := func(c *client, body any) *response { return c.post("/unlink-account", body) }
				if !allowAll {
					for _, id := range []string{credID, "nope", othersAcc} {
						wantError(t, unlink(c, map[string]any{"accountId": id}), 400, "FAILED_TO_UNLINK_LAST_ACCOUNT")
					}
				}
				ghID := linkAccount(t, a, uid, "github", "", clock.Now())
				cases := []struct {
					name   string
					c      *client
					body   any
					status int
					code   string
				}{
					{"another user's account", c, map[string]any{"accountId": othersAcc}, 400, "ACCOUNT_NOT_FOUND"},
					{"the provider's id, not the row's", c, map[string]any{"accountId": "github-" + uid}, 400, "ACCOUNT_NOT_FOUND"},
					{"no accountId", c, map[string]any{"providerId": "github"}, 400, "VALIDATION_ERROR"},
					{"not a string", c, map[string]any{"accountId": 7}, 400, "VALIDATION_ERROR"},
					{"NUL", c, map[string]any{"accountId": "a\x00b"}, 400, "ACCOUNT_NOT_FOUND"},
					{"no session", newClient(t, a, srv), map[string]any{"accountId": ghID}, 401, "UNAUTHORIZED"},
				}
				for _, tc := range cases {
					if e := wantError(t, unlink(tc.c, tc.body), tc.status, tc.code); t.Failed() {
						t.Fatalf("allowAll %v, %s: %+v", allowAll, tc.name, e)
					}
				}
				if n := rowCount(t, a, plugin.TableAccount); n != 4 {
					t.Fatalf("%d accounts after the refusals, want 4", n)
				}
				r := unlink(c, map[string]any{"accountId": ghID})
				if d := cmp.Diff(map[string]any{"status": true}, r.Object(t)); r.Status != 200 || d != "" {
					t.Fatalf("unlink: %d (-want +got):\n%s", r.Status, d)
				}
				last := unlink(c, map[string]any{"accountId": credID})
				if allowAll {
					if last.Status != 200 || rowCount(t, a, plugin.TableAccount, storage.W("userId", uid)) != 0 {
						t.Fatalf("AllowUnlinkingAll: the last account: %d %s", last.Status, last.Body)
					}
				} else {
					wantError(t, last, 400, "FAILED_TO_UNLINK_LAST_ACCOUNT")
				}
				// A session past FreshAge may not unlink.
				linkAccount(t, a, otherID, "gitlab", "", clock.Now())
				clock.Advance(25 * time.Hour)
				wantError(t, unlink(other, map[string]any{"accountId": othersAcc}), 403, "SESSION_NOT_FRESH")
				if n := rowCount(t, a, plugin.TableAccount, storage.W("userId", otherID)); n != 3 {
					t.Errorf("a stale session unlinked: %d accounts left, want 3", n)
				}
			}
		})
	}
}

// TestUnlinkAccountRace: a user's last two accounts unlinked at once,
// from two sessions: one account always stays.
func TestUnlinkAccountRace(t *testing.T) {
	t.Parallel()
	for _, kind := range sqlKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			a, srv := newSQLServer(t, kind, nil)
			c := newClient(t, a, srv)
			uid := c.signUp("race@example.com", "password-123")["user"].(map[string]any)["id"].(string)
			c2 := newClient(t, a, srv)
			c2.signIn("race@example.com", "password-123")
			for round := range 10 {
				accs, err := a.ListAccounts(context.Background(), uid)
				if err != nil {
					t.Fatal(err)
				}
				for len(accs) < 2 {
					linkAccount(t, a, uid, fmt.Sprintf("p%d-%d", round, len(accs)), "", time.Now())
					accs, _ = a.ListAccounts(context.Background(), uid)
				}
				var wg sync.WaitGroup
				status := make([]int, 2)
				start := make(chan struct{})
				for i, cl := range []*client{c, c2} {
					wg.Go(func() {
						<-start
						status[i] = cl.post("/unlink-account", map[string]any{"accountId": accs[i].ID}).Status
					})
				}
				close(start)
				wg.Wait()
				left := rowCount(t, a, plugin.TableAccount, storage.W("userId", uid))
				ok := 0
				for _, s := range status {
					switch s {
					case 200:
						ok++
					case 400:
					default:
						t.Errorf("round %d: status %d", round, s)
					}
				}
				if left < 1 || int(left) != 2-ok {
					t.Fatalf("round %d: statuses %v, %d accounts left", round, status, left)
				}
			}
		})
	}
}
