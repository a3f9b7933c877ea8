package auth_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage/memory"
)

func ExampleNew() {
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
	}, memory.New())
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Ada", Email: "Ada@Example.com", Password: "correct horse"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.User.Email, len(res.Token()), res.Cookies[0].Name)

	_, err = a.SignInEmail(ctx, auth.SignInInput{Email: "ada@example.com", Password: "wrong password"})
	fmt.Println(err)
	// Output:
	// ada@example.com 32 better-auth.session_token
	// INVALID_EMAIL_OR_PASSWORD: Invalid email or password
}

func ExampleAuth_Handler() {
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
	}, memory.New())
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", a.Handler())
	mux.Handle("/me", a.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello ", auth.SessionFrom(r.Context()).User.Name)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/api/auth/sign-up/email", "application/json",
		strings.NewReader(`{"name":"Ada","email":"ada@example.com","password":"correct horse"}`))
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/me", nil)
	for _, c := range resp.Cookies() {
		req.AddCookie(c)
	}
	me, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(me.Body)
	me.Body.Close()
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 hello Ada
}

// With the cookie cache on, sign-up and sign-in set session_data beside
// the session cookie, for MaxAge (5 minutes by default); until then
// get-session and the session routes may answer from it without reading
// the database.
func ExampleCookieCacheConfig() {
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
		Session: auth.SessionConfig{CookieCache: auth.CookieCacheConfig{Enabled: true, Strategy: auth.CookieCacheCompact}},
	}, memory.New())
	if err != nil {
		log.Fatal(err)
	}
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "Ada", Email: "ada@example.com", Password: "correct horse"})
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range res.Cookies {
		fmt.Println(c.Name, c.MaxAge)
	}
	// Output:
	// better-auth.session_token 604800
	// better-auth.session_data 300
}
