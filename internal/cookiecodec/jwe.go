package cookiecodec

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/managarten/mana-auth/internal/hs256"
)

const (
	// jweClockTolerance is the clock skew jose's jwtDecrypt allows Better
	// Auth's JWE cache (for nbf and exp; the caller compares exp with the
	// time strictly, as Better Auth's get-session does).
	jweClockTolerance = 15 * time.Second
	// jweSalt and jweInfo derive the JWE key (crypto/jwt.ts).
	jweSalt = "better-auth-session"
	jweInfo = "BetterAuth.js Generated Encryption Key"
)

// JWEKey is a cookie-cache JWE key and its kid.
type JWEKey struct {
	key []byte
	kid string
}

// NewJWEKey derives Better Auth's JWE key from a secret:
// HKDF-SHA256(secret, salt "better-auth-session", info "BetterAuth.js
// Generated Encryption Key", 64 bytes), and its kid, the RFC 7638 SHA-256
// thumbprint of the key as an "oct" JWK.
func NewJWEKey(secret []byte) JWEKey {
	key, err := hkdf.Key(sha256.New, secret, []byte(jweSalt), jweInfo, 64)
	if err != nil {
		panic("cookiecodec: HKDF-SHA256 refused 64 bytes: " + err.Error()) // cannot happen: the limit is 8160
	}
	sum := sha256.Sum256([]byte(`{"k":"` + base64.RawURLEncoding.EncodeToString(key) + `","kty":"oct"}`))
	return JWEKey{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// EncodeJWE encrypts the payload as Better Auth's symmetricEncodeJWT: a
// compact JWE, alg "dir", enc "A256CBC-HS512", kid, with iat, exp
// (hs256.Claims) and a random UUID jti appended.
func EncodeJWE(k JWEKey, payload []byte, now time.Time, ttl time.Duration) (string, error) {
	e, err := jose.NewEncrypter(jose.A256CBC_HS512, jose.Recipient{Algorithm: jose.DIRECT, Key: k.key, KeyID: k.kid}, nil)
	if err != nil {
		return "", err
	}
	claims := hs256.AppendMembers(hs256.Claims(payload, now, ttl), fmt.Sprintf(`"jti":"%s"`, newUUID()))
	obj, err := e.Encrypt(claims)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// DecodeJWE decrypts a cache JWE as Better Auth's symmetricDecodeJWT does
// with every secret it knows (keys, the current one's first): a JWE with a
// kid opens only under the key it names; one without is tried under each.
// The claims are held to hs256.CheckClaims with jose's 15 s of leeway.
// It returns the claims and exp in ms.
func DecodeJWE(keys []JWEKey, token string, now time.Time) (payload []byte, expiresAt float64, ok bool) {
	obj, err := jose.ParseEncryptedCompact(token, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A256CBC_HS512})
	if err != nil {
		return nil, 0, false
	}
	for _, k := range keys {
		if obj.Header.KeyID != "" && obj.Header.KeyID != k.kid {
			continue
		}
		claims, err := obj.Decrypt(k.key)
		if err != nil {
			if obj.Header.KeyID != "" {
				return nil, 0, false
			}
			continue
		}
		exp, err := hs256.CheckClaims(claims, now, jweClockTolerance)
		if err != nil {
			return nil, 0, false
		}
		return claims, exp * 1000, true
	}
	return nil, 0, false
}

// newUUID returns a random (version 4) UUID, as crypto.randomUUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
