package keyring

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrDecrypt is returned by Decrypt and Ring.Decrypt for data that is
// not a valid envelope under the secret (tampered, truncated, or sealed
// with another secret).
var ErrDecrypt = errors.New("keyring: cannot decrypt: wrong secret or tampered data")

// Encrypt seals plaintext as Better Auth's symmetricEncrypt does:
// XChaCha20-Poly1305 with key SHA-256(secret), a random 24-byte nonce, no
// additional data, rendered as hex(nonce ‖ ciphertext ‖ tag). Better Auth
// stores two-factor secrets, backup codes and JWT private keys this way, so
// rows written by either server open in the other. This is the
// un-versioned envelope of a single secret; Ring.Encrypt adds the
// "$ba$<version>$" prefix when versioned secrets are configured.
func Encrypt(secret, plaintext string) string {
	key := sha256.Sum256([]byte(secret))
	aead, _ := chacha20poly1305.NewX(key[:])
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(plaintext)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return hex.EncodeToString(aead.Seal(nonce, nonce, []byte(plaintext), nil))
}

// Decrypt opens an envelope made by Encrypt (or by Better Auth) under
// secret. It does not read "$ba$" envelopes: see Ring.Decrypt.
func Decrypt(secret, sealed string) (string, error) {
	raw, err := hex.DecodeString(sealed)
	if err != nil || len(raw) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return "", ErrDecrypt
	}
	key := sha256.Sum256([]byte(secret))
	aead, _ := chacha20poly1305.NewX(key[:])
	pt, err := aead.Open(nil, raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:], nil)
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}
