package verify

import (
	"context"
	"strings"
	"time"
)

// Claims are the claims of a verified token. The well-known ones are
// decoded into fields; Raw holds every claim as decoded by encoding/json
// (numbers are float64).
type Claims struct {
	// Subject is "sub": the user id.
	Subject string
	// Email is "email" ("" if absent or not a string).
	Email string
	// Role is "role" ("" if absent or not a string). Better Auth's admin
	// plugin stores several roles comma-separated; see HasRole.
	Role string
	// SessionID is "sid", the id of the session the token was minted for
	// ("" if absent).
	SessionID string
	// Issuer is "iss".
	Issuer string
	// Audience is "aud" (a single string becomes a one-element slice).
	Audience []string
	// IssuedAt, ExpiresAt and NotBefore are "iat", "exp" and "nbf" (zero
	// when absent; exp is always present in a verified token).
	IssuedAt, ExpiresAt, NotBefore time.Time
	// KeyID is the kid of the key that signed the token.
	KeyID string
	// Raw holds all claims.
	Raw map[string]any
	// JSON is the payload as signed: a JSON object holding the same
	// claims as Raw. It is shared, not copied: do not modify it.
	JSON []byte
}

// HasRole reports whether the token's role is one of roles. A role claim of
// several comma-separated roles ("admin,user") matches each of them.
func (c *Claims) HasRole(roles ...string) bool {
	if c == nil || c.Role == "" {
		return false
	}
	for part := range strings.SplitSeq(c.Role, ",") {
		part = strings.TrimSpace(part)
		for _, r := range roles {
			if part != "" && part == r {
				return true
			}
		}
	}
	return false
}

type claimsKey struct{}

// WithClaims returns ctx carrying c, as the middleware does (useful to test
// handlers that read ClaimsFrom).
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims the middleware put in ctx, or nil.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}
