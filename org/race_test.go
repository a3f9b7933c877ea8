package org_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/postgres"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// pgURL is the PostgreSQL server of the race tests (as the storage tests:
// TEST_DATABASE_URL, default a local "test" database).
func pgURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

var (
	pgOnce sync.Once
	pgErr  error
)

// openPostgres returns an adapter over a fresh schema (dropped at the end),
// skipping the test when no server answers: the READ COMMITTED case is the
// one the organization row lock exists for.
func openPostgres(t *testing.T) storage.Adapter {
	t.Helper()
	ctx := context.Background()
	pgOnce.Do(func() {
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, pgURL())
		if err == nil {
			pgErr = conn.Ping(cctx)
			conn.Close(cctx)
		} else {
			pgErr = err
		}
	})
	if pgErr != nil {
		t.Skipf("PostgreSQL not reachable at TEST_DATABASE_URL (%v)", pgErr)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "org_" + hex.EncodeToString(b)
	db, err := postgres.Open(ctx, postgres.Options{URL: pgURL(), Schema: schema, MaxConns: 16,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		conn, err := pgx.Connect(ctx, pgURL())
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return db
}

// backends runs f against the memory adapter, a SQLite file and, when a
// server is reachable, PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, db func() storage.Adapter)) {
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, func() storage.Adapter { return openPostgres(t) })
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		f(t, func() storage.Adapter { return memory.New() })
	})
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		n := 0
		f(t, func() storage.Adapter {
			n++
			db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), fmt.Sprintf("auth%d.db", n))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// parallel runs n calls of f at once and returns their responses.
func parallel(n int, f func(i int) resp) []resp {
	out := make([]resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

func tally(rs []resp) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		k := fmt.Sprint(r.status)
		if r.status != 200 {
			k += " " + r.code()
		}
		m[k]++
	}
	return m
}

func TestRaceCreateSameSlug(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		e := newEnvDB(t, org.Options{}, db())
		users := make([]*client, 8)
		for i := range users {
			users[i] = e.newUser(fmt.Sprintf("U%d", i))
		}
		rs := parallel(8, func(i int) resp {
			return users[i].post("/organization/create", map[string]any{"name": "Race", "slug": "race"})
		})
		got := tally(rs)
		if got["200"] != 1 || got["400 "+org.CodeOrganizationAlreadyExists] != 7 {
			t.Errorf("outcomes = %v, want one 200 and seven ORGANIZATION_ALREADY_EXISTS", got)
		}
		ctx := context.Background()
		if n, _ := e.db.Count(ctx, org.TableOrganization); n != 1 {
			t.Errorf("%d organizations", n)
		}
		if n, _ := e.db.Count(ctx, org.TableMember); n != 1 {
			t.Errorf("%d members", n)
		}
	})
}

func TestRaceOrganizationLimit(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		e := newEnvDB(t, org.Options{OrganizationLimit: 3}, db())
		u := e.newUser("U")
		rs := parallel(8, func(i int) resp {
			return u.post("/organization/create", map[string]any{"name": "N", "slug": fmt.Sprintf("org-%d", i)})
		})
		if got := tally(rs); got["200"] != 3 || got["403 "+org.CodeMaximumOrganizationsReached] != 5 {
			t.Errorf("outcomes = %v", got)
		}
	})
}

func TestRaceMembershipLimit(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		e := newEnvDB(t, org.Options{MembershipLimit: 3}, db())
		owner := e.newUser("Owner")
		orgID := owner.createOrg("acme")
		invitees := make([]*client, 5)
		ids := make([]string, 5)
		for i := range invitees {
			invitees[i] = e.newUser(fmt.Sprintf("I%d", i))
			ids[i] = owner.invite(orgID, invitees[i].user.Email, "member")
		}
		rs := parallel(5, func(i int) resp {
			return invitees[i].post("/organization/accept-invitation", map[string]any{"invitationId": ids[i]})
		})
		if got := tally(rs); got["200"] != 2 || got["403 "+org.CodeMembershipLimitReached] != 3 {
			t.Errorf("outcomes = %v", got)
		}
		if n, _ := e.db.Count(context.Background(), org.TableMember, storage.W("organizationId", orgID)); n != 3 {
			t.Errorf("%d members, want 3", n)
		}
		// Refused invitations stay pending.
		if n, _ := e.db.Count(context.Background(), org.TableInvitation, storage.W("status", "pending")); n != 3 {
			t.Errorf("%d pending invitations, want 3", n)
		}
	})
}

func TestRaceAcceptOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		e := newEnvDB(t, org.Options{}, db())
		owner := e.newUser("Owner")
		bob := e.newUser("Bob")
		orgID := owner.createOrg("acme")
		id := owner.invite(orgID, bob.user.Email, "member")
		sessions := []*client{bob, e.signIn(bob.user), e.signIn(bob.user), e.signIn(bob.user)}
		rs := parallel(len(sessions)+1, func(i int) resp {
			if i == len(sessions) {
				return owner.post("/organization/cancel-invitation", map[string]any{"invitationId": id})
			}
			return sessions[i].post("/organization/accept-invitation", map[string]any{"invitationId": id})
		})
		got := tally(rs)
		if got["200"] != 1 {
			t.Errorf("outcomes = %v, want exactly one success", got)
		}
		ctx := context.Background()
		inv, _ := e.db.FindOne(ctx, org.TableInvitation, storage.W("id", id))
		n, _ := e.db.Count(ctx, org.TableMember, storage.W("organizationId", orgID), storage.W("userId", bob.user.ID))
		switch inv.String("status") {
		case "accepted":
			if n != 1 || rs[len(sessions)].status == 200 {
				t.Errorf("accepted: %d memberships, cancel %d", n, rs[len(sessions)].status)
			}
		case "canceled":
			if n != 0 {
				t.Errorf("canceled but %d memberships", n)
			}
		default:
			t.Errorf("status %q", inv.String("status"))
		}
	})
}

func TestRaceAddMemberOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		e := newEnvDB(t, org.Options{}, db())
		owner := e.newUser("Owner")
		bob := e.newUser("Bob")
		orgID := owner.createOrg("acme")
		var mu sync.Mutex
		ok := 0
		parallel(8, func(int) resp {
			if _, err := e.p.AddMember(context.Background(), org.AddMemberInput{OrganizationID: orgID, UserID: bob.user.ID, Roles: []string{"member"}}); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
			return resp{}
		})
		if ok != 1 {
			t.Errorf("%d AddMember calls succeeded, want 1", ok)
		}
	})
}

// TestRaceLastOwner: two owners racing to leave, demote or remove each
// other never leave the organization without an owner.
func TestRaceLastOwner(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		e := newEnvDB(t, org.Options{}, db())
		type op func(self, other *client, orgID, selfM, otherM string) resp
		leave := func(self, _ *client, orgID, _, _ string) resp {
			return self.post("/organization/leave", map[string]any{"organizationId": orgID})
		}
		demoteOther := func(self, _ *client, orgID, _, otherM string) resp {
			return self.post("/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": otherM, "role": "admin"})
		}
		demoteSelf := func(self, _ *client, orgID, selfM, _ string) resp {
			return self.post("/organization/update-member-role", map[string]any{"organizationId": orgID, "memberId": selfM, "role": "member"})
		}
		removeOther := func(self, _ *client, orgID, _, otherM string) resp {
			return self.post("/organization/remove-member", map[string]any{"organizationId": orgID, "memberIdOrEmail": otherM})
		}
		pairs := map[string][2]op{
			"leave/leave":          {leave, leave},
			"demote/demote":        {demoteOther, demoteOther},
			"demote-self/leave":    {demoteSelf, leave},
			"demote-self/self":     {demoteSelf, demoteSelf},
			"remove/remove":        {removeOther, removeOther},
			"leave/demote-other":   {leave, demoteOther},
			"remove/demote-self":   {removeOther, demoteSelf},
			"leave/remove-other":   {leave, removeOther},
			"demote-other/removes": {demoteOther, removeOther},
		}
		i := 0
		for name, pair := range pairs {
			for round := range 3 {
				i++
				a := e.newUser(fmt.Sprintf("A%d", i))
				b := e.newUser(fmt.Sprintf("B%d", i))
				orgID := a.createOrg(fmt.Sprintf("org-%d", i))
				bm := e.join(a, b, orgID, "owner")
				am := e.memberID(orgID, a)
				rs := parallel(2, func(k int) resp {
					if k == 0 {
						return pair[0](a, b, orgID, am, bm)
					}
					return pair[1](b, a, orgID, bm, am)
				})
				if n := e.owners(orgID); n < 1 {
					t.Errorf("%s round %d: no owner left (responses %d %s / %d %s)", name, round, rs[0].status, rs[0].raw, rs[1].status, rs[1].raw)
				}
				for _, r := range rs {
					if r.status != 200 && r.status != 400 && r.status != 403 {
						t.Errorf("%s round %d: %d %s", name, round, r.status, r.raw)
					}
				}
			}
		}
	})
}

// TestRaceSetActiveVsRemove: a session never ends up pointing at an
// organization its user was removed from concurrently.
func TestRaceSetActiveVsRemove(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, db func() storage.Adapter) {
		e := newEnvDB(t, org.Options{}, db())
		owner := e.newUser("Owner")
		orgID := owner.createOrg("acme")
		for round := range 10 {
			u := e.newUser(fmt.Sprintf("U%d", round))
			mid := e.join(owner, u, orgID, "member")
			must(t, u.post("/organization/set-active", map[string]any{"organizationId": nil}))
			parallel(2, func(k int) resp {
				if k == 0 {
					return owner.post("/organization/remove-member", map[string]any{"organizationId": orgID, "memberIdOrEmail": mid})
				}
				return u.post("/organization/set-active", map[string]any{"organizationId": orgID})
			})
			if s := u.session(); s[org.FieldActiveOrganizationID] != nil {
				t.Errorf("round %d: removed user's session still has active organization %v", round, s[org.FieldActiveOrganizationID])
			}
		}
	})
}
