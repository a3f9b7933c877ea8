package jwt

import (
	"errors"
	"strings"

	"github.com/managarten/mana-auth/auth"
)

// SealColumn encrypts a private JWK for the jwks.privateKey column as
// Better Auth writes it: auth.Encrypt's hex envelope, JSON-quoted.
func SealColumn(secret, plaintext string) string {
	return `"` + auth.Encrypt(secret, plaintext) + `"` // hex needs no escaping
}

// OpenColumn reverses [SealColumn]. It also accepts the unquoted hex form,
// and a plain JSON object (Better Auth's disablePrivateKeyEncryption
// stores the private JWK unencrypted), which it returns as is. Better
// Auth's versioned-secret envelope ("$ba$<version>$<hex>") is refused: it
// needs the secret of that version, and an Auth has a single secret.
func OpenColumn(secret, column string) (string, error) {
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
	if strings.HasPrefix(s, "$ba$") {
		return "", errors.New("jwt: versioned-secret envelope ($ba$…) is not supported")
	}
	return auth.Decrypt(secret, s)
}
