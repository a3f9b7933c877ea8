package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
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
// For an OAuth provider, accountId is the provider's id of the user and
// the token fields hold what the provider issued (sealed with the keyring
// when the OAuth plugin encrypts tokens); Scope is comma-separated.
type Account struct {
	ID                    string
	AccountID             string
	ProviderID            string
	UserID                string
	Password              *string
	AccessToken           *string
	RefreshToken          *string
	IDToken               *string
	AccessTokenExpiresAt  *time.Time
	RefreshTokenExpiresAt *time.Time
	Scope                 *string
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Record returns the account as a row of TableAccount (nil fields as NULL).
func (a *Account) Record() storage.Record {
	return storage.Record{"id": a.ID, "accountId": a.AccountID, "providerId": a.ProviderID,
		"userId": a.UserID, "password": a.Password, "accessToken": a.AccessToken,
		"refreshToken": a.RefreshToken, "idToken": a.IDToken,
		"accessTokenExpiresAt": a.AccessTokenExpiresAt, "refreshTokenExpiresAt": a.RefreshTokenExpiresAt,
		"scope": a.Scope, "createdAt": a.CreatedAt, "updatedAt": a.UpdatedAt}
}

// AccountFromRecord reads a row of TableAccount.
func AccountFromRecord(r storage.Record) *Account {
	return &Account{
		ID: r.String("id"), AccountID: r.String("accountId"), ProviderID: r.String("providerId"),
		UserID: r.String("userId"), Password: r.StringPtr("password"),
		AccessToken: r.StringPtr("accessToken"), RefreshToken: r.StringPtr("refreshToken"),
		IDToken: r.StringPtr("idToken"), AccessTokenExpiresAt: r.TimePtr("accessTokenExpiresAt"),
		RefreshTokenExpiresAt: r.TimePtr("refreshTokenExpiresAt"), Scope: r.StringPtr("scope"),
		CreatedAt: r.Time("createdAt"), UpdatedAt: r.Time("updatedAt"),
	}
}

// TimeFormat is the JSON date format: ISO 8601 UTC with exactly millisecond
// precision, as JavaScript's Date.toISOString writes it.
const TimeFormat = "2006-01-02T15:04:05.000Z"

// FormatTime renders t in TimeFormat.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Verification is a row of the verification table: a short-lived value
// under an identifier (a reset token, a magic link, a pending second
// factor).
type Verification struct {
	ID         string
	Identifier string
	Value      string
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// ErrVerificationNotFound is returned for a missing, expired or already
// consumed verification value.
var ErrVerificationNotFound = errors.New("plugin: verification value not found")

// AuthResult is what an operation that signs a user in returns: the user,
// the session (nil when none was created, e.g. sign-up awaiting email
// verification) and the cookies to send, exactly those the HTTP route sets.
type AuthResult struct {
	User    *User
	Session *Session
	Cookies []*http.Cookie
	// Existing is set by SignUpEmail when the email was already taken and,
	// to keep that secret, a made-up User was returned instead of an error.
	// Nothing was stored: callers must not run side effects for it.
	Existing bool
}

// Token returns the session token, or "" without a session.
func (r *AuthResult) Token() string {
	if r == nil || r.Session == nil {
		return ""
	}
	return r.Session.Token
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
