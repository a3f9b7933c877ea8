package cookiecodec_test

import (
	"fmt"
	"time"

	"github.com/managarten/mana-auth/internal/cookiecodec"
)

// Seal a cache payload with each strategy and open it again.
func Example() {
	secret := []byte("0123456789abcdef0123456789abcdef-secret-xyz")
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	payload := cookiecodec.Payload([]byte(`{"token":"t"}`), []byte(`{"name":"Ada \u0026 Bob"}`), now.UnixMilli(), "1")
	fmt.Println(string(payload))

	compact := cookiecodec.EncodeCompact(secret, payload, now.Add(5*time.Minute).UnixMilli())
	_, expiresAt, ok := cookiecodec.DecodeCompact(secret, compact)
	fmt.Println("compact", ok, time.UnixMilli(int64(expiresAt)).UTC())

	jwt := cookiecodec.EncodeJWT(secret, payload, now, 5*time.Minute)
	_, expiresAt, ok = cookiecodec.DecodeJWT(secret, jwt, now)
	fmt.Println("jwt", ok, time.UnixMilli(int64(expiresAt)).UTC())

	key := cookiecodec.NewJWEKey(secret)
	jwe, err := cookiecodec.EncodeJWE(key, payload, now, 5*time.Minute)
	if err != nil {
		panic(err)
	}
	_, expiresAt, ok = cookiecodec.DecodeJWE([]cookiecodec.JWEKey{key}, jwe, now)
	fmt.Println("jwe", ok, time.UnixMilli(int64(expiresAt)).UTC())
	// Output:
	// {"session":{"token":"t"},"user":{"name":"Ada & Bob"},"updatedAt":1893553445000,"version":"1"}
	// compact true 2030-01-02 03:09:05 +0000 UTC
	// jwt true 2030-01-02 03:09:05 +0000 UTC
	// jwe true 2030-01-02 03:09:05 +0000 UTC
}
