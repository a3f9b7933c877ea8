package keyring_test

import (
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/managarten/mana-auth/keyring"
)

// Envelopes made by Better Auth open here, and ours round-trip.
func TestEnvelopeBetterAuthVectors(t *testing.T) {
	t.Parallel()
	var vec struct {
		Sym []struct {
			Key        string `json:"key"`
			Plaintext  string `json:"plaintext"`
			Ciphertext string `json:"ciphertextHex"`
		} `json:"symmetricEncryption"`
	}
	b, err := os.ReadFile("../auth/testdata/betterauth-vectors.json") // shared with auth and jwt
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vec); err != nil {
		t.Fatal(err)
	}
	if len(vec.Sym) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vec.Sym {
		got, err := keyring.Decrypt(v.Key, v.Ciphertext)
		if err != nil || got != v.Plaintext {
			t.Errorf("Decrypt(%q) = %q, %v; want %q", v.Ciphertext, got, err, v.Plaintext)
		}
		sealed := keyring.Encrypt(v.Key, v.Plaintext)
		if back, err := keyring.Decrypt(v.Key, sealed); err != nil || back != v.Plaintext {
			t.Errorf("round trip of %q: %q, %v", v.Plaintext, back, err)
		}
		if sealed == keyring.Encrypt(v.Key, v.Plaintext) {
			t.Error("two encryptions of the same plaintext are equal: nonce reused")
		}
		for name, bad := range map[string]string{
			"wrong secret": "",
			"flipped bit":  flipHex(v.Ciphertext),
			"truncated":    v.Ciphertext[:40],
			"not hex":      "zz" + v.Ciphertext[2:],
		} {
			key := v.Key
			if name == "wrong secret" {
				key, bad = v.Key+"x", v.Ciphertext
			}
			if _, err := keyring.Decrypt(key, bad); !errors.Is(err, keyring.ErrDecrypt) {
				t.Errorf("%s: err = %v, want ErrDecrypt", name, err)
			}
		}
	}
}

func flipHex(s string) string {
	b := []byte(s)
	if b[len(b)-1] == '0' {
		b[len(b)-1] = '1'
	} else {
		b[len(b)-1] = '0'
	}
	return string(b)
}
