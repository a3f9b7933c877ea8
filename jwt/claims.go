package jwt

import (
	"context"
	"encoding/json"

	"github.com/managarten/mana-auth/plugin"
)

// DefaultRole is the role claim of users without a "role" field.
const DefaultRole = "user"

// defaultClaims is the default payload: the minimal set a resource server
// needs. Field order is the order in the token.
type defaultClaims struct {
	Sub   string `json:"sub"`
	Email string `json:"email"`
	Role  string `json:"role"`
	Sid   string `json:"sid"`
	Iat   int64  `json:"iat"`
	Exp   int64  `json:"exp"`
	Iss   string `json:"iss"`
	Aud   string `json:"aud"`
}

// userRole returns the user's "role" field (a plugin field such as the
// admin plugin's), or DefaultRole.
func userRole(u *plugin.User) string {
	if r, ok := u.Extra["role"].(string); ok && r != "" {
		return r
	}
	if r, ok := u.Extra["role"].(*string); ok && r != nil && *r != "" {
		return *r
	}
	return DefaultRole
}

// BetterAuthPayload is a [Options.Payload] function giving Better Auth's
// default payload: the whole user object as get-session returns it (id,
// name, email, emailVerified, image, createdAt, updatedAt as ISO-8601
// strings with milliseconds, plus plugin fields). The plugin then adds sub
// (the user id), iat, exp, iss and aud, as Better Auth does. Use it when
// consumers of the token expect Better Auth's claims:
//
//	jwt.New(jwt.Options{Payload: jwt.BetterAuthPayload})
func BetterAuthPayload(_ context.Context, sd *plugin.SessionData) (map[string]any, error) {
	b, err := json.Marshal(sd.User)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
