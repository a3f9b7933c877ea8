package admin_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/memory"
)

// Example mounts the admin plugin, makes a first admin with a trusted Go
// call, and bans a user over HTTP as Better Auth's adminClient would.
func Example() {
	adm, err := admin.New(admin.Options{})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
	}, memory.New(), adm)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	h := a.Handler()
	signUp := func(email string) (id string, cookie string) {
		res, err := a.SignUpEmail(ctx, auth.SignUpInput{Email: email, Password: "correct horse battery", Name: "Someone"})
		if err != nil {
			log.Fatal(err)
		}
		return res.User.ID, res.Cookies[0].Name + "=" + res.Cookies[0].Value
	}
	rootID, rootCookie := signUp("root@example.com")
	mallory, _ := signUp("mallory@example.com")

	// The first admin: a trusted call (nil acting user) from a setup step.
	if _, err := adm.SetRole(ctx, nil, rootID, []string{"admin"}); err != nil {
		log.Fatal(err)
	}

	// The admin bans a user (authClient.admin.banUser).
	req := httptest.NewRequest("POST", "http://localhost:3000/api/auth/admin/ban-user",
		strings.NewReader(`{"userId":"`+mallory+`","banReason":"spam"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://localhost:3000")
	req.Header.Set("Cookie", rootCookie)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println("ban-user:", rec.Code)

	// The banned user cannot sign in.
	_, err = a.SignInEmail(ctx, auth.SignInInput{Email: "mallory@example.com", Password: "correct horse battery"})
	fmt.Println(err)

	// Server-side checks use the same rules as the routes.
	root, _ := a.Host().FindUserByID(ctx, rootID)
	fmt.Println("root may ban:", adm.HasPermission(root, admin.Statements{"user": {"ban"}}))
	fmt.Println("a user may list:", adm.RoleHasPermission("user", admin.Statements{"user": {"list"}}))
	// Output:
	// ban-user: 200
	// BANNED_USER: You have been banned from this application. Please contact support if you believe this is an error.
	// root may ban: true
	// a user may list: false
}
