package auth

import (
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

var userCore = map[string]bool{"id": true, "name": true, "email": true, "emailVerified": true, "image": true, "createdAt": true, "updatedAt": true}
var sessionCore = map[string]bool{"id": true, "token": true, "userId": true, "expiresAt": true, "createdAt": true, "updatedAt": true, "ipAddress": true, "userAgent": true}

func userFromRecord(r storage.Record) *User {
	u := &User{
		ID: r.String("id"), Name: r.String("name"), Email: r.String("email"),
		EmailVerified: r.Bool("emailVerified"), Image: r.StringPtr("image"),
		CreatedAt: r.Time("createdAt"), UpdatedAt: r.Time("updatedAt"),
	}
	u.Extra = extra(r, userCore)
	return u
}

func userRecord(u *User) storage.Record {
	r := storage.Record{"id": u.ID, "name": u.Name, "email": u.Email, "emailVerified": u.EmailVerified,
		"image": u.Image, "createdAt": u.CreatedAt, "updatedAt": u.UpdatedAt}
	for k, v := range u.Extra {
		r[k] = v
	}
	return r
}

func sessionFromRecord(r storage.Record) *Session {
	s := &Session{
		ID: r.String("id"), Token: r.String("token"), UserID: r.String("userId"),
		ExpiresAt: r.Time("expiresAt"), CreatedAt: r.Time("createdAt"), UpdatedAt: r.Time("updatedAt"),
		IPAddress: r.StringPtr("ipAddress"), UserAgent: r.StringPtr("userAgent"),
	}
	s.Extra = extra(r, sessionCore)
	return s
}

func sessionRecord(s *Session) storage.Record {
	r := storage.Record{"id": s.ID, "token": s.Token, "userId": s.UserID, "expiresAt": s.ExpiresAt,
		"createdAt": s.CreatedAt, "updatedAt": s.UpdatedAt, "ipAddress": s.IPAddress, "userAgent": s.UserAgent}
	for k, v := range s.Extra {
		r[k] = v
	}
	return r
}

func extra(r storage.Record, core map[string]bool) map[string]any {
	var m map[string]any
	for k, v := range r {
		if core[k] {
			continue
		}
		if m == nil {
			m = make(map[string]any)
		}
		m[k] = v
	}
	return m
}

// CoreSchema returns the tables of the core: user, session, account and
// verification, with Better Auth's names.
func CoreSchema() storage.Schema {
	S, B, D := storage.String, storage.Bool, storage.Date
	userRef := &storage.Reference{Table: plugin.TableUser, Field: "id", OnDelete: storage.Cascade}
	return storage.Schema{Tables: []storage.Table{
		{Name: plugin.TableUser, Fields: []storage.Field{
			{Name: "name", Type: S, Required: true},
			{Name: "email", Type: S, Required: true, Unique: true},
			{Name: "emailVerified", Type: B, Required: true},
			{Name: "image", Type: S},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "updatedAt", Type: D, Required: true},
		}},
		{Name: plugin.TableSession, Fields: []storage.Field{
			{Name: "expiresAt", Type: D, Required: true},
			{Name: "token", Type: S, Required: true, Unique: true},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "updatedAt", Type: D, Required: true},
			{Name: "ipAddress", Type: S},
			{Name: "userAgent", Type: S},
			{Name: "userId", Type: S, Required: true, Index: true, References: userRef},
		}},
		{Name: plugin.TableAccount, Fields: []storage.Field{
			{Name: "accountId", Type: S, Required: true},
			{Name: "providerId", Type: S, Required: true},
			{Name: "userId", Type: S, Required: true, Index: true, References: userRef},
			{Name: "accessToken", Type: S},
			{Name: "refreshToken", Type: S},
			{Name: "idToken", Type: S},
			{Name: "accessTokenExpiresAt", Type: D},
			{Name: "refreshTokenExpiresAt", Type: D},
			{Name: "scope", Type: S},
			{Name: "password", Type: S},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "updatedAt", Type: D, Required: true},
		}},
		{Name: plugin.TableVerification, Fields: []storage.Field{
			{Name: "identifier", Type: S, Required: true, Index: true},
			{Name: "value", Type: S, Required: true},
			{Name: "expiresAt", Type: D, Required: true},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "updatedAt", Type: D, Required: true},
		}},
	}}
}
