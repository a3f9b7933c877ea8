package org_test

import (
	"context"
	"fmt"
	"log"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/storage/memory"
)

func Example() {
	ctx := context.Background()
	orgs := org.New(org.Options{
		AccessControl: &org.AccessControl{
			Statements: org.Permissions{"project": {"create", "delete"}},
			Roles:      map[string]org.Permissions{"editor": {"project": {"create"}}},
		},
	})
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: "a-secret-of-at-least-32-characters!!"},
		memory.New(), orgs)
	if err != nil {
		log.Fatal(err)
	}
	// HTTP clients use a.Handler() (organizationClient in Better Auth's JS
	// client); the server can also act directly.
	alice := &auth.User{Name: "Alice", Email: "alice@example.com", EmailVerified: true}
	bob := &auth.User{Name: "Bob", Email: "bob@example.com", EmailVerified: true}
	for _, u := range []*auth.User{alice, bob} {
		if err := a.CreateUser(ctx, u, nil); err != nil {
			log.Fatal(err)
		}
	}
	acme, _, err := orgs.CreateOrganization(ctx, alice.ID, org.CreateInput{Name: "Acme", Slug: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := orgs.AddMember(ctx, org.AddMemberInput{OrganizationID: acme.ID, UserID: bob.ID, Roles: []string{"editor"}}); err != nil {
		log.Fatal(err)
	}
	for _, u := range []*auth.User{alice, bob} {
		role, _ := orgs.MemberRole(ctx, acme.ID, u.ID)
		canCreate, _ := orgs.HasPermission(ctx, acme.ID, u.ID, org.Permissions{"project": {"create"}})
		canInvite, _ := orgs.HasPermission(ctx, acme.ID, u.ID, org.Permissions{"invitation": {"create"}})
		fmt.Printf("%s: role %s, create projects %v, invite %v\n", u.Name, role, canCreate, canInvite)
	}
	// Output:
	// Alice: role owner, create projects false, invite true
	// Bob: role editor, create projects true, invite false
}
