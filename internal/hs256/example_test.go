package hs256_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/managarten/mana-auth/internal/hs256"
)

// Sign and Verify an email-verification style token, then see it expire.
func Example() {
	secret := []byte("0123456789abcdef0123456789abcdef-secret-xyz")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	token := hs256.Sign(secret, []byte(`{"email":"ada@example.com"}`), now, time.Hour)

	claims, exp, err := hs256.Verify(secret, token, now.Add(time.Minute))
	fmt.Println(string(claims), time.Unix(int64(exp), 0).UTC(), err)

	_, _, err = hs256.Verify(secret, token, now.Add(time.Hour))
	fmt.Println(errors.Is(err, hs256.ErrExpired))
	// Output:
	// {"email":"ada@example.com","iat":1893553445,"exp":1893557045} 2030-01-02 04:04:05 +0000 UTC <nil>
	// true
}
