package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

var (
	errJWTInvalid = errors.New("invalid token")
	errJWTExpired = errors.New("token expired")
)

// signHS256 makes a compact HS256 JWT of claims with iat and exp, as Better
// Auth's signJWT does (header {"alg":"HS256"}, key = the UTF-8 secret).
func signHS256(secret []byte, claims map[string]any, now time.Time, ttl time.Duration) string {
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(ttl).Unix()
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	input := enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + enc.EncodeToString(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + enc.EncodeToString(m.Sum(nil))
}

// verifyHS256 checks a compact HS256 JWT (alg must be exactly HS256) and
// its exp, and returns the claims.
func verifyHS256(secret []byte, token string, now time.Time) (map[string]any, error) {
	if len(token) > 4096 {
		return nil, errJWTInvalid
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errJWTInvalid
	}
	enc := base64.RawURLEncoding.Strict() // one spelling per token
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return nil, errJWTInvalid
	}
	var hdr struct {
		Alg  string `json:"alg"`
		Crit []any  `json:"crit"`
	}
	if json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "HS256" || hdr.Crit != nil {
		return nil, errJWTInvalid
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return nil, errJWTInvalid
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return nil, errJWTInvalid
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return nil, errJWTInvalid
	}
	var claims map[string]any
	if json.Unmarshal(pb, &claims) != nil {
		return nil, errJWTInvalid
	}
	if exp, ok := claims["exp"].(float64); ok {
		if float64(now.Unix()) >= exp {
			return nil, errJWTExpired
		}
	}
	return claims, nil
}
