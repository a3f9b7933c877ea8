package magiclink_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/storage/memory"
)

// printMailer is an auth.Mailer that keeps the last link it was asked to
// send (a real one would be mail.NewSMTP or mail.FromEnv).
type printMailer struct{ link string }

func (m *printMailer) SendEmail(_ context.Context, e auth.Email) error {
	m.link = e.URL
	return nil
}

// Example signs a new user in with a magic link: the request mails a link,
// opening it creates the (verified) user and a session and redirects to the
// callback URL.
func Example() {
	mailer := &printMailer{}
	a, err := auth.New(auth.Config{
		BaseURL: "http://localhost:3000",
		Secret:  "an-example-secret-of-at-least-32-characters",
		Mailer:  mailer,
	}, memory.New(), magiclink.New(magiclink.Options{}))
	if err != nil {
		log.Fatal(err)
	}
	h := a.Handler()

	// 1. The client asks for a link (Better Auth's authClient.signIn.magicLink).
	req := httptest.NewRequest("POST", "http://localhost:3000/api/auth/sign-in/magic-link",
		strings.NewReader(`{"email":"ada@example.com","callbackURL":"/dashboard"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	if err := a.Shutdown(context.Background()); err != nil { // the link leaves in the background
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(mailer.link, "http://localhost:3000/api/auth/magic-link/verify?token="))

	// 2. The user opens the link from the email.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", mailer.link, nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	var session *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "better-auth.session_token" {
			session = c
		}
	}
	fmt.Println("session cookie:", session != nil)

	u, _ := a.Host().FindUserByEmail(context.Background(), "ada@example.com")
	fmt.Println(u.Email, "verified:", u.EmailVerified)

	// 3. Links are single-use.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", mailer.link, nil))
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output:
	// 200 {"status":true}
	// true
	// 302 http://localhost:3000/dashboard
	// session cookie: true
	// ada@example.com verified: true
	// 302 http://localhost:3000/dashboard?error=INVALID_TOKEN
}
