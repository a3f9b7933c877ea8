package keyring_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/managarten/mana-auth/keyring"
)

// Rotating the secret: the new version goes first, the old one stays
// until nothing sealed under it is left. Data sealed before the rotation
// still opens; new data is sealed under the current version.
func ExampleParse() {
	before, err := keyring.New("", []keyring.Version{{Version: 1, Value: "the-first-secret-of-at-least-32-chars"}})
	if err != nil {
		log.Fatal(err)
	}
	old := before.Encrypt("totp-secret")

	// BETTER_AUTH_SECRETS="2:…,1:…" after the rotation.
	versions, err := keyring.Parse("2:the-second-secret-of-at-least-32-chars, 1:the-first-secret-of-at-least-32-chars")
	if err != nil {
		log.Fatal(err)
	}
	after, err := keyring.New("", versions)
	if err != nil {
		log.Fatal(err)
	}
	plain, err := after.Decrypt(old)
	fmt.Println(plain, err)
	fmt.Println(strings.HasPrefix(after.Encrypt("new data"), "$ba$2$"))

	_, err = keyring.Parse("2:short,1:the-first-secret-of-at-least-32-chars")
	fmt.Println(err)
	// Output:
	// totp-secret <nil>
	// true
	// keyring: secrets entry 1 (version 2) is the current secret and must be at least 32 characters (generate one with `openssl rand -base64 32`)
}
