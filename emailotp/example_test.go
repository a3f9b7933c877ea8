package emailotp_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/emailotp"
	"github.com/managarten/mana-auth/storage/memory"
)

// Example signs a new user in with a code by mail: the client asks for a
// sign-in code (Better Auth's authClient.emailOtp.sendVerificationOtp),
// the app's hook delivers it, and the code signs the user in
// (authClient.signIn.emailOtp), once.
func Example() {
	codes := make(chan string, 1)
	eo, err := emailotp.New(emailotp.Options{
		// Without this hook the code is mailed with auth.Config.Mailer.
		SendVerificationOTP: func(_ context.Context, email, code string, typ emailotp.Type) error {
			codes <- code
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: "an-example-secret-of-at-least-32-characters"},
		memory.New(), eo)
	if err != nil {
		log.Fatal(err)
	}
	h := a.Handler()
	post := func(path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "http://localhost:3000/api/auth"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	rec := post("/email-otp/send-verification-otp", `{"email":"ada@example.com","type":"sign-in"}`)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	if err := eo.Shutdown(context.Background()); err != nil { // the code leaves in the background
		log.Fatal(err)
	}
	code := <-codes

	rec = post("/sign-in/email-otp", `{"email":"ada@example.com","otp":"`+code+`","name":"Ada"}`)
	var session *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "better-auth.session_token" {
			session = c
		}
	}
	fmt.Println(rec.Code, "session cookie:", session != nil)
	u, _ := a.Host().FindUserByEmail(context.Background(), "ada@example.com")
	fmt.Println(u.Name, u.Email, "verified:", u.EmailVerified)

	rec = post("/sign-in/email-otp", `{"email":"ada@example.com","otp":"`+code+`"}`)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output:
	// 200 {"success":true}
	// 200 session cookie: true
	// Ada ada@example.com verified: true
	// 400 {"message":"Invalid OTP","code":"INVALID_OTP"}
}
