package org_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage/memory"
)

// The main flow in Go, without HTTP: every route has a method that takes
// the acting user's session (or any *auth.SessionData with the user) and
// runs the same checks, transactions and mails.
func Example() {
	ctx := context.Background()
	mailer := &mail.Recorder{}
	orgs := org.New(org.Options{})
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: "a-secret-of-at-least-32-characters!!",
		Mailer: mailer}, memory.New(), orgs)
	if err != nil {
		log.Fatal(err)
	}
	// session signs a new user in; a handler has the session from
	// auth.SessionFrom(r.Context()).
	session := func(name, email string) *auth.SessionData {
		u := &auth.User{Name: name, Email: email, EmailVerified: true}
		if err := a.Host().CreateUser(ctx, u, nil); err != nil {
			log.Fatal(err)
		}
		res, err := a.Host().CreateSession(ctx, u, false)
		if err != nil {
			log.Fatal(err)
		}
		sd, err := a.GetSession(ctx, res.Token())
		if err != nil {
			log.Fatal(err)
		}
		return sd
	}
	alice, bob := session("Alice", "alice@example.com"), session("Bob", "bob@example.com")

	// Alice creates Acme, which becomes her session's active organization,
	// and invites Bob into it.
	acme, _, err := orgs.CreateOrganization(ctx, alice, org.CreateOrganizationInput{Name: "Acme", Slug: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	inv, err := orgs.InviteMember(ctx, alice, org.InviteMemberInput{Email: "bob@example.com", Roles: []string{"member"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("invitation mailed to", mailer.Sent()[0].To)

	// Bob accepts; only Alice, an owner, may make him an admin.
	_, member, err := orgs.AcceptInvitation(ctx, bob, inv.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Bob's active organization is Acme:", org.ActiveOrganizationID(bob) == acme.ID)
	promote := org.UpdateMemberRoleInput{MemberID: member.ID, Roles: []string{"admin"}}
	if _, err := orgs.UpdateMemberRole(ctx, bob, promote); err != nil {
		fmt.Println("Bob promotes himself:", plugin.AsError(err).Code)
	}
	if _, err := orgs.UpdateMemberRole(ctx, alice, promote); err != nil {
		log.Fatal(err)
	}
	admins, err := orgs.ListMembers(ctx, bob, org.ListMembersInput{Filter: &org.MemberFilter{Field: "role", Value: "admin"}})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range admins.Members {
		fmt.Println("admin:", m.User.Name)
	}

	// The last owner cannot leave; Bob can.
	if _, err := orgs.LeaveOrganization(ctx, alice, acme.ID); err != nil {
		fmt.Println("Alice leaves:", plugin.AsError(err).Code)
	}
	if _, err := orgs.LeaveOrganization(ctx, bob, acme.ID); err != nil {
		log.Fatal(err)
	}
	isMember, _ := orgs.IsMember(ctx, acme.ID, bob.User.ID)
	fmt.Println("Bob is a member:", isMember)
	// Output:
	// invitation mailed to bob@example.com
	// Bob's active organization is Acme: true
	// Bob promotes himself: YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER
	// admin: Bob
	// Alice leaves: YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER
	// Bob is a member: false
}

// Roles and permissions of your own: an editor may create projects. The
// server answers permission questions about any user with MemberRole and
// Authorize; HasPermission is the has-permission route's method.
func ExampleAccessControl() {
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
	alice := &auth.User{Name: "Alice", Email: "alice@example.com", EmailVerified: true}
	bob := &auth.User{Name: "Bob", Email: "bob@example.com", EmailVerified: true}
	for _, u := range []*auth.User{alice, bob} {
		if err := a.Host().CreateUser(ctx, u, nil); err != nil {
			log.Fatal(err)
		}
	}
	// Without a session, CreateOrganizationInput.UserID names the creator.
	acme, _, err := orgs.CreateOrganization(ctx, nil, org.CreateOrganizationInput{UserID: alice.ID, Name: "Acme", Slug: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := orgs.AddMember(ctx, org.AddMemberInput{OrganizationID: acme.ID, UserID: bob.ID, Roles: []string{"editor"}}); err != nil {
		log.Fatal(err)
	}
	for _, u := range []*auth.User{alice, bob} {
		role, _ := orgs.MemberRole(ctx, acme.ID, u.ID)
		canCreate := orgs.Authorize(role, org.Permissions{"project": {"create"}})
		canInvite, _ := orgs.HasPermission(ctx, &auth.SessionData{User: u},
			org.HasPermissionInput{OrganizationID: acme.ID, Permissions: org.Permissions{"invitation": {"create"}}})
		fmt.Printf("%s: role %s, create projects %v, invite %v\n", u.Name, role, canCreate, canInvite)
	}
	_, err = orgs.HasPermission(ctx, &auth.SessionData{User: &auth.User{ID: "someone-else"}},
		org.HasPermissionInput{OrganizationID: acme.ID, Permissions: org.Permissions{"project": {"create"}}})
	var ae *auth.Error
	fmt.Println("a non-member:", errors.As(err, &ae), ae.Status, ae.Code)
	// Output:
	// Alice: role owner, create projects false, invite true
	// Bob: role editor, create projects true, invite false
	// a non-member: true 401 USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION
}
