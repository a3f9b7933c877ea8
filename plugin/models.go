package plugin

import (
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
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

// The JSON forms of User and Session are appended to a buffer directly
// (AppendJSON), keys and the common values without encoding/json: a
// get-session answer is built without reflection. The output is exactly
// what encoding/json would write for the same values (HTML-escaped strings,
// extra keys sorted).

// appendJSONString appends s as encoding/json writes it. Strings of
// printable ASCII that need no escape (ids, emails, tokens, dates) are
// copied; the rest go through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendKey appends `,"k":`.
func appendKey(b []byte, k string) []byte {
	b = append(b, ',')
	b = appendJSONString(b, k)
	return append(b, ':')
}

func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeFormat)
	return append(b, '"')
}

func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, x)
	case time.Time:
		return appendJSONTime(b, x)
	case *time.Time:
		if x == nil {
			return append(b, "null"...)
		}
		return appendJSONTime(b, *x)
	case *string:
		if x == nil {
			return append(b, "null"...)
		}
		return appendJSONString(b, *x)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case *bool:
		if x == nil {
			return append(b, "null"...)
		}
		return appendJSONValue(b, *x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	default:
		q, err := json.Marshal(x)
		if err != nil {
			return append(b, "null"...)
		}
		return append(b, q...)
	}
}

// appendExtra appends the extra fields, sorted by key.
func appendExtra(b []byte, m map[string]any) []byte {
	switch len(m) {
	case 0:
		return b
	case 1:
		for k, v := range m {
			b = appendKey(b, k)
			b = appendJSONValue(b, v)
		}
		return b
	}
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = appendKey(b, k)
		b = appendJSONValue(b, m[k])
	}
	return b
}

// AppendJSON appends the user's JSON form (MarshalJSON) to b.
func (u *User) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, u.ID)
	b = append(b, `,"name":`...)
	b = appendJSONString(b, u.Name)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, u.Email)
	b = append(b, `,"emailVerified":`...)
	b = appendJSONValue(b, u.EmailVerified)
	b = append(b, `,"image":`...)
	b = appendJSONValue(b, u.Image)
	b = append(b, `,"createdAt":`...)
	b = appendJSONTime(b, u.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONTime(b, u.UpdatedAt)
	b = appendExtra(b, u.Extra)
	return append(b, '}')
}

// MarshalJSON renders the user as Better Auth does: id, name, email,
// emailVerified, image, createdAt, updatedAt, then plugin fields.
func (u *User) MarshalJSON() ([]byte, error) {
	return u.AppendJSON(make([]byte, 0, 256)), nil
}

// AppendJSON appends the session's JSON form (MarshalJSON) to b.
func (s *Session) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"expiresAt":`...)
	b = appendJSONTime(b, s.ExpiresAt)
	b = append(b, `,"token":`...)
	b = appendJSONString(b, s.Token)
	b = append(b, `,"createdAt":`...)
	b = appendJSONTime(b, s.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendJSONTime(b, s.UpdatedAt)
	b = append(b, `,"ipAddress":`...)
	b = appendJSONValue(b, s.IPAddress)
	b = append(b, `,"userAgent":`...)
	b = appendJSONValue(b, s.UserAgent)
	b = append(b, `,"userId":`...)
	b = appendJSONString(b, s.UserID)
	b = appendExtra(b, s.Extra)
	return append(b, '}')
}

// MarshalJSON renders the session as Better Auth does, token included.
func (s *Session) MarshalJSON() ([]byte, error) {
	return s.AppendJSON(make([]byte, 0, 320)), nil
}

// AppendJSON appends the get-session form {"session":…,"user":…} to b,
// exactly as encoding/json writes sd (null for a nil member).
func (sd *SessionData) AppendJSON(b []byte) []byte {
	b = append(b, `{"session":`...)
	if sd.Session == nil {
		b = append(b, "null"...)
	} else {
		b = sd.Session.AppendJSON(b)
	}
	b = append(b, `,"user":`...)
	if sd.User == nil {
		b = append(b, "null"...)
	} else {
		b = sd.User.AppendJSON(b)
	}
	return append(b, '}')
}
