package auth

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// The logical table names of the core.
const (
	TableUser         = "user"
	TableSession      = "session"
	TableAccount      = "account"
	TableVerification = "verification"
)

// CredentialProvider is the account providerId of email and password.
const CredentialProvider = "credential"

// User is a user. Extra holds the fields plugins add to the user table (for
// example twoFactorEnabled); they are part of the JSON form.
type User struct {
	ID            string
	Name          string
	Email         string
	EmailVerified bool
	Image         *string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Extra         map[string]any
}

// Session is a session. The token is the bearer secret behind the session
// cookie. Extra holds plugin fields (for example activeOrganizationId).
type Session struct {
	ID        string
	Token     string
	UserID    string
	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	IPAddress *string
	UserAgent *string
	Extra     map[string]any
}

// SessionData is a session together with its user, the shape of get-session.
type SessionData struct {
	Session *Session `json:"session"`
	User    *User    `json:"user"`
}

// Account links a user to a way of signing in. For email and password the
// providerId is "credential", accountId the user id and Password the hash.
type Account struct {
	ID         string
	AccountID  string
	ProviderID string
	UserID     string
	Password   *string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TimeFormat is the JSON date format: ISO 8601 UTC with exactly millisecond
// precision, as JavaScript's Date.toISOString writes it.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

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

func (u *User) record() storage.Record {
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

func (s *Session) record() storage.Record {
	r := storage.Record{"id": s.ID, "token": s.Token, "userId": s.UserID, "expiresAt": s.ExpiresAt,
		"createdAt": s.CreatedAt, "updatedAt": s.UpdatedAt, "ipAddress": s.IPAddress, "userAgent": s.UserAgent}
	for k, v := range s.Extra {
		r[k] = v
	}
	return r
}

func accountFromRecord(r storage.Record) *Account {
	return &Account{
		ID: r.String("id"), AccountID: r.String("accountId"), ProviderID: r.String("providerId"),
		UserID: r.String("userId"), Password: r.StringPtr("password"),
		CreatedAt: r.Time("createdAt"), UpdatedAt: r.Time("updatedAt"),
	}
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

// jsonObject writes a JSON object with keys in the given order, then the
// extra keys sorted. Dates become TimeFormat strings.
type jsonObject struct {
	buf   bytes.Buffer
	first bool
}

func (o *jsonObject) key(k string) {
	if o.first {
		o.buf.WriteByte(',')
	}
	o.first = true
	b, _ := json.Marshal(k)
	o.buf.Write(b)
	o.buf.WriteByte(':')
}

func (o *jsonObject) add(k string, v any) {
	o.key(k)
	writeJSONValue(&o.buf, v)
}

func (o *jsonObject) addExtra(m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o.add(k, m[k])
	}
}

func writeJSONValue(buf *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		buf.WriteString("null")
	case time.Time:
		buf.WriteByte('"')
		buf.WriteString(FormatTime(x))
		buf.WriteByte('"')
	case *time.Time:
		if x == nil {
			buf.WriteString("null")
			return
		}
		writeJSONValue(buf, *x)
	case *string:
		if x == nil {
			buf.WriteString("null")
			return
		}
		writeJSONValue(buf, *x)
	case bool:
		if x {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	default:
		b, err := json.Marshal(x)
		if err != nil {
			buf.WriteString("null")
			return
		}
		buf.Write(b)
	}
}

// MarshalJSON renders the user as Better Auth does: id, name, email,
// emailVerified, image, createdAt, updatedAt, then plugin fields.
func (u *User) MarshalJSON() ([]byte, error) {
	var o jsonObject
	o.buf.WriteByte('{')
	o.add("id", u.ID)
	o.add("name", u.Name)
	o.add("email", u.Email)
	o.add("emailVerified", u.EmailVerified)
	o.add("image", u.Image)
	o.add("createdAt", u.CreatedAt)
	o.add("updatedAt", u.UpdatedAt)
	o.addExtra(u.Extra)
	o.buf.WriteByte('}')
	return o.buf.Bytes(), nil
}

// MarshalJSON renders the session as Better Auth does, token included.
func (s *Session) MarshalJSON() ([]byte, error) {
	var o jsonObject
	o.buf.WriteByte('{')
	o.add("id", s.ID)
	o.add("expiresAt", s.ExpiresAt)
	o.add("token", s.Token)
	o.add("createdAt", s.CreatedAt)
	o.add("updatedAt", s.UpdatedAt)
	o.add("ipAddress", s.IPAddress)
	o.add("userAgent", s.UserAgent)
	o.add("userId", s.UserID)
	o.addExtra(s.Extra)
	o.buf.WriteByte('}')
	return o.buf.Bytes(), nil
}

// CoreSchema returns the tables of the core: user, session, account and
// verification, with Better Auth's names.
func CoreSchema() storage.Schema {
	S, B, D := storage.String, storage.Bool, storage.Date
	userRef := &storage.Reference{Table: TableUser, Field: "id", OnDelete: storage.Cascade}
	return storage.Schema{Tables: []storage.Table{
		{Name: TableUser, Fields: []storage.Field{
			{Name: "name", Type: S, Required: true},
			{Name: "email", Type: S, Required: true, Unique: true},
			{Name: "emailVerified", Type: B, Required: true},
			{Name: "image", Type: S},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "updatedAt", Type: D, Required: true},
		}},
		{Name: TableSession, Fields: []storage.Field{
			{Name: "expiresAt", Type: D, Required: true},
			{Name: "token", Type: S, Required: true, Unique: true},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "updatedAt", Type: D, Required: true},
			{Name: "ipAddress", Type: S},
			{Name: "userAgent", Type: S},
			{Name: "userId", Type: S, Required: true, Index: true, References: userRef},
		}},
		{Name: TableAccount, Fields: []storage.Field{
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
		{Name: TableVerification, Fields: []storage.Field{
			{Name: "identifier", Type: S, Required: true, Index: true},
			{Name: "value", Type: S, Required: true},
			{Name: "expiresAt", Type: D, Required: true},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "updatedAt", Type: D, Required: true},
		}},
	}}
}
