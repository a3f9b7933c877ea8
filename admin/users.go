package admin

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// The core's user fields and their types.
var coreUserFields = map[string]storage.Field{
	"id":            {Name: "id", Type: storage.String, Required: true},
	"name":          {Name: "name", Type: storage.String, Required: true},
	"email":         {Name: "email", Type: storage.String, Required: true},
	"emailVerified": {Name: "emailVerified", Type: storage.Bool, Required: true},
	"image":         {Name: "image", Type: storage.String},
	"createdAt":     {Name: "createdAt", Type: storage.Date, Required: true},
	"updatedAt":     {Name: "updatedAt", Type: storage.Date, Required: true},
}

// userFields returns the fields of the user table: the core's, this
// plugin's and those of every plugin with endpoints that adds some.
func (p *Plugin) userFields() map[string]storage.Field {
	p.fieldsOnce.Do(func() {
		m := make(map[string]storage.Field, len(coreUserFields)+8)
		for k, f := range coreUserFields {
			m[k] = f
		}
		add := func(s storage.Schema) {
			for _, t := range s.Tables {
				if t.Name != plugin.TableUser {
					continue
				}
				for _, f := range t.Fields {
					if _, ok := m[f.Name]; !ok {
						m[f.Name] = f
					}
				}
			}
		}
		add(p.Schema())
		seen := map[string]bool{p.ID(): true}
		for _, e := range p.h.Endpoints() {
			if e.PluginID == "" || seen[e.PluginID] {
				continue
			}
			seen[e.PluginID] = true
			if ss, ok := p.h.Plugin(e.PluginID).(plugin.SchemaSource); ok {
				add(ss.Schema())
			}
		}
		p.fields = m
	})
	return p.fields
}

// userFromRecord reads a row of the user table as the core does.
func userFromRecord(r storage.Record) *plugin.User {
	u := &plugin.User{ID: r.String("id"), Name: r.String("name"), Email: r.String("email"),
		EmailVerified: r.Bool("emailVerified"), Image: r.StringPtr("image"),
		CreatedAt: r.Time("createdAt"), UpdatedAt: r.Time("updatedAt")}
	for k, v := range r {
		if _, core := coreUserFields[k]; core {
			continue
		}
		if u.Extra == nil {
			u.Extra = map[string]any{}
		}
		u.Extra[k] = v
	}
	return u
}

// findUser returns the user, or the admin routes' 404 USER_NOT_FOUND.
func (p *Plugin) findUser(ctx context.Context, id string) (*plugin.User, error) {
	u, err := p.h.FindUserByID(ctx, id)
	if isUserNotFound(err) {
		return nil, errUserNotFound()
	}
	return u, err
}

// GetUser returns the user with the id (GET /admin/get-user). by is the
// acting user, whose permissions are checked (user:get); nil is a
// trusted caller.
func (p *Plugin) GetUser(ctx context.Context, by *plugin.User, id string) (*plugin.User, error) {
	if err := p.can(by, "user", "get", ErrNotAllowedToGetUser); err != nil {
		return nil, err
	}
	return p.findUser(ctx, id)
}

// CreateUserInput is the input of CreateUser.
type CreateUserInput struct {
	// Email is the new user's address (lower-cased).
	Email string
	// Password, if not empty, is set as the user's password (a credential
	// account). As in Better Auth it has no minimum length; its maximum is
	// the host's (plugin.Settings.MaxPasswordLength), which Better Auth
	// does not check here.
	Password string
	// Name is the user's name.
	Name string
	// Role is the user's roles; nil gives Data["role"] or DefaultRole.
	Role []string
	// Data sets other user fields: image, emailVerified, and fields
	// plugins add (role, banned, …). Unknown keys are ignored.
	Data map[string]any
}

// CreateUser creates a user (POST /admin/create-user). by is the acting
// user, whose permissions are checked (user:create, user:set-role to give
// a role, user:ban to set ban fields); nil is a trusted caller.
func (p *Plugin) CreateUser(ctx context.Context, by *plugin.User, in CreateUserInput) (*plugin.User, error) {
	if err := p.can(by, "user", "create", ErrNotAllowedToCreateUsers); err != nil {
		return nil, err
	}
	data := make(map[string]any, len(in.Data))
	for k, v := range in.Data {
		data[k] = v
	}
	var roles []string
	dataRole, hasDataRole := data[FieldRole]
	delete(data, FieldRole)
	switch {
	case in.Role != nil:
		roles = in.Role
	case hasDataRole:
		var err error
		if roles, err = rolesOf(dataRole); err != nil {
			return nil, err
		}
	}
	if in.Role != nil || hasDataRole {
		if err := p.can(by, "user", "set-role", ErrNotAllowedToChangeUsersRole); err != nil {
			return nil, err
		}
		if err := p.checkRoles(roles); err != nil {
			return nil, err
		}
	}
	if hasAny(data, FieldBanned, FieldBanReason, FieldBanExpires) {
		if err := p.can(by, "user", "ban", ErrNotAllowedToBanUsers); err != nil {
			return nil, err
		}
	}
	email := plugin.NormalizeEmail(in.Email)
	if !plugin.ValidEmail(email) {
		return nil, errInvalidEmail()
	}
	if err := plugin.CheckName(in.Name); err != nil {
		return nil, err
	}
	if in.Password != "" && utf16Len(in.Password) > p.h.Settings().MaxPasswordLength {
		return nil, errPasswordTooLong()
	}
	now := p.h.Now()
	u := &plugin.User{ID: plugin.NewID(), Name: in.Name, Email: email, CreatedAt: now, UpdatedAt: now, Extra: map[string]any{}}
	fields := p.userFields()
	for _, k := range sortedKeys(data) {
		f, ok := fields[k]
		if !ok || k == "id" || k == "email" || k == "name" {
			continue // not a field, or set otherwise
		}
		v, err := fieldValue(f, data[k], "body.data."+k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "image":
			img, _ := v.(string)
			if v != nil {
				if err := checkImage(img); err != nil {
					return nil, err
				}
				u.Image = &img
			}
		case "emailVerified":
			u.EmailVerified, _ = v.(bool)
		case "createdAt":
			u.CreatedAt, _ = v.(time.Time)
		case "updatedAt":
			u.UpdatedAt, _ = v.(time.Time)
		default:
			u.Extra[k] = v
		}
	}
	if in.Role != nil || hasDataRole {
		u.Extra[FieldRole] = strings.Join(roles, ",")
	}
	if _, err := p.h.FindUserByEmail(ctx, email); err == nil {
		return nil, errEmailTaken()
	} else if !isUserNotFound(err) {
		return nil, err
	}
	var acc *plugin.Account
	if in.Password != "" {
		hash, err := p.h.HashPassword(ctx, in.Password)
		if err != nil {
			return nil, err
		}
		acc = &plugin.Account{ID: plugin.NewID(), AccountID: u.ID, ProviderID: plugin.CredentialProvider, UserID: u.ID,
			Password: &hash, CreatedAt: now, UpdatedAt: now}
	}
	if err := p.h.CreateUser(ctx, u, acc); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil, errEmailTaken()
		}
		return nil, err
	}
	return p.findUser(ctx, u.ID)
}

// UpdateUser sets fields of a user (POST /admin/update-user): name,
// email, emailVerified, image and the fields plugins add; unknown keys
// are ignored. Setting banned true ends the user's sessions. by is the
// acting user, whose permissions are checked (user:update, and
// user:set-role, user:ban, user:set-email, user:set-phone for those
// fields); nil is a trusted caller.
func (p *Plugin) UpdateUser(ctx context.Context, by *plugin.User, userID string, data map[string]any) (*plugin.User, error) {
	if err := p.can(by, "user", "update", ErrNotAllowedToUpdateUsers); err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, ErrNoDataToUpdate
	}
	if _, ok := data["password"]; ok {
		return nil, ErrPasswordCannotBeUpdatedViaUpdateUser
	}
	if _, ok := data["id"]; ok {
		return nil, ErrUserIDCannotBeUpdated
	}
	set := storage.Record{}
	if v, ok := data[FieldRole]; ok {
		if err := p.can(by, "user", "set-role", ErrNotAllowedToChangeUsersRole); err != nil {
			return nil, err
		}
		roles, err := rolesOf(v)
		if err != nil {
			return nil, err
		}
		if err := p.checkRoles(roles); err != nil {
			return nil, err
		}
		set[FieldRole] = strings.Join(roles, ",")
	}
	banning := data[FieldBanned] == true
	if hasAny(data, FieldBanned, FieldBanReason, FieldBanExpires) {
		if err := p.can(by, "user", "ban", ErrNotAllowedToBanUsers); err != nil {
			return nil, err
		}
		if banning && by != nil && userID == by.ID {
			return nil, ErrYouCannotBanYourself
		}
	}
	if hasAny(data, "email", "emailVerified") {
		if err := p.can(by, "user", "set-email", ErrNotAllowedToSetUsersEmail); err != nil {
			return nil, err
		}
		if v, ok := data["email"]; ok {
			s, _ := v.(string)
			email := plugin.NormalizeEmail(s)
			if !plugin.ValidEmail(email) {
				return nil, errInvalidEmail()
			}
			other, err := p.h.FindUserByEmail(ctx, email)
			switch {
			case err == nil && other.ID != userID:
				return nil, errEmailTaken()
			case err != nil && !isUserNotFound(err):
				return nil, err
			}
			set["email"] = email
		}
	}
	if hasAny(data, "phoneNumber", "phoneNumberVerified") {
		if err := p.can(by, "user", "set-phone", ErrNotAllowedToSetUsersPhoneNumber); err != nil {
			return nil, err
		}
	}
	fields := p.userFields()
	for _, k := range sortedKeys(data) {
		f, ok := fields[k]
		if _, done := set[k]; !ok || done {
			continue
		}
		v, err := fieldValue(f, data[k], "body.data."+k)
		if err != nil {
			return nil, err
		}
		switch k {
		case "name":
			if err := plugin.CheckName(v.(string)); err != nil {
				return nil, err
			}
		case "image":
			if s, ok := v.(string); ok {
				if err := checkImage(s); err != nil {
					return nil, err
				}
			}
		}
		set[k] = v
	}
	if _, err := p.findUser(ctx, userID); err != nil {
		return nil, err
	}
	if len(set) == 0 { // only keys that are no field: the user is touched
		set["updatedAt"] = p.h.Now()
	}
	// Through the host, so that the plugins' BeforeUserUpdate hooks check
	// and normalise what they own (a username), as Better Auth's
	// database hooks do.
	u, err := p.h.UpdateUser(ctx, userID, set)
	switch {
	case errors.Is(err, storage.ErrConflict): // a unique field no plugin claims: the email
		return nil, errEmailTaken()
	case isUserNotFound(err):
		return nil, errUserNotFound()
	case err != nil:
		return nil, err
	}
	if banning {
		if err := p.endSessions(ctx, userID); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// SetRole sets the user's roles (POST /admin/set-role), stored
// comma-separated. by is the acting user, whose permissions are checked
// (user:set-role); nil is a trusted caller.
func (p *Plugin) SetRole(ctx context.Context, by *plugin.User, userID string, roles []string) (*plugin.User, error) {
	if err := p.can(by, "user", "set-role", ErrNotAllowedToChangeUsersRole); err != nil {
		return nil, err
	}
	if err := p.checkRoles(roles); err != nil {
		return nil, err
	}
	if _, err := p.findUser(ctx, userID); err != nil {
		return nil, err
	}
	return p.setFields(ctx, userID, map[string]any{FieldRole: strings.Join(roles, ",")})
}

// setFields sets plugin fields of the user through the host.
func (p *Plugin) setFields(ctx context.Context, userID string, fields map[string]any) (*plugin.User, error) {
	u, err := p.h.UpdateUser(ctx, userID, fields)
	if isUserNotFound(err) {
		return nil, errUserNotFound()
	}
	return u, err
}

// BanInput is the input of BanUser.
type BanInput struct {
	// Reason is the ban's reason; "" gives Options.DefaultBanReason.
	Reason string
	// ExpiresIn is the ban's length; 0 gives Options.DefaultBanExpiresIn
	// (0 there: the ban never ends).
	ExpiresIn time.Duration
}

// BanUser bans the user (POST /admin/ban-user): their sessions end at
// once, the impersonation sessions they opened too, and their sign-ins
// are refused (403 BANNED_USER) until the ban ends. by is the acting
// user, whose permissions are checked (user:ban), and who may not ban
// themself; nil is a trusted caller.
func (p *Plugin) BanUser(ctx context.Context, by *plugin.User, userID string, in BanInput) (*plugin.User, error) {
	if err := p.can(by, "user", "ban", ErrNotAllowedToBanUsers); err != nil {
		return nil, err
	}
	if _, err := p.findUser(ctx, userID); err != nil {
		return nil, err
	}
	if by != nil && userID == by.ID {
		return nil, ErrYouCannotBanYourself
	}
	reason := in.Reason
	if reason == "" {
		reason = p.opts.DefaultBanReason
	}
	var expires any
	switch {
	case in.ExpiresIn != 0:
		expires = p.h.Now().Add(in.ExpiresIn)
	case p.opts.DefaultBanExpiresIn > 0:
		expires = p.h.Now().Add(p.opts.DefaultBanExpiresIn)
	}
	u, err := p.setFields(ctx, userID, map[string]any{FieldBanned: true, FieldBanReason: reason, FieldBanExpires: expires})
	if err != nil {
		return nil, err
	}
	if err := p.endSessions(ctx, userID); err != nil {
		return nil, err
	}
	return u, nil
}

// endSessions deletes the user's sessions and the impersonation sessions
// they opened.
func (p *Plugin) endSessions(ctx context.Context, userID string) error {
	db := p.h.DB()
	if _, err := db.Delete(ctx, plugin.TableSession, storage.W("userId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	if _, err := db.Delete(ctx, plugin.TableSession, storage.W(FieldImpersonatedBy, userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}

// UnbanUser lifts the user's ban (POST /admin/unban-user). by is the
// acting user, whose permissions are checked (user:ban); nil is a trusted
// caller.
func (p *Plugin) UnbanUser(ctx context.Context, by *plugin.User, userID string) (*plugin.User, error) {
	if err := p.can(by, "user", "ban", ErrNotAllowedToBanUsers); err != nil {
		return nil, err
	}
	if _, err := p.findUser(ctx, userID); err != nil {
		return nil, err
	}
	return p.setFields(ctx, userID, map[string]any{FieldBanned: false, FieldBanReason: nil, FieldBanExpires: nil})
}

// RemoveUser erases the user with everything every plugin keeps of them
// (POST /admin/remove-user). by is the acting user, whose permissions are
// checked (user:delete), and who may not remove themself; nil is a
// trusted caller.
func (p *Plugin) RemoveUser(ctx context.Context, by *plugin.User, userID string) error {
	if err := p.can(by, "user", "delete", ErrNotAllowedToDeleteUsers); err != nil {
		return err
	}
	if by != nil && userID == by.ID {
		return ErrYouCannotRemoveYourself
	}
	if _, err := p.findUser(ctx, userID); err != nil {
		return err
	}
	err := p.h.DeleteUser(ctx, userID)
	if isUserNotFound(err) {
		return errUserNotFound()
	}
	return err
}

// SetUserPassword sets the user's password (POST
// /admin/set-user-password), creating their credential account if they
// have none; their reset links stop working, their sessions are kept.
// by is the acting user, whose permissions are checked
// (user:set-password); nil is a trusted caller. As in Better Auth, the
// length (the host's bounds: PASSWORD_TOO_SHORT, PASSWORD_TOO_LONG) is
// checked before the user is looked up (404 USER_NOT_FOUND).
func (p *Plugin) SetUserPassword(ctx context.Context, by *plugin.User, userID, newPassword string) error {
	if err := p.can(by, "user", "set-password", ErrNotAllowedToSetUsersPassword); err != nil {
		return err
	}
	s := p.h.Settings()
	switch n := utf16Len(newPassword); {
	case n < s.MinPasswordLength:
		return errPasswordTooShort()
	case n > s.MaxPasswordLength:
		return errPasswordTooLong()
	}
	if _, err := p.findUser(ctx, userID); err != nil {
		return err
	}
	err := p.h.SetPassword(ctx, userID, newPassword, false)
	if errors.Is(err, storage.ErrConstraint) { // removed meanwhile
		return errUserNotFound()
	}
	return err
}

// rolesOf reads a role value: a string or a list of strings; anything
// else is INVALID_ROLE_TYPE.
func rolesOf(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, ErrInvalidRoleType
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, ErrInvalidRoleType
}

func hasAny(m map[string]any, keys ...string) bool {
	for _, k := range keys {
		if _, ok := m[k]; ok {
			return true
		}
	}
	return false
}

// fieldValue converts a JSON value to the stored form of field f, or
// answers 400 VALIDATION_ERROR naming path.
func fieldValue(f storage.Field, v any, path string) (any, error) {
	if v == nil {
		if f.Required {
			return nil, plugin.InvalidInput(path, f.Type.String(), "null")
		}
		return nil, nil
	}
	want := map[storage.FieldType]string{storage.String: "string", storage.Bool: "boolean", storage.Int: "number", storage.Date: "date"}[f.Type]
	switch f.Type {
	case storage.String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case storage.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case storage.Int:
		if n, ok := toInt(v); ok {
			return n, nil
		}
	case storage.Date:
		if t, ok := toTime(v); ok {
			return t, nil
		}
	}
	return nil, plugin.InvalidInput(path, want, plugin.JSONKind(v))
}

// toInt reads an integral JSON number.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

// toTime reads a date: an ISO 8601 string (as JSON carries dates) or
// milliseconds since the epoch, between the years 1 and 9999.
func toTime(v any) (time.Time, bool) {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, x); err != nil {
			return time.Time{}, false
		}
	default:
		ms, ok := toInt(v)
		if !ok || ms < -62135596800000 || ms > 253402300799999 {
			return time.Time{}, false
		}
		t = time.UnixMilli(ms)
	}
	t = t.UTC().Truncate(time.Millisecond)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// checkImage applies the core's rule for images: at most 2048 characters
// and no control character.
func checkImage(img string) error {
	if len(img) > 2048 {
		return errInvalidImage()
	}
	for _, r := range img {
		if unicode.IsControl(r) {
			return errInvalidImage()
		}
	}
	return nil
}

// utf16Len is the length of s in UTF-16 code units, as JavaScript counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// jsNumber parses s as JavaScript's Number(s) does for the forms a query
// string carries: "" and spaces are 0; decimal, exponent and 0x/0o/0b
// forms; anything else NaN.
func jsNumber(s string) float64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	if len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
		n, err := strconv.ParseUint(s[2:], map[byte]int{'x': 16, 'X': 16, 'o': 8, 'O': 8, 'b': 2, 'B': 2}[s[1]], 64)
		if err != nil {
			return math.NaN()
		}
		return float64(n)
	}
	switch strings.TrimLeft(s, "+-") {
	case "Infinity":
		if s[0] == '-' {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789.eE+-", r) {
			return math.NaN()
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}
