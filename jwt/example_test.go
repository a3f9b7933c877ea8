package jwt_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/storage/memory"
)

// startAuth runs an auth server with the jwt plugin on a loopback port and
// returns its base URL, the Auth, the plugin and a stop function.
func startAuth() (string, *auth.Auth, *jwt.Plugin, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	baseURL := "http://" + ln.Addr().String()
	p := jwt.New(jwt.Options{})
	a, err := auth.New(auth.Config{
		BaseURL:   baseURL,
		Secret:    "example-secret-at-least-32-characters-long",
		RateLimit: auth.RateLimitConfig{Disabled: true},
	}, memory.New(), p)
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return baseURL, a, p, srv.Close
}

// ExampleNew registers the plugin, signs up over HTTP and fetches the
// user's JWT from GET /token.
func ExampleNew() {
	baseURL, _, _, stop := startAuth()
	defer stop()

	// Sign up (the response carries the session token, usable as a cookie).
	resp, err := http.Post(baseURL+"/api/auth/sign-up/email", "application/json",
		strings.NewReader(`{"name":"Ada","email":"ada@example.com","password":"correct horse battery"}`))
	if err != nil {
		log.Fatal(err)
	}
	cookies := resp.Cookies()
	resp.Body.Close()

	// GET /token with the session cookie.
	req, _ := http.NewRequest("GET", baseURL+"/api/auth/token", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	var body struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	fmt.Println("status:", resp.StatusCode)
	fmt.Println("compact JWS:", strings.Count(body.Token, ".") == 2)

	// Verify it against the server's JWKS, as another service would.
	v, err := verify.New(baseURL+"/api/auth/jwks", verify.WithIssuer(baseURL), verify.WithAudience(baseURL))
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), body.Token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("email:", claims.Email, "role:", claims.Role)
	fmt.Println("lifetime:", claims.ExpiresAt.Sub(claims.IssuedAt))
	// Output:
	// status: 200
	// compact JWS: true
	// email: ada@example.com role: user
	// lifetime: 15m0s
}

// ExamplePlugin_Mint mints a user's token from Go and verifies it in a
// service that only knows the auth server's JWKS URL (package jwt/verify,
// which does not import the SDK).
func ExamplePlugin_Mint() {
	baseURL, a, p, stop := startAuth()
	defer stop()

	// On the auth server: a user and a token (Mint is what GET /token returns).
	ctx := context.Background()
	res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Bo", Email: "bo@example.com", Password: "correct horse battery"})
	if err != nil {
		log.Fatal(err)
	}
	token, err := p.Mint(ctx, &auth.SessionData{Session: res.Session, User: res.User})
	if err != nil {
		log.Fatal(err)
	}

	// In another service: no database, just the JWKS URL.
	v, err := verify.New(baseURL+"/api/auth/jwks",
		verify.WithIssuer(baseURL), verify.WithAudience(baseURL))
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(ctx, token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject == res.User.ID, claims.SessionID == res.Session.ID, claims.Email)

	// A tampered token is refused with a stable error code.
	b := []byte(token)
	if i := len(b) - 10; b[i] == 'A' { // change one signature character
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	_, err = v.Verify(ctx, string(b))
	fmt.Println(err)
	// Output:
	// true true bo@example.com
	// jwt: INVALID_SIGNATURE: invalid signature
}
