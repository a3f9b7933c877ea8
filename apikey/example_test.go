package apikey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/memory"
)

// Example gives a user a key with three uses, verifies it on the server,
// then calls get-session with it as a program would (x-api-key).
func Example() {
	ctx := context.Background()
	p, err := apikey.New(apikey.Options{DefaultPrefix: "demo_", EnableSessionForAPIKeys: true})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
	}, memory.New(), p)
	if err != nil {
		log.Fatal(err)
	}
	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Ada", Email: "ada@example.com", Password: "correct horse battery"})
	if err != nil {
		log.Fatal(err)
	}
	uses := int64(3)
	k, err := p.CreateKey(ctx, apikey.CreateInput{UserID: res.User.ID, Remaining: &uses,
		Permissions: map[string][]string{"reports": {"read"}}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(k.Secret, "demo_"), len(k.Secret)) // shown once: hand it to the user

	v, err := p.Verify(ctx, k.Secret, map[string][]string{"reports": {"read"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid:", v.Valid, "remaining:", *v.Key.Remaining)
	v, _ = p.Verify(ctx, k.Secret, map[string][]string{"reports": {"delete"}})
	fmt.Println("valid:", v.Valid, v.Error.Code)

	req := httptest.NewRequest("GET", "http://localhost:3000/api/auth/get-session", nil)
	req.Header.Set("x-api-key", k.Secret)
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	var sd struct {
		User struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &sd)
	fmt.Println(rec.Code, sd.User.Email)
	// Output:
	// true 69
	// valid: true remaining: 2
	// valid: false KEY_NOT_FOUND
	// 200 ada@example.com
}
