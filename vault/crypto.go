package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sizes of the wire and storage formats (format version 1).
const (
	// MasterKeySize is the size of a master key.
	MasterKeySize = 32
	// IVSize is the size of an AES-GCM nonce (KEK wrap and recovery wrap).
	IVSize = 12
	// WrappedKeySize is the size of a wrapped master key: ciphertext plus
	// the 16-byte GCM tag.
	WrappedKeySize = MasterKeySize + 16
	// FormatVersion is the format of the KEK wrap (AES-256-GCM, no AAD).
	FormatVersion = 1
	// RecoveryFormatVersion is the format of the recovery wrap.
	RecoveryFormatVersion = 1
)

var b64 = base64.StdEncoding

// wrapMK seals mk under kek with a fresh random IV. It returns the
// base64 forms stored in wrapped_mk and wrap_iv.
func wrapMK(rnd io.Reader, kek KEK, mk []byte) (wrapped, iv string, err error) {
	if len(mk) != MasterKeySize {
		return "", "", fmt.Errorf("vault: master key must be %d bytes", MasterKeySize)
	}
	aead, err := newGCM(kek)
	if err != nil {
		return "", "", err
	}
	nonce := make([]byte, IVSize)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return "", "", fmt.Errorf("vault: random IV: %w", err)
	}
	ct := aead.Seal(nil, nonce, mk, nil)
	return b64.EncodeToString(ct), b64.EncodeToString(nonce), nil
}

// errAuth is the cause of an unwrap whose GCM tag does not verify.
var errAuth = errors.New("ciphertext failed authentication")

// unwrapMK opens a stored wrap. Malformed stored values and a failed GCM
// authentication are errors; a wrong key is never returned.
func unwrapMK(kek KEK, wrapped, iv string) ([]byte, error) {
	ct, err := b64.DecodeString(wrapped)
	if err != nil || len(ct) != WrappedKeySize {
		return nil, fmt.Errorf("stored wrapped_mk is malformed (want base64 of %d bytes)", WrappedKeySize)
	}
	nonce, err := b64.DecodeString(iv)
	if err != nil || len(nonce) != IVSize {
		return nil, fmt.Errorf("stored wrap_iv is malformed (want base64 of %d bytes)", IVSize)
	}
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	mk, err := aead.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, errAuth
	}
	return mk, nil
}

func newGCM(kek KEK) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kek.key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// newMasterKey returns 32 random bytes.
func newMasterKey(rnd io.Reader) ([]byte, error) {
	mk := make([]byte, MasterKeySize)
	if _, err := io.ReadFull(rnd, mk); err != nil {
		return nil, fmt.Errorf("vault: random master key: %w", err)
	}
	return mk, nil
}

// DecodeBase64 decodes standard base64 leniently: padding is optional and
// ASCII whitespace is ignored (as browsers' atob and Node's Buffer do).
// The URL-safe alphabet is not accepted.
func DecodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, " \t\r\n\f") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n', '\f':
				return -1
			}
			return r
		}, s)
	}
	s = strings.TrimRight(s, "=")
	return base64.RawStdEncoding.DecodeString(s)
}
