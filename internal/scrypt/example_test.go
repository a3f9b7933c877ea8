package scrypt_test

import (
	"encoding/hex"
	"fmt"

	"github.com/managarten/mana-auth/internal/scrypt"
)

// Key with the parameters of RFC 7914's second test vector (small enough
// for an example; auth.ScryptHasher uses BetterAuthN, BetterAuthR,
// BetterAuthP and BetterAuthKeyLen).
func ExampleKey() {
	key, err := scrypt.Key([]byte("password"), []byte("NaCl"), 1024, 8, 16, 64)
	if err != nil {
		panic(err)
	}
	fmt.Println(hex.EncodeToString(key[:16]))
	// Output: fdbabe1c9d3472007856e7190d01e9fe
}
