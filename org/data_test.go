package org_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/storage"
)

func TestExportUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, org.Options{})
	a := e.newUser("A")
	b := e.newUser("B")
	orgID := a.createOrg("acme")
	a.invite(orgID, "someone@example.com", "member")
	b.createOrg("bees")
	bInv := b.invite(e.memberOrg(b, "bees"), "a@example.com", "admin")

	out, err := e.a.ExportUser(ctx, a.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(out["organization"])
	var got struct {
		Memberships []struct {
			OrganizationID, OrganizationSlug, Role string
		}
		InvitationsReceived []struct{ ID, Email, Status string }
		InvitationsSent     []struct{ Email string }
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	want := got
	want.Memberships = []struct{ OrganizationID, OrganizationSlug, Role string }{{orgID, "acme", "owner"}}
	want.InvitationsReceived = []struct{ ID, Email, Status string }{{bInv, "a@example.com", "pending"}}
	want.InvitationsSent = []struct{ Email string }{{"someone@example.com"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("export (-want +got):\n%s", diff)
	}
}

// memberOrg returns the id of the organization with slug that c belongs to.
func (e *env) memberOrg(c *client, slug string) string {
	e.t.Helper()
	r, err := e.db.FindOne(context.Background(), org.TableOrganization, storage.W("slug", slug))
	if err != nil {
		e.t.Fatal(err)
	}
	return r.String("id")
}

// TestDeleteUser checks the rule for organizations whose owner is erased:
// deleted if the owner was the only member; otherwise ownership passes to
// the longest-standing admin, else the longest-standing member.
func TestDeleteUser(t *testing.T) {
	t.Parallel()
	type member struct{ name, role string }
	cases := []struct {
		name    string
		others  []member // joined in this order, after the owner
		gone    bool     // organization deleted
		wantOut map[string]string
	}{
		{name: "only member", gone: true},
		{name: "admin inherits", others: []member{{"m1", "member"}, {"a1", "admin"}, {"a2", "admin"}},
			wantOut: map[string]string{"m1": "member", "a1": "admin,owner", "a2": "admin"}},
		{name: "oldest member inherits", others: []member{{"m1", "member"}, {"m2", "member"}},
			wantOut: map[string]string{"m1": "member,owner", "m2": "member"}},
		{name: "another owner remains", others: []member{{"o2", "owner"}, {"a1", "admin"}},
			wantOut: map[string]string{"o2": "owner", "a1": "admin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newEnv(t, org.Options{})
			owner := e.newUser("Owner")
			orgID := owner.createOrg("acme")
			byName := map[string]*client{}
			for _, m := range tc.others {
				c := e.newUser(m.name)
				byName[m.name] = c
				e.join(owner, c, orgID, m.role)
			}
			owner.invite(orgID, "pending@example.com", "member")
			// An invitation to the erased user from elsewhere.
			x := e.newUser("X")
			xOrg := x.createOrg("xorg")
			x.invite(xOrg, owner.user.Email, "member")

			if err := e.a.DeleteUser(ctx, owner.user.ID); err != nil {
				t.Fatal(err)
			}
			_, err := e.p.Organization(ctx, orgID)
			if gone := err != nil; gone != tc.gone {
				t.Fatalf("organization gone = %v, want %v (%v)", gone, tc.gone, err)
			}
			if n, _ := e.db.Count(ctx, org.TableMember, storage.W("userId", owner.user.ID)); n != 0 {
				t.Errorf("%d memberships left", n)
			}
			if n, _ := e.db.Count(ctx, org.TableInvitation, storage.W("email", owner.user.Email)); n != 0 {
				t.Errorf("%d received invitations left", n)
			}
			if n, _ := e.db.Count(ctx, org.TableInvitation, storage.W("inviterId", owner.user.ID)); n != 0 {
				t.Errorf("%d sent invitations left", n)
			}
			if tc.gone {
				return
			}
			got := map[string]string{}
			ms, _ := e.p.Members(ctx, orgID)
			for _, m := range ms {
				got[m.User.Name] = m.Role
			}
			if diff := cmp.Diff(tc.wantOut, got); diff != "" {
				t.Errorf("roles after erasure (-want +got):\n%s", diff)
			}
			if e.owners(orgID) < 1 {
				t.Error("no owner left")
			}
		})
	}
}
