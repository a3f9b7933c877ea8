package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// The fields the plugin adds to the user and session tables, with Better
// Auth's names.
const (
	FieldRole           = "role"
	FieldBanned         = "banned"
	FieldBanReason      = "banReason"
	FieldBanExpires     = "banExpires"
	FieldImpersonatedBy = "impersonatedBy"
)

// CookieAdminSession is the name (before the prefix) of the signed cookie
// that keeps the admin's session token during an impersonation.
const CookieAdminSession = "admin_session"

// DefaultBannedUserMessage is Better Auth's answer to a banned user's
// sign-in.
const DefaultBannedUserMessage = "You have been banned from this application. Please contact support if you believe this is an error."

// Options configures the plugin: Better Auth's admin options. The zero
// value is Better Auth's defaults.
type Options struct {
	// DefaultRole is the role of new users, and of users without one.
	// Default "user".
	DefaultRole string
	// AdminRoles are the roles that make a user an admin, whom other
	// admins may not impersonate (unless AllowImpersonatingAdmins or the
	// user:impersonate-admins permission). Default ["admin"]. Each must be
	// a role of Roles.
	AdminRoles []string
	// AdminUserIDs are users who pass every permission check whatever
	// their role.
	AdminUserIDs []string
	// Roles are the roles and what each grants. Default DefaultRoles():
	// "admin" and "user". With Roles set, a role given to a user must be
	// one of them.
	Roles map[string]Role
	// ImpersonationSessionDuration is the lifetime of an impersonation
	// session. Default 1 hour.
	ImpersonationSessionDuration time.Duration
	// DefaultBanReason is the reason of a ban given none. Default
	// "No reason".
	DefaultBanReason string
	// DefaultBanExpiresIn is the length of a ban given none. Default 0: a
	// ban never ends.
	DefaultBanExpiresIn time.Duration
	// BannedUserMessage is the message of a banned user's refused sign-in
	// (403 BANNED_USER). Default DefaultBannedUserMessage.
	BannedUserMessage string
	// AllowImpersonatingAdmins lets admins impersonate admins (Better
	// Auth's deprecated allowImpersonatingAdmins; prefer granting
	// user:impersonate-admins to a role).
	AllowImpersonatingAdmins bool
}

// Plugin is the admin plugin.
type Plugin struct {
	opts       Options
	customRole bool // Options.Roles was set: roles given must be among them
	adminRoles []string
	h          plugin.Host

	fieldsOnce sync.Once
	fields     map[string]storage.Field // the user table's fields
}

// New returns the plugin, or an error naming what is wrong with opts.
func New(opts Options) (*Plugin, error) {
	p := &Plugin{customRole: opts.Roles != nil}
	if opts.DefaultRole == "" {
		opts.DefaultRole = "user"
	}
	if opts.Roles == nil {
		opts.Roles = DefaultRoles()
	} else {
		roles := make(map[string]Role, len(opts.Roles))
		for name, r := range opts.Roles {
			if name == "" || strings.Contains(name, ",") {
				return nil, fmt.Errorf("admin: invalid role name %q (a role name is not empty and has no comma)", name)
			}
			roles[name] = NewRole(r.grants)
		}
		opts.Roles = roles
	}
	if opts.AdminRoles != nil {
		var invalid []string
		for _, r := range opts.AdminRoles {
			if !slices.ContainsFunc(sortedKeys(opts.Roles), func(k string) bool { return strings.EqualFold(k, r) }) {
				invalid = append(invalid, r)
			}
		}
		if len(invalid) > 0 {
			return nil, fmt.Errorf("admin: invalid admin roles: %s. Admin roles must be defined in the 'roles' configuration", strings.Join(invalid, ", "))
		}
	} else {
		opts.AdminRoles = []string{"admin"}
	}
	for _, r := range opts.AdminRoles {
		p.adminRoles = append(p.adminRoles, strings.TrimSpace(r))
	}
	opts.AdminUserIDs = slices.Clone(opts.AdminUserIDs)
	switch {
	case opts.ImpersonationSessionDuration < 0:
		return nil, errors.New("admin: ImpersonationSessionDuration must not be negative")
	case opts.ImpersonationSessionDuration == 0:
		opts.ImpersonationSessionDuration = time.Hour
	case opts.ImpersonationSessionDuration < time.Second:
		return nil, errors.New("admin: ImpersonationSessionDuration must be at least a second")
	}
	if opts.DefaultBanExpiresIn < 0 {
		return nil, errors.New("admin: DefaultBanExpiresIn must not be negative")
	}
	if opts.DefaultBanReason == "" {
		opts.DefaultBanReason = "No reason"
	}
	if opts.BannedUserMessage == "" {
		opts.BannedUserMessage = DefaultBannedUserMessage
	}
	for _, s := range []string{opts.DefaultRole, opts.DefaultBanReason} {
		if !storage.Storable(s) {
			return nil, errors.New("admin: DefaultRole and DefaultBanReason must be valid UTF-8 without NUL")
		}
	}
	p.opts = opts
	return p, nil
}

// ID implements plugin.Plugin.
func (p *Plugin) ID() string { return "admin" }

// Init implements plugin.Initializer.
func (p *Plugin) Init(h plugin.Host) error {
	p.h = h
	return nil
}

// Schema implements plugin.SchemaSource: user.role, banned, banReason,
// banExpires and session.impersonatedBy, nullable, as Better Auth's
// migration creates them.
func (p *Plugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{
		{Name: plugin.TableUser, Fields: []storage.Field{
			{Name: FieldRole, Type: storage.String},
			{Name: FieldBanned, Type: storage.Bool},
			{Name: FieldBanReason, Type: storage.String},
			{Name: FieldBanExpires, Type: storage.Date},
		}},
		{Name: plugin.TableSession, Fields: []storage.Field{
			{Name: FieldImpersonatedBy, Type: storage.String},
		}},
	}}
}

// Hooks implements plugin.HookSource: new users get DefaultRole and
// banned false, banned users cannot sign in (on every path that creates
// a session), and /list-sessions hides impersonation sessions.
func (p *Plugin) Hooks() plugin.Hooks {
	return plugin.Hooks{
		BeforeUserCreate:    p.beforeUserCreate,
		BeforeSessionCreate: p.beforeSessionCreate,
		After:               []plugin.Hook{{Match: plugin.PathIs("/list-sessions"), Handler: hideImpersonations}},
	}
}

// The plugin's errors, as Better Auth answers them.
var (
	ErrYouCannotBanYourself                 = plugin.NewError(http.StatusBadRequest, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself")
	ErrNotAllowedToChangeUsersRole          = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE", "You are not allowed to change users role")
	ErrNotAllowedToCreateUsers              = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS", "You are not allowed to create users")
	ErrNotAllowedToListUsers                = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS", "You are not allowed to list users")
	ErrNotAllowedToListUsersSessions        = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS_SESSIONS", "You are not allowed to list users sessions")
	ErrNotAllowedToBanUsers                 = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "You are not allowed to ban users")
	ErrNotAllowedToImpersonateUsers         = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS", "You are not allowed to impersonate users")
	ErrNotAllowedToRevokeUsersSessions      = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_REVOKE_USERS_SESSIONS", "You are not allowed to revoke users sessions")
	ErrNotAllowedToDeleteUsers              = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS", "You are not allowed to delete users")
	ErrNotAllowedToSetUsersPassword         = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PASSWORD", "You are not allowed to set users password")
	ErrBannedUser                           = plugin.NewError(http.StatusForbidden, "BANNED_USER", DefaultBannedUserMessage)
	ErrNotAllowedToGetUser                  = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_GET_USER", "You are not allowed to get user")
	ErrNoDataToUpdate                       = plugin.NewError(http.StatusBadRequest, "NO_DATA_TO_UPDATE", "No data to update")
	ErrNotAllowedToUpdateUsers              = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_USERS", "You are not allowed to update users")
	ErrYouCannotRemoveYourself              = plugin.NewError(http.StatusBadRequest, "YOU_CANNOT_REMOVE_YOURSELF", "You cannot remove yourself")
	ErrNotAllowedToSetNonExistentValue      = plugin.NewError(http.StatusBadRequest, "YOU_ARE_NOT_ALLOWED_TO_SET_NON_EXISTENT_VALUE", "You are not allowed to set a non-existent role value")
	ErrYouCannotImpersonateAdmins           = plugin.NewError(http.StatusForbidden, "YOU_CANNOT_IMPERSONATE_ADMINS", "You cannot impersonate admins")
	ErrInvalidRoleType                      = plugin.NewError(http.StatusBadRequest, "INVALID_ROLE_TYPE", "Invalid role type")
	ErrNotAllowedToSetUsersEmail            = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_EMAIL", "You are not allowed to update users email")
	ErrNotAllowedToSetUsersPhoneNumber      = plugin.NewError(http.StatusForbidden, "YOU_ARE_NOT_ALLOWED_TO_SET_USERS_PHONE_NUMBER", "You are not allowed to update users phone number")
	ErrPasswordCannotBeUpdatedViaUpdateUser = plugin.NewError(http.StatusBadRequest, "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER", "Password cannot be updated through update-user. Use the set-user-password endpoint instead")
	ErrUserIDCannotBeUpdated                = plugin.NewError(http.StatusBadRequest, "USER_ID_CANNOT_BE_UPDATED", "User id cannot be updated")
)

// ErrorCodes implements plugin.ErrorSource. The core's codes the plugin
// answers with another status than the core declares (USER_NOT_FOUND as
// a 404, USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL as a 400) are built per
// request, as are Better Auth's code-less answers.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{ErrYouCannotBanYourself, ErrNotAllowedToChangeUsersRole, ErrNotAllowedToCreateUsers,
		ErrNotAllowedToListUsers, ErrNotAllowedToListUsersSessions, ErrNotAllowedToBanUsers,
		ErrNotAllowedToImpersonateUsers, ErrNotAllowedToRevokeUsersSessions, ErrNotAllowedToDeleteUsers,
		ErrNotAllowedToSetUsersPassword, ErrBannedUser, ErrNotAllowedToGetUser, ErrNoDataToUpdate,
		ErrNotAllowedToUpdateUsers, ErrYouCannotRemoveYourself, ErrNotAllowedToSetNonExistentValue,
		ErrYouCannotImpersonateAdmins, ErrInvalidRoleType, ErrNotAllowedToSetUsersEmail,
		ErrNotAllowedToSetUsersPhoneNumber, ErrPasswordCannotBeUpdatedViaUpdateUser, ErrUserIDCannotBeUpdated}
}

// errUserNotFound is Better Auth's 404 USER_NOT_FOUND of the admin
// routes (the core declares the code as a 400).
func errUserNotFound() *plugin.Error {
	return plugin.NewError(http.StatusNotFound, "USER_NOT_FOUND", "User not found")
}

// errEmailTaken is the admin routes' 400 USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL
// (the core declares the code as a 422).
func errEmailTaken() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.")
}

// isUserNotFound reports whether err is a USER_NOT_FOUND (errors match
// by code).
func isUserNotFound(err error) bool { return errors.Is(err, errUserNotFound()) }

// The core's codes with the core's statuses.
func errInvalidEmail() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "INVALID_EMAIL", "Invalid email")
}

func errPasswordTooShort() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "PASSWORD_TOO_SHORT", "Password too short")
}

func errPasswordTooLong() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "PASSWORD_TOO_LONG", "Password too long")
}

func errInvalidImage() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "INVALID_IMAGE", "Image must be a URL of at most 2048 characters")
}

// Better Auth's code-less answers (message only).
func errNotImpersonating() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "", "You are not impersonating anyone")
}

func errAdminSessionNotFound() *plugin.Error {
	return plugin.NewError(http.StatusInternalServerError, "", "Failed to find admin session")
}

func errAdminNotFound() *plugin.Error {
	return plugin.NewError(http.StatusInternalServerError, "", "Failed to find user")
}

func errNoPermissions() *plugin.Error {
	return plugin.NewError(http.StatusBadRequest, "", "invalid permission check. no permission(s) were passed.")
}

var (
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.SchemaSource   = (*Plugin)(nil)
	_ plugin.HookSource     = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
	_ plugin.DataSource     = (*Plugin)(nil)
)

// roleOf returns the stored role of u ("" if none).
func roleOf(u *plugin.User) string {
	if u == nil {
		return ""
	}
	s, _ := u.Extra[FieldRole].(string)
	return s
}

// HasPermission reports whether u may do everything perms asks
// ({"user": ["ban"]}), as Better Auth's hasPermission: u is in
// AdminUserIDs, or one of the roles of its comma-separated role
// (DefaultRole if none) grants all of perms. Every admin route checks
// it; Go callers building their own admin routes use it too.
func (p *Plugin) HasPermission(u *plugin.User, perms Statements) bool {
	if u == nil {
		return false
	}
	return p.hasPermission(u.ID, roleOf(u), perms)
}

// RoleHasPermission reports whether the role (comma-separated roles)
// grants everything perms asks, whoever holds it.
func (p *Plugin) RoleHasPermission(role string, perms Statements) bool {
	return p.hasPermission("", role, perms)
}

func (p *Plugin) hasPermission(userID, role string, perms Statements) bool {
	if userID != "" && slices.Contains(p.opts.AdminUserIDs, userID) {
		return true
	}
	if perms == nil {
		return false
	}
	if role == "" {
		role = p.opts.DefaultRole
	}
	for _, r := range splitRoles(role) {
		if g, ok := p.opts.Roles[r]; ok && g.Authorize(perms) {
			return true
		}
	}
	return false
}

// can returns deny unless by may do action on resource; a nil by is a
// trusted Go caller and may do anything.
func (p *Plugin) can(by *plugin.User, resource, action string, deny *plugin.Error) error {
	if by == nil || p.HasPermission(by, Statements{resource: {action}}) {
		return nil
	}
	return deny
}

// IsAdmin reports whether u counts as an admin: one of its roles is in
// AdminRoles, or it is in AdminUserIDs.
func (p *Plugin) IsAdmin(u *plugin.User) bool {
	if u == nil {
		return false
	}
	if slices.Contains(p.opts.AdminUserIDs, u.ID) {
		return true
	}
	role := roleOf(u)
	if role == "" {
		role = p.opts.DefaultRole
	}
	for _, r := range splitRoles(role) {
		if slices.Contains(p.adminRoles, r) {
			return true
		}
	}
	return false
}

// checkRoles checks the roles to give a user: with custom Roles each
// must be one of them.
func (p *Plugin) checkRoles(roles []string) error {
	if !p.customRole {
		return nil
	}
	for _, r := range roles {
		if _, ok := p.opts.Roles[r]; !ok {
			return ErrNotAllowedToSetNonExistentValue
		}
	}
	return nil
}

// beforeUserCreate gives new users DefaultRole (unless the creator set a
// role, as admin create-user does) and banned false, as Better Auth's
// database hook and default value do.
func (p *Plugin) beforeUserCreate(_ context.Context, u *plugin.User) error {
	if u.Extra == nil {
		u.Extra = map[string]any{}
	}
	if r, ok := u.Extra[FieldRole]; !ok || r == nil {
		u.Extra[FieldRole] = p.opts.DefaultRole
	}
	if b, ok := u.Extra[FieldBanned]; !ok || b == nil {
		u.Extra[FieldBanned] = false
	}
	return nil
}

// impersonationKey marks the context of the CreateSession call of an
// impersonation.
type impersonationKey struct{}

type impersonation struct {
	adminID, targetID string
	expiresAt         time.Time
}

// beforeSessionCreate refuses banned users (lifting an expired ban
// instead) and makes the session of an impersonation one.
func (p *Plugin) beforeSessionCreate(ctx context.Context, s *plugin.Session, u *plugin.User) error {
	cur, err := p.h.FindUserByID(ctx, u.ID)
	if err != nil {
		if isUserNotFound(err) {
			return nil // not stored (yet): nothing to refuse
		}
		return err
	}
	if banned, _ := cur.Extra[FieldBanned].(bool); banned {
		exp, _ := cur.Extra[FieldBanExpires].(time.Time)
		if exp.IsZero() || !exp.Before(p.h.Now()) {
			return ErrBannedUser.WithMessage(p.opts.BannedUserMessage)
		}
		lifted, err := p.h.UpdateUser(ctx, u.ID, map[string]any{FieldBanned: false, FieldBanReason: nil, FieldBanExpires: nil})
		if err != nil {
			return err
		}
		u.Extra, u.UpdatedAt = lifted.Extra, lifted.UpdatedAt
	}
	if imp, ok := ctx.Value(impersonationKey{}).(*impersonation); ok && imp.targetID == u.ID {
		if s.Extra == nil {
			s.Extra = map[string]any{}
		}
		s.Extra[FieldImpersonatedBy] = imp.adminID
		s.ExpiresAt = imp.expiresAt
	}
	return nil
}

// hideImpersonations filters the impersonation sessions out of the
// answer of /list-sessions, as Better Auth's after-hook does: a user does
// not see the sessions an admin opened as them.
func hideImpersonations(c *plugin.Context) error {
	list, ok := c.Result().([]*plugin.Session)
	if !ok {
		return nil
	}
	out := make([]*plugin.Session, 0, len(list))
	for _, s := range list {
		if by, _ := s.Extra[FieldImpersonatedBy].(string); by == "" {
			out = append(out, s)
		}
	}
	c.SetResult(out)
	return nil
}

// ImpersonationRecord is an impersonation session in the export of the
// admin who opened it (Plugin.ExportUser).
type ImpersonationRecord struct {
	SessionID string `json:"sessionId"`
	UserID    string `json:"userId"`
	CreatedAt string `json:"createdAt"`
	ExpiresAt string `json:"expiresAt"`
}

// ExportUser implements plugin.DataSource: the impersonation sessions the
// user opened as others (their own rows, role and ban fields included,
// are the core's export).
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	recs, err := p.h.DB().FindMany(ctx, plugin.TableSession, storage.Query{
		Where: []storage.Where{storage.W(FieldImpersonatedBy, userID)}, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	list := make([]ImpersonationRecord, 0, len(recs))
	for _, r := range recs {
		list = append(list, ImpersonationRecord{SessionID: r.String("id"), UserID: r.String("userId"),
			CreatedAt: plugin.FormatTime(r.Time("createdAt")), ExpiresAt: plugin.FormatTime(r.Time("expiresAt"))})
	}
	return map[string]any{"impersonations": list}, nil
}

// DeleteUser implements plugin.DataSource: it ends the impersonation
// sessions the user opened, which would otherwise outlive them.
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	if _, err := p.h.DB().Delete(ctx, plugin.TableSession, storage.W(FieldImpersonatedBy, userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}
