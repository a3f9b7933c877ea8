package username_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/username"
)

// Example signs a user up with a username and signs them in with it, in
// another case, as Better Auth's usernameClient does
// (authClient.signUp.email, authClient.signIn.username).
func Example() {
	u, err := username.New(username.Options{ReservedUsernames: []string{"admin"}})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: "an-example-secret-of-at-least-32-characters"},
		memory.New(), u)
	if err != nil {
		log.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		log.Fatal(err)
	}
	post := func(path, body string) string {
		req := httptest.NewRequest("POST", "http://localhost:3000/api/auth"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		return fmt.Sprint(rec.Code, " ", strings.TrimSpace(rec.Body.String()))
	}
	signUp := post("/sign-up/email", `{"name":"Ada","email":"ada@example.com","password":"correct-horse-42","username":"Ada_L"}`)
	fmt.Println(strings.Contains(signUp, `"displayUsername":"Ada_L"`), strings.Contains(signUp, `"username":"ada_l"`))
	fmt.Println(post("/is-username-available", `{"username":"ADA_L"}`))
	fmt.Println(post("/is-username-available", `{"username":"Admin"}`))
	fmt.Println(post("/is-username-available", `{"username":"ada-l"}`))
	signIn := post("/sign-in/username", `{"username":"ADA_L","password":"correct-horse-42"}`)
	fmt.Println(signIn[:3], strings.Contains(signIn, `"email":"ada@example.com"`))
	fmt.Println(post("/sign-in/username", `{"username":"nobody","password":"correct-horse-42"}`))
	// Output:
	// true true
	// 200 {"available":false}
	// 200 {"available":false}
	// 422 {"message":"Username is invalid","code":"INVALID_USERNAME"}
	// 200 true
	// 401 {"message":"Invalid username or password","code":"INVALID_USERNAME_OR_PASSWORD"}
}
