package jwt

import (
	"errors"
	"strings"

	"github.com/managarten/mana-auth/keyring"
)

// SealColumn encrypts a private JWK for the jwks.privateKey column as
// Better Auth writes it: the keyring's envelope (hex, or
// "$ba$<version>$<hex>" with versioned secrets), JSON-quoted.
func SealColumn(k *keyring.Ring, plaintext string) string {
	return `"` + k.Encrypt(plaintext) + `"` // hex, digits and '$' need no escaping
}

// OpenColumn reverses [SealColumn] with any secret the keyring holds: a
// versioned envelope with its version's secret, an un-versioned one with
// the legacy secret (see keyring.Ring.Decrypt). It also accepts the
// unquoted form, and a plain JSON object (Better Auth's
// disablePrivateKeyEncryption stores the private JWK unencrypted), which
// it returns as is.
func OpenColumn(k *keyring.Ring, column string) (string, error) {
	s := strings.TrimSpace(column)
	switch {
	case strings.HasPrefix(s, "{"):
		return s, nil
	case len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"':
		s = s[1 : len(s)-1]
		if strings.ContainsAny(s, `"\`) {
			return "", errors.New("jwt: sealed column is not a plain JSON string")
		}
	}
	return k.Decrypt(s)
}
