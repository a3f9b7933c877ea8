package org

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

func (p *Plugin) insertMember(ctx context.Context, tx storage.Adapter, m *Member) error {
	err := tx.Create(ctx, TableMember, storage.Record{"id": m.ID, "organizationId": m.OrganizationID,
		"userId": m.UserID, "role": m.Role, "createdAt": m.CreatedAt, "membershipKey": pairKey(m.OrganizationID, m.UserID)})
	if errors.Is(err, storage.ErrConflict) {
		return ErrAlreadyMember
	}
	return err
}

// lockToJoin takes orgID's lock in the transaction tx (see lockRow) and
// checks that userID may join it: the organization exists, userID is not a
// member yet and MembershipLimit is not reached.
func (p *Plugin) lockToJoin(ctx context.Context, tx storage.Adapter, orgID, userID string) error {
	ok, err := lockRow(ctx, tx, TableOrganization, orgID)
	if err != nil {
		return err
	}
	if !ok {
		return ErrOrganizationNotFound
	}
	if m, err := findMember(ctx, tx, orgID, userID); err != nil || m != nil {
		if err == nil {
			err = ErrAlreadyMember
		}
		return err
	}
	n, err := tx.Count(ctx, TableMember, storage.W("organizationId", orgID))
	if err != nil {
		return err
	}
	if n >= int64(p.opts.MembershipLimit) {
		return ErrMembershipLimitReached
	}
	return nil
}

// AddMemberInput is the input of AddMember.
type AddMemberInput struct {
	OrganizationID string
	UserID         string
	// Roles are the member's roles; at least one, each a known role.
	Roles []string
	// TeamID optionally adds the member to a team of the organization
	// (teams only).
	TeamID string
}

// AddMember adds a user to an organization directly, bypassing
// invitations: Better Auth's server-only addMember (it has no HTTP route).
// It checks no permission (the caller is trusted) but enforces role names,
// MembershipLimit and one membership per user and organization, all under
// the organization's lock.
func (p *Plugin) AddMember(ctx context.Context, in AddMemberInput) (*Member, error) {
	roles := joinRoles(roleList(in.Roles))
	if roles == "" {
		return nil, ErrRoleNotFound
	}
	if bad := p.unknownRoles(ParseRoles(roles)); len(bad) > 0 {
		return nil, roleNotFound(bad)
	}
	if in.TeamID != "" {
		if err := p.teamsOn(); err != nil {
			return nil, err
		}
	}
	if _, err := p.a.FindUserByID(ctx, in.UserID); err != nil {
		return nil, err
	}
	m := &Member{ID: plugin.NewID(), OrganizationID: in.OrganizationID, UserID: in.UserID, Role: roles, CreatedAt: p.a.Now()}
	err := p.tx(ctx, func(tx storage.Adapter) error {
		if err := p.lockToJoin(ctx, tx, in.OrganizationID, in.UserID); err != nil {
			return err
		}
		if err := p.insertMember(ctx, tx, m); err != nil {
			return err
		}
		if in.TeamID != "" {
			if _, err := requireTeam(ctx, tx, in.TeamID, in.OrganizationID); err != nil {
				return err
			}
			if _, err := p.joinTeam(ctx, tx, in.TeamID, in.UserID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// IsMember reports whether userID is a member of orgID. An unknown
// organization or user is simply not a member.
func (p *Plugin) IsMember(ctx context.Context, orgID, userID string) (bool, error) {
	m, err := findMember(ctx, p.a.DB(), orgID, userID)
	if err != nil {
		return false, plugin.StorageError(err)
	}
	return m != nil, nil
}

// MemberRole returns the stored role value of userID in orgID (e.g.
// "owner" or "admin,member"), or "" if the user is not a member. With
// Authorize it answers permission questions about any user.
func (p *Plugin) MemberRole(ctx context.Context, orgID, userID string) (string, error) {
	m, err := findMember(ctx, p.a.DB(), orgID, userID)
	if err != nil {
		return "", plugin.StorageError(err)
	}
	if m == nil {
		return "", nil
	}
	return m.Role, nil
}

// Members returns all members of orgID, longest-standing first, each with
// its user. It checks no membership (the caller is trusted); ListMembers
// is the route's method.
func (p *Plugin) Members(ctx context.Context, orgID string) ([]*Member, error) {
	ms, err := members(ctx, p.a.DB(), orgID, 0)
	if err == nil {
		err = withUsers(ctx, p.a.DB(), ms)
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return ms, nil
}

// HasPermissionInput is the input of HasPermission.
type HasPermissionInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	Permissions    Permissions
}

// HasPermission reports whether sd's user's roles in the organization
// allow in.Permissions (see Authorize): POST
// /organization/has-permission. A non-member gets 401
// USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION.
func (p *Plugin) HasPermission(ctx context.Context, sd *plugin.SessionData, in HasPermissionInput) (bool, error) {
	u, err := actor(sd)
	if err != nil {
		return false, err
	}
	orgID := orgOrActive(sd, in.OrganizationID)
	if orgID == "" {
		return false, ErrNoActiveOrganization
	}
	m, err := p.requireMember(ctx, p.a.DB(), orgID, u.ID, withStatus(ErrUserNotMember, http.StatusUnauthorized), nil, nil)
	if err != nil {
		return false, err
	}
	return p.Authorize(m.Role, in.Permissions), nil
}

// removeMemberTx deletes a member, its memberships of the organization's
// teams, and the organization from the member's active sessions.
func (p *Plugin) removeMemberTx(ctx context.Context, tx storage.Adapter, m *Member) error {
	if _, err := tx.Delete(ctx, TableMember, storage.W("id", m.ID)); err != nil {
		return err
	}
	if p.opts.Teams.Enabled {
		teams, err := tx.FindMany(ctx, TableTeam, storage.Query{Where: []storage.Where{storage.W("organizationId", m.OrganizationID)}})
		if err != nil {
			return err
		}
		for _, t := range teams {
			if _, err := lockRow(ctx, tx, TableTeam, t.String("id")); err != nil {
				return err
			}
			n, err := tx.Delete(ctx, TableTeamMember, storage.W("teamId", t.String("id")), storage.W("userId", m.UserID))
			if err != nil {
				return err
			}
			if n > 0 {
				if err := syncTeamCount(ctx, tx, t.String("id")); err != nil {
					return err
				}
				if err := p.clearActive(ctx, tx, FieldActiveTeamID, t.String("id"), storage.W("userId", m.UserID)); err != nil {
					return err
				}
			}
		}
	}
	return p.clearActive(ctx, tx, FieldActiveOrganizationID, m.OrganizationID, storage.W("userId", m.UserID))
}

// keepOwner fails with fail unless orgID has more than one holder of the
// creator role (one of them is about to lose it).
func (p *Plugin) keepOwner(ctx context.Context, tx storage.Adapter, orgID string, fail *plugin.Error) error {
	ms, err := members(ctx, tx, orgID, 0)
	if err != nil {
		return err
	}
	if p.countOwners(ms) <= 1 {
		return fail
	}
	return nil
}

// RemoveMemberInput is the input of RemoveMember.
type RemoveMemberInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	// MemberIDOrEmail is the member's id or, with an "@", its user's
	// email.
	MemberIDOrEmail string
}

// RemoveMember removes a member from an organization, with Better Auth's
// checks, under the organization's lock: POST /organization/remove-member.
// sd's user needs member:delete; only holders of the creator role may
// remove one, and never its last holder. The member leaves the
// organization's teams, and the organization is no longer active in its
// sessions. It returns the removed member (with its user when named by
// email).
func (p *Plugin) RemoveMember(ctx context.Context, sd *plugin.SessionData, in RemoveMemberInput) (*Member, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	orgID := orgOrActive(sd, in.OrganizationID)
	if orgID == "" {
		return nil, ErrNoActiveOrganization
	}
	var target *Member
	err = p.tx(ctx, func(tx storage.Adapter) error {
		me, err := p.lockMember(ctx, tx, orgID, u.ID, ErrMemberNotFound, nil, nil)
		if err != nil {
			return err
		}
		if strings.Contains(in.MemberIDOrEmail, "@") {
			r, err := findOne(ctx, tx, plugin.TableUser, storage.W("email", plugin.NormalizeEmail(in.MemberIDOrEmail)))
			if err != nil {
				return err
			}
			if r != nil {
				if target, err = findMember(ctx, tx, orgID, r.String("id")); err != nil {
					return err
				}
				if target != nil {
					target.User = memberUser(r)
				}
			}
		} else if target, err = findMemberByID(ctx, tx, orgID, in.MemberIDOrEmail); err != nil {
			return err
		}
		if target == nil {
			return ErrMemberNotFound
		}
		if hasRole(target.Role, p.opts.CreatorRole) {
			if !hasRole(me.Role, p.opts.CreatorRole) {
				return ErrCannotLeaveAsOnlyOwner
			}
			if err := p.keepOwner(ctx, tx, orgID, ErrCannotLeaveAsOnlyOwner); err != nil {
				return err
			}
		}
		if !p.Authorize(me.Role, Permissions{"member": {"delete"}}) {
			return ErrNotAllowedToDeleteMember
		}
		return p.removeMemberTx(ctx, tx, target)
	})
	if err != nil {
		return nil, err
	}
	if target.UserID == u.ID {
		forget(sd, FieldActiveOrganizationID, orgID)
	}
	return target, nil
}

// UpdateMemberRoleInput is the input of UpdateMemberRole.
type UpdateMemberRoleInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	MemberID       string
	// Roles are the member's new roles; at least one, each a known role.
	Roles []string
}

// UpdateMemberRole sets a member's roles, with Better Auth's checks, under
// the organization's lock: POST /organization/update-member-role. sd's
// user needs member:update; only holders of the creator role may grant it
// or change its holders' roles; its last holder cannot lose it, whoever
// asks. It returns the member as stored.
func (p *Plugin) UpdateMemberRole(ctx context.Context, sd *plugin.SessionData, in UpdateMemberRoleInput) (*Member, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	roles := roleList(in.Roles)
	if len(roles) == 0 {
		return nil, ErrRoleNotFound
	}
	orgID := orgOrActive(sd, in.OrganizationID)
	if orgID == "" {
		return nil, ErrNoActiveOrganization
	}
	newRole := joinRoles(roles)
	var target *Member
	err = p.tx(ctx, func(tx storage.Adapter) error {
		me, err := p.lockMember(ctx, tx, orgID, u.ID, ErrMemberNotFound, nil, nil)
		if err != nil {
			return err
		}
		// Looked up by id alone: a member of another organization is
		// refused (403) rather than not found, as in Better Auth.
		r, err := findOne(ctx, tx, TableMember, storage.W("id", in.MemberID))
		if err != nil {
			return err
		}
		if r == nil {
			return ErrMemberNotFound
		}
		if target = memberFromRecord(r); target.OrganizationID != orgID {
			return ErrNotAllowedToUpdateMember
		}
		creator := p.opts.CreatorRole
		updaterIsCreator := hasRole(me.Role, creator)
		targetIsCreator := hasRole(target.Role, creator)
		settingCreator := slices.Contains(roles, creator)
		if (targetIsCreator || settingCreator) && !updaterIsCreator {
			return ErrNotAllowedToUpdateMember
		}
		if targetIsCreator && !settingCreator {
			if err := p.keepOwner(ctx, tx, orgID, ErrCannotLeaveWithoutOwner); err != nil {
				return err
			}
		}
		if !updaterIsCreator && !p.Authorize(me.Role, Permissions{"member": {"update"}}) {
			return ErrNotAllowedToUpdateMember
		}
		if bad := p.unknownRoles(roles); len(bad) > 0 {
			return roleNotFound(bad)
		}
		if _, err := tx.Update(ctx, TableMember, storage.Record{"role": newRole}, storage.W("id", target.ID)); err != nil {
			return err
		}
		target.Role = newRole
		return nil
	})
	if err != nil {
		return nil, err
	}
	return target, nil
}

// LeaveOrganization removes sd's user from the organization orgID, unless
// they are its last holder of the creator role (400
// YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER): POST
// /organization/leave. It returns the removed member with its user.
func (p *Plugin) LeaveOrganization(ctx context.Context, sd *plugin.SessionData, orgID string) (*Member, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	var me *Member
	err = p.tx(ctx, func(tx storage.Adapter) error {
		var err error
		if me, err = p.lockMember(ctx, tx, orgID, u.ID, ErrMemberNotFound, nil, nil); err != nil {
			return err
		}
		if hasRole(me.Role, p.opts.CreatorRole) {
			if err := p.keepOwner(ctx, tx, orgID, ErrCannotLeaveAsOnlyOwner); err != nil {
				return err
			}
		}
		me.User = userOf(u)
		return p.removeMemberTx(ctx, tx, me)
	})
	if err != nil {
		return nil, err
	}
	forget(sd, FieldActiveOrganizationID, orgID)
	return me, nil
}

// userOf is the part of u shown with a member.
func userOf(u *plugin.User) *MemberUser {
	return &MemberUser{ID: u.ID, Name: u.Name, Email: u.Email, Image: u.Image}
}

// GetActiveMember returns sd's user's member record (with its user) in the
// session's active organization: GET /organization/get-active-member.
func (p *Plugin) GetActiveMember(ctx context.Context, sd *plugin.SessionData) (*Member, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	orgID := ActiveOrganizationID(sd)
	if orgID == "" {
		return nil, ErrNoActiveOrganization
	}
	m, err := p.requireMember(ctx, p.a.DB(), orgID, u.ID, ErrMemberNotFound, nil, nil)
	if err != nil {
		return nil, err
	}
	m.User = userOf(u)
	return m, nil
}

// memberOrgID resolves the organization of the member routes: the one
// with slug, else orgID, else sd's active one.
func (p *Plugin) memberOrgID(ctx context.Context, sd *plugin.SessionData, orgID, slug string) (string, error) {
	orgID = orgOrActive(sd, orgID)
	if slug != "" {
		o, err := p.findOrgByIDOrSlug(ctx, "", slug)
		if err != nil {
			return "", err
		}
		if o == nil {
			return "", ErrOrganizationNotFound
		}
		orgID = o.ID
	}
	if orgID == "" {
		return "", ErrNoActiveOrganization
	}
	return orgID, nil
}

// GetActiveMemberRoleInput is the input of GetActiveMemberRole.
type GetActiveMemberRoleInput struct {
	// UserID is the member asked about; default sd's user.
	UserID string
	// OrganizationSlug, else OrganizationID, else the session's active
	// organization.
	OrganizationID   string
	OrganizationSlug string
}

// GetActiveMemberRole returns the stored role value (e.g. "admin,member")
// of a member of an organization sd's user belongs to: GET
// /organization/get-active-member-role. A non-member, asking or asked
// about, gets 403 YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION.
func (p *Plugin) GetActiveMemberRole(ctx context.Context, sd *plugin.SessionData, in GetActiveMemberRoleInput) (string, error) {
	u, err := actor(sd)
	if err != nil {
		return "", err
	}
	orgID, err := p.memberOrgID(ctx, sd, in.OrganizationID, in.OrganizationSlug)
	if err != nil {
		return "", err
	}
	db := p.a.DB()
	m, err := p.requireMember(ctx, db, orgID, u.ID, ErrNotAMember, nil, nil)
	if err != nil {
		return "", err
	}
	if in.UserID != "" {
		if m, err = p.requireMember(ctx, db, orgID, in.UserID, ErrNotAMember, nil, nil); err != nil {
			return "", err
		}
	}
	return m.Role, nil
}

// ListMembersInput is the input of ListMembers.
type ListMembersInput struct {
	// OrganizationSlug, else OrganizationID, else the session's active
	// organization.
	OrganizationID   string
	OrganizationSlug string
	// Limit caps the members returned (0: MembershipLimit); Offset skips
	// as many first (negative counts as 0).
	Limit, Offset int
	// SortBy is a member field (see MemberFilter); default createdAt,
	// ascending unless SortDesc.
	SortBy   string
	SortDesc bool
	// Filter, if set, selects the members listed and counted.
	Filter *MemberFilter
}

// MemberFilter selects members by one field: those whose Field compares
// to Value by Operator.
type MemberFilter struct {
	// Field is one of id, organizationId, userId, role and createdAt.
	Field string
	// Operator is storage.Eq (also the zero value), Ne, Lt, Lte, Gt, Gte,
	// In, NotIn, Contains, StartsWith or EndsWith; the last three not for
	// createdAt.
	Operator storage.Op
	// Value is a string, or for createdAt a time.Time or an RFC 3339
	// string; with In and NotIn a []string, []time.Time or []any of them.
	Value any
}

// MemberList is a page of ListMembers.
type MemberList struct {
	// Members have their users.
	Members []*Member `json:"members"`
	// Total counts every member the filter selects.
	Total int64 `json:"total"`
}

// memberFields are the member fields list-members may sort and filter by.
var memberFields = map[string]storage.FieldType{
	"id": storage.String, "organizationId": storage.String, "userId": storage.String,
	"role": storage.String, "createdAt": storage.Date,
}

// where returns the filter as a storage condition, checking the field, the
// operator and the value's type.
func (f *MemberFilter) where() (storage.Where, error) {
	t, ok := memberFields[f.Field]
	if !ok {
		return storage.Where{}, validation("[query.filterField] Invalid input: unknown member field " + strconv.Quote(f.Field))
	}
	op := f.Operator
	if op == "" {
		op = storage.Eq
	}
	if !slices.Contains(memberFilterOps, op) {
		return storage.Where{}, validation(memberFilterOpsMessage)
	}
	conv := func(v any) (any, error) {
		switch x := v.(type) {
		case string:
			if t != storage.Date {
				return x, nil
			}
			tm, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return nil, validation("[query.filterValue] Invalid date")
			}
			return tm, nil
		case time.Time:
			if t == storage.Date {
				return x, nil
			}
		}
		return nil, plugin.InvalidInput("query.filterValue", "string", fmt.Sprintf("%T", v))
	}
	w := storage.Where{Field: f.Field, Op: op}
	if op == storage.In || op == storage.NotIn {
		list := []any{}
		switch vs := f.Value.(type) {
		case []string:
			for _, v := range vs {
				list = append(list, v)
			}
		case []time.Time:
			for _, v := range vs {
				list = append(list, v)
			}
		case []any:
			list = append(list, vs...)
		default:
			return storage.Where{}, plugin.InvalidInput("query.filterValue", "array", fmt.Sprintf("%T", f.Value))
		}
		for i, v := range list {
			x, err := conv(v)
			if err != nil {
				return storage.Where{}, err
			}
			list[i] = x
		}
		w.Value = list
	} else {
		x, err := conv(f.Value)
		if err != nil {
			return storage.Where{}, err
		}
		w.Value = x
	}
	if t == storage.Date && (op == storage.Contains || op == storage.StartsWith || op == storage.EndsWith) {
		return storage.Where{}, validation("[query.filterOperator] Invalid operator for a date field")
	}
	return w, nil
}

// memberFilterOps are the operators of MemberFilter (Better Auth's
// whereOperators).
var memberFilterOps = []storage.Op{storage.Eq, storage.Ne, storage.Lt, storage.Lte, storage.Gt, storage.Gte,
	storage.In, storage.NotIn, storage.Contains, storage.StartsWith, storage.EndsWith}

const memberFilterOpsMessage = `[query.filterOperator] Invalid option: expected one of "eq"|"ne"|"lt"|"lte"|"gt"|"gte"|"in"|"not_in"|"contains"|"starts_with"|"ends_with"`

// ListMembers lists the members of an organization sd's user belongs to,
// each with its user, with the total the filter selects: GET
// /organization/list-members. A non-member gets 403
// YOU_ARE_NOT_A_MEMBER_OF_THIS_ORGANIZATION.
func (p *Plugin) ListMembers(ctx context.Context, sd *plugin.SessionData, in ListMembersInput) (*MemberList, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	orgID, err := p.memberOrgID(ctx, sd, in.OrganizationID, in.OrganizationSlug)
	if err != nil {
		return nil, err
	}
	db := p.a.DB()
	if _, err := p.requireMember(ctx, db, orgID, u.ID, ErrNotAMember, nil, nil); err != nil {
		return nil, err
	}
	where := []storage.Where{storage.W("organizationId", orgID)}
	if in.Filter != nil {
		w, err := in.Filter.where()
		if err != nil {
			return nil, err
		}
		where = append(where, w)
	}
	query := storage.Query{Where: where, Limit: p.opts.MembershipLimit, Offset: max(in.Offset, 0),
		Sort: []storage.Sort{{Field: "createdAt", Desc: in.SortDesc}}}
	if in.Limit > 0 {
		query.Limit = in.Limit
	}
	if in.SortBy != "" {
		if _, ok := memberFields[in.SortBy]; !ok {
			return nil, validation("[query.sortBy] Invalid input: unknown member field " + strconv.Quote(in.SortBy))
		}
		query.Sort[0].Field = in.SortBy
	}
	recs, err := db.FindMany(ctx, TableMember, query)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	total, err := db.Count(ctx, TableMember, where...)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	ms := make([]*Member, len(recs))
	for i, r := range recs {
		ms[i] = memberFromRecord(r)
	}
	if err := withUsers(ctx, db, ms); err != nil {
		return nil, plugin.StorageError(err)
	}
	return &MemberList{Members: ms, Total: total}, nil
}
