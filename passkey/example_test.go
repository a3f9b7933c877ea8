package passkey_test

import (
	"fmt"
	"log"
	"net/http"
	"sort"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/storage/memory"
)

// Register the plugin with auth.New and mount the handler; Better Auth's
// passkeyClient then registers passkeys and signs in with them.
func Example() {
	pk := passkey.New(passkey.Options{})
	a, err := auth.New(auth.Config{
		BaseURL:        "https://auth.example.com",
		Secret:         "an-example-secret-of-at-least-32-characters",
		AppName:        "Example",
		TrustedOrigins: []string{"https://app.example.com", "https://*.preview.example.com"},
		Cookies:        auth.CookieConfig{CrossSubDomain: true, Domain: "example.com"},
	}, memory.New(), pk)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/auth/", a.Handler())

	fmt.Println("RP:", pk.RPID(), pk.RPName())
	fmt.Println("origins:", pk.Origins())
	var routes []string
	for _, r := range a.Routes() {
		if strings.Contains(r, "/passkey/") {
			routes = append(routes, r)
		}
	}
	sort.Strings(routes)
	for _, r := range routes {
		fmt.Println(r)
	}
	// Output:
	// RP: example.com Example
	// origins: [https://auth.example.com https://app.example.com]
	// GET /api/auth/passkey/generate-authenticate-options
	// GET /api/auth/passkey/generate-register-options
	// GET /api/auth/passkey/list-user-passkeys
	// POST /api/auth/passkey/delete-passkey
	// POST /api/auth/passkey/update-passkey
	// POST /api/auth/passkey/verify-authentication
	// POST /api/auth/passkey/verify-registration
}
