package oauth_test

import (
	"fmt"
	"log"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/storage/memory"
)

// Example mounts Google sign-in and starts a flow as a browser would: the
// answer names Google's authorization endpoint, with this server's
// callback as redirect_uri, and sets the signed state cookie.
func Example() {
	p, err := oauth.New(oauth.Config{Providers: []oauth.Provider{
		oauth.Google("my-client-id.apps.googleusercontent.com", "my-client-secret"),
	}})
	if err != nil {
		log.Fatal(err)
	}
	a, err := auth.New(auth.Config{BaseURL: "https://auth.example.com", Secret: "a-secret-of-at-least-32-characters-long"}, memory.New(), p)
	if err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest("POST", "https://auth.example.com/api/auth/sign-in/social",
		strings.NewReader(`{"provider":"google","callbackURL":"/dashboard"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	a.Handler().ServeHTTP(w, req)

	loc, _ := url.Parse(w.Header().Get("Location"))
	fmt.Println(w.Code, loc.Scheme+"://"+loc.Host+loc.Path)
	fmt.Println("redirect_uri:", loc.Query().Get("redirect_uri"))
	fmt.Println("scope:", loc.Query().Get("scope"))
	for _, c := range w.Result().Cookies() {
		fmt.Println("cookie:", c.Name, c.MaxAge)
	}
	// Output:
	// 200 https://accounts.google.com/o/oauth2/v2/auth
	// redirect_uri: https://auth.example.com/api/auth/callback/google
	// scope: openid email profile
	// cookie: __Secure-better-auth.state 300
}
