package org

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Options configures the plugin. The zero value is Better Auth's default
// configuration.
type Options struct {
	// AccessControl adds resources, actions and roles to Better Auth's
	// defaults (see AccessControl). Nil: the defaults.
	AccessControl *AccessControl
	// CreatorRole is the role of an organization's creator, the role only
	// its holders may grant, and the role whose last holder cannot leave.
	// Default "owner".
	CreatorRole string
	// AllowUserToCreateOrganization decides whether u may create
	// organizations over HTTP (403 otherwise). Nil: everyone may.
	AllowUserToCreateOrganization func(ctx context.Context, u *plugin.User) (bool, error)
	// OrganizationLimit caps the organizations a user belongs to (counted
	// as Better Auth does, by memberships) when they create one. 0: no cap.
	OrganizationLimit int
	// MembershipLimit caps the members of an organization. Default 100.
	MembershipLimit int
	// InvitationLimit caps an organization's pending invitations.
	// Default 100.
	InvitationLimit int
	// InvitationExpiresIn is the lifetime of an invitation. Default 48h.
	InvitationExpiresIn time.Duration
	// InvitationURL returns the link of an invitation email (the page that
	// lets the recipient accept it). Default
	// <BaseURL>/accept-invitation/<id>.
	InvitationURL func(inv *Invitation) string
	// CancelPendingInvitationsOnReInvite cancels a pending invitation of an
	// address when it is invited again (otherwise 400 unless resend).
	CancelPendingInvitationsOnReInvite bool
	// RequireEmailVerificationOnInvitation makes accepting, rejecting and
	// viewing an invitation require a verified email. Invitation ids are
	// random 32-character strings that only the invitation email carries,
	// so, as in Better Auth, it is off by default.
	RequireEmailVerificationOnInvitation bool
	// DisableOrganizationDeletion makes delete answer 404.
	DisableOrganizationDeletion bool
	// MinSlugLength and MaxSlugLength bound slugs. Default 2 and 64.
	MinSlugLength, MaxSlugLength int
	// Teams configures teams.
	Teams TeamOptions
}

// TeamOptions configures teams (Better Auth's teams option).
type TeamOptions struct {
	// Enabled adds the team tables, the session's activeTeamId and the
	// team routes.
	Enabled bool
	// DisableDefaultTeam stops create from making a team named after the
	// organization with the creator in it.
	DisableDefaultTeam bool
	// MaximumTeams caps the teams of an organization. 0: no cap.
	MaximumTeams int
	// MaximumMembersPerTeam caps the members of a team. 0: no cap.
	MaximumMembersPerTeam int
	// AllowRemovingAllTeams lets remove-team delete an organization's last
	// team.
	AllowRemovingAllTeams bool
}

// Plugin is the organization plugin. Build it with New and pass it to
// auth.New; its methods are safe for concurrent use once auth.New returned.
type Plugin struct {
	opts       Options
	a          plugin.Host
	statements Permissions
	roles      map[string]Permissions
	initErr    error
}

var (
	_ plugin.Plugin         = (*Plugin)(nil)
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.SchemaSource   = (*Plugin)(nil)
	_ plugin.DataSource     = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
)

// New returns the plugin. Configuration errors (an invalid AccessControl,
// a CreatorRole without a role) are reported by auth.New.
func New(opts Options) *Plugin {
	if opts.CreatorRole == "" {
		opts.CreatorRole = "owner"
	}
	if opts.MembershipLimit <= 0 {
		opts.MembershipLimit = 100
	}
	if opts.InvitationLimit <= 0 {
		opts.InvitationLimit = 100
	}
	if opts.InvitationExpiresIn <= 0 {
		opts.InvitationExpiresIn = 48 * time.Hour
	}
	if opts.MinSlugLength <= 0 {
		opts.MinSlugLength = 2
	}
	if opts.MaxSlugLength <= 0 {
		opts.MaxSlugLength = 64
	}
	p := &Plugin{opts: opts}
	p.statements, p.roles, p.initErr = resolveAccess(opts.AccessControl)
	if p.initErr == nil && p.roles[opts.CreatorRole] == nil {
		p.initErr = fmt.Errorf("org: CreatorRole %q is not a role", opts.CreatorRole)
	}
	if p.initErr == nil && opts.MinSlugLength > opts.MaxSlugLength {
		p.initErr = fmt.Errorf("org: MinSlugLength %d > MaxSlugLength %d", opts.MinSlugLength, opts.MaxSlugLength)
	}
	return p
}

// ID implements plugin.Plugin: "organization".
func (p *Plugin) ID() string { return "organization" }

// Init implements plugin.Initializer.
func (p *Plugin) Init(a plugin.Host) error {
	if p.initErr != nil {
		return p.initErr
	}
	p.a = a
	if !a.Settings().Mail {
		a.Logger().Warn("org: no Mailer configured; invitations are created but not emailed")
	}
	return nil
}

// Schema implements plugin.SchemaSource: the organization, member and
// invitation tables (team and teamMember with teams), and the session's
// activeOrganizationId (and activeTeamId).
func (p *Plugin) Schema() storage.Schema { return p.schema() }

// Roles returns the names of the roles in force, sorted.
func (p *Plugin) Roles() []string {
	return slices.Sorted(maps.Keys(p.roles))
}

// Authorize reports whether a member with the stored role value (e.g.
// "admin,member") may do everything perms asks for: Better Auth's rule,
// any one of the roles must grant all requested actions of every requested
// resource. Unknown roles grant nothing.
func (p *Plugin) Authorize(role string, perms Permissions) bool {
	for _, r := range ParseRoles(role) {
		if rp := p.roles[r]; rp != nil && rp.allows(perms) {
			return true
		}
	}
	return false
}

// ActiveOrganizationID returns the session's active organization id, or
// "". Use it in the jwt plugin's Options.Payload to put the active
// organization into tokens:
//
//	Payload: func(ctx context.Context, sd *plugin.SessionData) (map[string]any, error) {
//		m, err := jwt.BetterAuthPayload(ctx, sd)
//		if id := org.ActiveOrganizationID(sd); id != "" && err == nil {
//			m["activeOrganizationId"] = id
//		}
//		return m, err
//	}
func ActiveOrganizationID(sd *plugin.SessionData) string {
	return sessionField(sd, FieldActiveOrganizationID)
}

// ActiveTeamID returns the session's active team id (teams only), or "".
func ActiveTeamID(sd *plugin.SessionData) string { return sessionField(sd, FieldActiveTeamID) }

func sessionField(sd *plugin.SessionData, name string) string {
	if sd == nil || sd.Session == nil {
		return ""
	}
	s, _ := sd.Session.Extra[name].(string)
	return s
}

// ---- helpers shared by the routes and the Go API

// tx runs fn in a transaction, mapping storage failures to API errors.
func (p *Plugin) tx(ctx context.Context, fn func(tx storage.Adapter) error) error {
	return apiErr(p.a.DB().Tx(ctx, fn))
}

// apiErr maps an error to an *plugin.Error (storage failures become 500/503).
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *plugin.Error
	if errors.As(err, &ae) {
		return ae
	}
	return plugin.StorageError(err)
}

// lockRow takes the row lock of a row (an UPDATE that changes nothing) so
// that, on PostgreSQL's READ COMMITTED, transactions touching the same
// organization (or user) take turns and every later statement of the
// transaction sees what the previous holder committed. The memory and
// SQLite adapters serialise transactions anyway. It reports whether the
// row exists.
func lockRow(ctx context.Context, tx storage.Adapter, table, id string) (bool, error) {
	n, err := tx.Update(ctx, table, storage.Record{"id": id}, storage.W("id", id))
	return n > 0, err
}

func findOne(ctx context.Context, db storage.Adapter, table string, where ...storage.Where) (storage.Record, error) {
	r, err := db.FindOne(ctx, table, where...)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	return r, err
}

func findOrg(ctx context.Context, db storage.Adapter, id string) (*Organization, error) {
	if id == "" {
		return nil, nil
	}
	r, err := findOne(ctx, db, TableOrganization, storage.W("id", id))
	if r == nil || err != nil {
		return nil, err
	}
	return orgFromRecord(r), nil
}

func findOrgBySlug(ctx context.Context, db storage.Adapter, slug string) (*Organization, error) {
	if slug == "" {
		return nil, nil
	}
	r, err := findOne(ctx, db, TableOrganization, storage.W("slug", slug))
	if r == nil || err != nil {
		return nil, err
	}
	return orgFromRecord(r), nil
}

func findMember(ctx context.Context, db storage.Adapter, orgID, userID string) (*Member, error) {
	if orgID == "" || userID == "" {
		return nil, nil
	}
	r, err := findOne(ctx, db, TableMember, storage.W("organizationId", orgID), storage.W("userId", userID))
	if r == nil || err != nil {
		return nil, err
	}
	return memberFromRecord(r), nil
}

// requireMember returns userID's member record in orgID, read through db:
// the membership check most routes start with. It fails with notMember if
// there is none and, with non-nil perms, with denied if the member's roles
// do not allow perms (see Authorize); storage failures become API errors.
func (p *Plugin) requireMember(ctx context.Context, db storage.Adapter, orgID, userID string,
	notMember error, perms Permissions, denied error) (*Member, error) {
	m, err := findMember(ctx, db, orgID, userID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if m == nil {
		return nil, notMember
	}
	if perms != nil && !p.Authorize(m.Role, perms) {
		return nil, denied
	}
	return m, nil
}

// lockMember takes orgID's lock in the transaction tx (see lockRow), then
// is requireMember; a missing organization fails with notMember too.
func (p *Plugin) lockMember(ctx context.Context, tx storage.Adapter, orgID, userID string,
	notMember error, perms Permissions, denied error) (*Member, error) {
	ok, err := lockRow(ctx, tx, TableOrganization, orgID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notMember
	}
	return p.requireMember(ctx, tx, orgID, userID, notMember, perms, denied)
}

func findMemberByID(ctx context.Context, db storage.Adapter, orgID, memberID string) (*Member, error) {
	if orgID == "" || memberID == "" {
		return nil, nil
	}
	r, err := findOne(ctx, db, TableMember, storage.W("id", memberID), storage.W("organizationId", orgID))
	if r == nil || err != nil {
		return nil, err
	}
	return memberFromRecord(r), nil
}

// members returns the organization's members, longest-standing first.
func members(ctx context.Context, db storage.Adapter, orgID string, limit int) ([]*Member, error) {
	return oldestFirst(ctx, db, TableMember, limit, memberFromRecord, storage.W("organizationId", orgID))
}

// oldestFirst returns the rows of table matching where, converted by
// from, in the order of their createdAt; at most limit of them unless
// limit is 0.
func oldestFirst[T any](ctx context.Context, db storage.Adapter, table string, limit int,
	from func(storage.Record) *T, where ...storage.Where) ([]*T, error) {
	recs, err := db.FindMany(ctx, table, storage.Query{Where: where, Sort: []storage.Sort{{Field: "createdAt"}}, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]*T, len(recs))
	for i, r := range recs {
		out[i] = from(r)
	}
	return out, nil
}

// withUsers sets the User of each member.
func withUsers(ctx context.Context, db storage.Adapter, ms []*Member) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.UserID)
	}
	recs, err := db.FindMany(ctx, plugin.TableUser, storage.Query{Where: []storage.Where{{Field: "id", Op: storage.In, Value: ids}}})
	if err != nil {
		return err
	}
	byID := make(map[string]storage.Record, len(recs))
	for _, r := range recs {
		byID[r.String("id")] = r
	}
	for _, m := range ms {
		if u := byID[m.UserID]; u != nil {
			m.User = memberUser(u)
		} else {
			m.User = &MemberUser{ID: m.UserID}
		}
	}
	return nil
}

func findInvitation(ctx context.Context, db storage.Adapter, id string) (*Invitation, error) {
	if id == "" {
		return nil, nil
	}
	r, err := findOne(ctx, db, TableInvitation, storage.W("id", id))
	if r == nil || err != nil {
		return nil, err
	}
	return invitationFromRecord(r), nil
}

// countOwners counts the members holding the creator role.
func (p *Plugin) countOwners(ms []*Member) int {
	n := 0
	for _, m := range ms {
		if hasRole(m.Role, p.opts.CreatorRole) {
			n++
		}
	}
	return n
}

// unknownRoles returns the role names that are not roles.
func (p *Plugin) unknownRoles(roles []string) []string {
	var out []string
	for _, r := range roles {
		if p.roles[r] == nil {
			out = append(out, r)
		}
	}
	return out
}

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$`)

// ValidSlug reports whether slug is acceptable: lower-case ASCII letters,
// digits and hyphens, not starting or ending with a hyphen, within the
// length bounds of the options.
func (p *Plugin) ValidSlug(slug string) bool {
	return len(slug) >= p.opts.MinSlugLength && len(slug) <= p.opts.MaxSlugLength && slugRE.MatchString(slug)
}

func (p *Plugin) checkSlug(slug string) error {
	if p.ValidSlug(slug) {
		return nil
	}
	return ErrInvalidSlug.WithMessage(fmt.Sprintf("Invalid slug: use %d to %d lower-case letters, digits and hyphens, starting and ending with a letter or digit",
		p.opts.MinSlugLength, p.opts.MaxSlugLength))
}

// actor returns sd's user, the one an operation acts for, or
// auth.ErrUnauthorized without one.
func actor(sd *plugin.SessionData) (*plugin.User, error) {
	if sd == nil || sd.User == nil {
		return nil, auth.ErrUnauthorized
	}
	return sd.User, nil
}

// orgOrActive returns the given organization id or, without one, sd's
// active one.
func orgOrActive(sd *plugin.SessionData, given string) string {
	if given != "" {
		return given
	}
	return ActiveOrganizationID(sd)
}

// sessionIDOf returns the id of sd's session, or "" without one.
func sessionIDOf(sd *plugin.SessionData) string {
	if sd == nil || sd.Session == nil {
		return ""
	}
	return sd.Session.ID
}

// setSessionField writes a session field (nil clears it); without a
// session id it does nothing.
func setSessionField(ctx context.Context, db storage.Adapter, sessionID, field string, value *string) error {
	if sessionID == "" {
		return nil
	}
	var v any
	if value != nil {
		v = *value
	}
	_, err := db.Update(ctx, plugin.TableSession, storage.Record{field: v}, storage.W("id", sessionID))
	return err
}

// mirror sets a session field of sd to what setSessionField stored (nil:
// cleared), so that the caller's session data, and with it get-session
// and the after-hooks of a route, show it.
func mirror(sd *plugin.SessionData, field string, value *string) {
	if sd == nil || sd.Session == nil {
		return
	}
	if sd.Session.Extra == nil {
		sd.Session.Extra = map[string]any{}
	}
	if value == nil {
		sd.Session.Extra[field] = nil
	} else {
		sd.Session.Extra[field] = *value
	}
}

// clearSessionField clears a session field of sd's session, stored and in
// sd.
func (p *Plugin) clearSessionField(ctx context.Context, sd *plugin.SessionData, field string) error {
	if err := setSessionField(ctx, p.a.DB(), sessionIDOf(sd), field, nil); err != nil {
		return plugin.StorageError(err)
	}
	mirror(sd, field, nil)
	return nil
}

// clearActive clears field on every session matching where and whose
// field equals value (the sessions pointing at a deleted organization or
// team, or at one their user left).
func (p *Plugin) clearActive(ctx context.Context, db storage.Adapter, field, value string, where ...storage.Where) error {
	w := append([]storage.Where{storage.W(field, value)}, where...)
	_, err := db.Update(ctx, plugin.TableSession, storage.Record{field: nil}, w...)
	return err
}

// forget mirrors clearActive in sd: field is cleared there if it holds
// value.
func forget(sd *plugin.SessionData, field, value string) {
	if value != "" && sessionField(sd, field) == value {
		sd.Session.Extra[field] = nil
	}
}

func ptr[T any](v T) *T { return &v }

func isConflict(err error) bool { return errors.Is(err, storage.ErrConflict) }
