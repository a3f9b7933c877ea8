package org

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
)

// CreateInput is the input of CreateOrganization.
type CreateInput struct {
	// Name is required.
	Name string
	// Slug must be unique and valid (see ValidSlug).
	Slug string
	// Logo is optional.
	Logo *string
	// Metadata is optional; it is stored as JSON text.
	Metadata map[string]any
}

// created is what creating an organization made.
type created struct {
	org        *Organization
	member     *Member
	teamMember *TeamMember // default team, teams only
}

// CreateOrganization creates an organization with userID as its member
// holding the creator role (and, with teams, a default team), as the
// server-side call of Better Auth's create does: AllowUserToCreateOrganization
// is not consulted, OrganizationLimit is. It does not touch sessions.
func (p *Plugin) CreateOrganization(ctx context.Context, userID string, in CreateInput) (*Organization, *Member, error) {
	u, err := p.a.FindUserByID(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	c, err := p.create(ctx, u, in, "")
	if err != nil {
		return nil, nil, err
	}
	return c.org, c.member, nil
}

// create creates the organization; with a sessionID, that session's
// active organization (and team) become the new ones in the same
// transaction.
func (p *Plugin) create(ctx context.Context, u *auth.User, in CreateInput, sessionID string) (*created, error) {
	if in.Name == "" {
		return nil, validation("[body.name] Too small: expected string to have >=1 characters")
	}
	if err := auth.CheckName(in.Name); err != nil { // it goes into invitation mails
		return nil, err
	}
	if err := p.checkSlug(in.Slug); err != nil {
		return nil, err
	}
	meta, err := metadataValue(in.Metadata)
	if err != nil {
		return nil, validation("[body.metadata] " + err.Error())
	}
	now := p.a.Now()
	org := &Organization{ID: auth.NewID(), Name: in.Name, Slug: in.Slug, Logo: in.Logo, Metadata: in.Metadata, CreatedAt: now}
	m := &Member{ID: auth.NewID(), OrganizationID: org.ID, UserID: u.ID, Role: p.opts.CreatorRole, CreatedAt: now}
	out := &created{org: org, member: m}
	err = p.tx(ctx, func(tx storage.Adapter) error {
		if p.opts.OrganizationLimit > 0 {
			// The user row is the lock that makes the count hold.
			ok, err := lockRow(ctx, tx, auth.TableUser, u.ID)
			if err != nil {
				return err
			}
			if !ok {
				return auth.ErrUserNotFound
			}
			n, err := tx.Count(ctx, TableMember, storage.W("userId", u.ID))
			if err != nil {
				return err
			}
			if n >= int64(p.opts.OrganizationLimit) {
				return forbidden(CodeMaximumOrganizationsReached)
			}
		}
		if o, err := findOrgBySlug(ctx, tx, in.Slug); err != nil || o != nil {
			if err == nil {
				err = badRequest(CodeOrganizationAlreadyExists)
			}
			return err
		}
		err := tx.Create(ctx, TableOrganization, storage.Record{"id": org.ID, "name": org.Name, "slug": org.Slug,
			"logo": org.Logo, "createdAt": org.CreatedAt, "metadata": meta})
		if errors.Is(err, storage.ErrConflict) {
			return badRequest(CodeOrganizationAlreadyExists)
		}
		if err != nil {
			return err
		}
		if err := p.insertMember(ctx, tx, m); err != nil {
			return err
		}
		if p.opts.Teams.Enabled && !p.opts.Teams.DisableDefaultTeam {
			t := &Team{ID: auth.NewID(), Name: org.Name, OrganizationID: org.ID, CreatedAt: now, UpdatedAt: &now}
			if err := insertTeam(ctx, tx, t); err != nil {
				return err
			}
			tm, err := p.addTeamMember(ctx, tx, t.ID, u.ID)
			if err != nil {
				return err
			}
			out.teamMember = tm
			if err := setSessionField(ctx, tx, sessionID, FieldActiveTeamID, &t.ID); err != nil {
				return err
			}
		}
		return setSessionField(ctx, tx, sessionID, FieldActiveOrganizationID, &org.ID)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (p *Plugin) insertMember(ctx context.Context, tx storage.Adapter, m *Member) error {
	err := tx.Create(ctx, TableMember, storage.Record{"id": m.ID, "organizationId": m.OrganizationID,
		"userId": m.UserID, "role": m.Role, "createdAt": m.CreatedAt, "membershipKey": pairKey(m.OrganizationID, m.UserID)})
	if errors.Is(err, storage.ErrConflict) {
		return badRequest(CodeAlreadyMember)
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
		return badRequest(CodeOrganizationNotFound)
	}
	if m, err := findMember(ctx, tx, orgID, userID); err != nil || m != nil {
		if err == nil {
			err = badRequest(CodeAlreadyMember)
		}
		return err
	}
	n, err := tx.Count(ctx, TableMember, storage.W("organizationId", orgID))
	if err != nil {
		return err
	}
	if n >= int64(p.opts.MembershipLimit) {
		return forbidden(CodeMembershipLimitReached)
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
	roles := joinRoles(in.Roles)
	if roles == "" {
		return nil, badRequest(CodeRoleNotFound)
	}
	if bad := p.unknownRoles(ParseRoles(roles)); len(bad) > 0 {
		return nil, roleNotFound(bad)
	}
	if in.TeamID != "" && !p.opts.Teams.Enabled {
		return nil, messageOnly(http.StatusBadRequest, "Teams are not enabled")
	}
	if _, err := p.a.FindUserByID(ctx, in.UserID); err != nil {
		return nil, err
	}
	m := &Member{ID: auth.NewID(), OrganizationID: in.OrganizationID, UserID: in.UserID, Role: roles, CreatedAt: p.a.Now()}
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
			if _, err := p.addTeamMember(ctx, tx, in.TeamID, in.UserID); err != nil {
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
		return false, auth.StorageError(err)
	}
	return m != nil, nil
}

// MemberRole returns the stored role value of userID in orgID (e.g.
// "owner" or "admin,member"), or "" if the user is not a member.
func (p *Plugin) MemberRole(ctx context.Context, orgID, userID string) (string, error) {
	m, err := findMember(ctx, p.a.DB(), orgID, userID)
	if err != nil {
		return "", auth.StorageError(err)
	}
	if m == nil {
		return "", nil
	}
	return m.Role, nil
}

// HasPermission reports whether userID's roles in orgID allow perms (see
// Authorize). A non-member has no permission.
func (p *Plugin) HasPermission(ctx context.Context, orgID, userID string, perms Permissions) (bool, error) {
	role, err := p.MemberRole(ctx, orgID, userID)
	if err != nil || role == "" {
		return false, err
	}
	return p.Authorize(role, perms), nil
}

// Organization returns the organization with id, or an error with code
// CodeOrganizationNotFound.
func (p *Plugin) Organization(ctx context.Context, id string) (*Organization, error) {
	o, err := findOrg(ctx, p.a.DB(), id)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if o == nil {
		return nil, badRequest(CodeOrganizationNotFound)
	}
	return o, nil
}

// ListOrganizations returns the organizations userID is a member of.
func (p *Plugin) ListOrganizations(ctx context.Context, userID string) ([]*Organization, error) {
	recs, err := p.a.DB().FindMany(ctx, TableMember, storage.Query{Where: []storage.Where{storage.W("userId", userID)},
		Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if len(recs) == 0 {
		return []*Organization{}, nil
	}
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.String("organizationId")
	}
	orgs, err := p.a.DB().FindMany(ctx, TableOrganization, storage.Query{Where: []storage.Where{{Field: "id", Op: storage.In, Value: ids}}})
	if err != nil {
		return nil, auth.StorageError(err)
	}
	byID := map[string]*Organization{}
	for _, r := range orgs {
		byID[r.String("id")] = orgFromRecord(r)
	}
	out := make([]*Organization, 0, len(ids))
	for _, id := range ids {
		if o := byID[id]; o != nil {
			out = append(out, o)
		}
	}
	return out, nil
}

// Members returns the members of orgID, longest-standing first, each with
// its user.
func (p *Plugin) Members(ctx context.Context, orgID string) ([]*Member, error) {
	ms, err := members(ctx, p.a.DB(), orgID, 0)
	if err == nil {
		err = withUsers(ctx, p.a.DB(), ms)
	}
	if err != nil {
		return nil, auth.StorageError(err)
	}
	return ms, nil
}

// DeleteOrganization deletes an organization with its members,
// invitations and teams, and clears it from the sessions it was active
// in. It checks no permission.
func (p *Plugin) DeleteOrganization(ctx context.Context, orgID string) error {
	return p.tx(ctx, func(tx storage.Adapter) error {
		ok, err := lockRow(ctx, tx, TableOrganization, orgID)
		if err != nil {
			return err
		}
		if !ok {
			return badRequest(CodeOrganizationNotFound)
		}
		return p.deleteOrgTx(ctx, tx, orgID)
	})
}

func (p *Plugin) deleteOrgTx(ctx context.Context, tx storage.Adapter, orgID string) error {
	if p.opts.Teams.Enabled {
		teams, err := tx.FindMany(ctx, TableTeam, storage.Query{Where: []storage.Where{storage.W("organizationId", orgID)}})
		if err != nil {
			return err
		}
		for _, t := range teams {
			if _, err := tx.Delete(ctx, TableTeamMember, storage.W("teamId", t.String("id"))); err != nil {
				return err
			}
			if err := p.clearActive(ctx, tx, FieldActiveTeamID, t.String("id")); err != nil {
				return err
			}
		}
		if _, err := tx.Delete(ctx, TableTeam, storage.W("organizationId", orgID)); err != nil {
			return err
		}
	}
	for _, t := range []string{TableInvitation, TableMember} {
		if _, err := tx.Delete(ctx, t, storage.W("organizationId", orgID)); err != nil {
			return err
		}
	}
	if _, err := tx.Delete(ctx, TableOrganization, storage.W("id", orgID)); err != nil {
		return err
	}
	return p.clearActive(ctx, tx, FieldActiveOrganizationID, orgID)
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

// ---- invitations

type inviteInput struct {
	orgID   string
	email   string
	roles   []string
	resend  bool
	teamIDs []string
}

// invite creates (or with resend re-sends) an invitation from inviter and
// emails it.
func (p *Plugin) invite(ctx context.Context, inviter *auth.User, in inviteInput) (*Invitation, error) {
	if in.orgID == "" {
		return nil, badRequest(CodeOrganizationNotFound)
	}
	email := auth.NormalizeEmail(in.email)
	if !auth.ValidEmail(email) {
		return nil, auth.ErrInvalidEmail
	}
	roles := joinRoles(in.roles)
	now := p.a.Now()
	var (
		inv    *Invitation
		org    *Organization
		isNew  bool
		reMail bool
	)
	err := p.tx(ctx, func(tx storage.Adapter) error {
		member, err := p.lockMember(ctx, tx, in.orgID, inviter.ID, badRequest(CodeMemberNotFound),
			Permissions{"invitation": {"create"}}, forbidden(CodeNotAllowedToInvite))
		if err != nil {
			return err
		}
		if roles == "" {
			return badRequest(CodeRoleNotFound)
		}
		if bad := p.unknownRoles(ParseRoles(roles)); len(bad) > 0 {
			return roleNotFound(bad)
		}
		isCreator := hasRole(member.Role, p.opts.CreatorRole)
		if !isCreator && hasRole(roles, p.opts.CreatorRole) {
			return forbidden(CodeNotAllowedToInviteWithRole)
		}
		if org, err = findOrg(ctx, tx, in.orgID); err != nil {
			return err
		}
		if u, err := findOne(ctx, tx, auth.TableUser, storage.W("email", email)); err != nil {
			return err
		} else if u != nil {
			if m, err := findMember(ctx, tx, in.orgID, u.String("id")); err != nil || m != nil {
				if err == nil {
					err = badRequest(CodeAlreadyMember)
				}
				return err
			}
		}
		pending, err := pendingInvitations(ctx, tx, now, storage.W("organizationId", in.orgID), storage.W("email", email))
		if err != nil {
			return err
		}
		if len(pending) > 0 && !in.resend && !p.opts.CancelPendingInvitationsOnReInvite {
			return badRequest(CodeAlreadyInvited)
		}
		if len(pending) > 0 && in.resend {
			ex := pending[0]
			if !isCreator && hasRole(ex.Role, p.opts.CreatorRole) {
				return forbidden(CodeNotAllowedToInviteWithRole)
			}
			ex.ExpiresAt = now.Add(p.opts.InvitationExpiresIn)
			if _, err := tx.Update(ctx, TableInvitation, storage.Record{"expiresAt": ex.ExpiresAt}, storage.W("id", ex.ID)); err != nil {
				return err
			}
			inv, reMail = ex, true
			return nil
		}
		for _, ex := range pending { // CancelPendingInvitationsOnReInvite
			if _, err := tx.Update(ctx, TableInvitation, storage.Record{"status": StatusCanceled}, storage.W("id", ex.ID)); err != nil {
				return err
			}
		}
		all, err := pendingInvitations(ctx, tx, now, storage.W("organizationId", in.orgID))
		if err != nil {
			return err
		}
		if len(all) >= p.opts.InvitationLimit {
			return forbidden(CodeInvitationLimitReached)
		}
		var teamID *string
		if p.opts.Teams.Enabled && len(in.teamIDs) > 0 {
			for _, id := range in.teamIDs {
				if strings.Contains(id, ",") {
					return badRequest(CodeInvalidTeamID)
				}
				if _, err := requireTeam(ctx, tx, id, in.orgID); err != nil {
					return err
				}
				if max := p.opts.Teams.MaximumMembersPerTeam; max > 0 {
					n, err := tx.Count(ctx, TableTeamMember, storage.W("teamId", id))
					if err != nil {
						return err
					}
					if n >= int64(max) {
						return forbidden(CodeTeamMemberLimitReached)
					}
				}
			}
			teamID = ptr(strings.Join(in.teamIDs, ","))
		}
		inv = &Invitation{ID: auth.NewID(), OrganizationID: in.orgID, Email: email, Role: roles, Status: StatusPending,
			ExpiresAt: now.Add(p.opts.InvitationExpiresIn), CreatedAt: now, InviterID: inviter.ID, TeamID: teamID}
		isNew = true
		return tx.Create(ctx, TableInvitation, inv.record(p.opts.Teams.Enabled))
	})
	if err != nil {
		return nil, err
	}
	if isNew || reMail {
		if err := p.sendInvitation(ctx, inv, org, inviter); err != nil {
			if isNew {
				if _, derr := p.a.DB().Delete(context.WithoutCancel(ctx), TableInvitation, storage.W("id", inv.ID)); derr != nil {
					p.a.Logger().ErrorContext(ctx, "org: removing invitation after mail failure", "err", derr)
				}
			}
			return nil, err
		}
	}
	return inv, nil
}

// pendingInvitations returns the pending, unexpired invitations matching
// where, oldest first.
func pendingInvitations(ctx context.Context, db storage.Adapter, now time.Time, where ...storage.Where) ([]*Invitation, error) {
	w := append([]storage.Where{storage.W("status", StatusPending)}, where...)
	recs, err := db.FindMany(ctx, TableInvitation, storage.Query{Where: w, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, err
	}
	var out []*Invitation
	for _, r := range recs {
		if inv := invitationFromRecord(r); inv.ExpiresAt.After(now) {
			out = append(out, inv)
		}
	}
	return out, nil
}

// sendInvitation mails inv to its recipient (nothing without a Mailer).
func (p *Plugin) sendInvitation(ctx context.Context, inv *Invitation, org *Organization, inviter *auth.User) error {
	if p.a.Config().Mailer == nil {
		return nil
	}
	link := p.a.Config().BaseURL + "/accept-invitation/" + inv.ID
	if p.opts.InvitationURL != nil {
		link = p.opts.InvitationURL(inv)
	}
	who := inviter.Name
	if who == "" {
		who = inviter.Email
	}
	data := map[string]string{"inviter": who, "inviterEmail": inviter.Email, "role": inv.Role, "invitationId": inv.ID}
	if org != nil {
		data["organization"] = org.Name
		data["organizationSlug"] = org.Slug
	}
	return p.a.SendEmail(ctx, auth.Email{Kind: auth.EmailInvitation, To: inv.Email, URL: link, Data: data})
}

// acceptResult is what accepting an invitation did.
type acceptResult struct {
	inv     *Invitation
	member  *Member
	teamIDs []string
}

// accept accepts the invitation for u; the session sessionID gets the
// organization (and a single team) as active ones in the same transaction.
func (p *Plugin) accept(ctx context.Context, u *auth.User, invitationID, sessionID string) (*acceptResult, error) {
	now := p.a.Now()
	var res acceptResult
	err := p.tx(ctx, func(tx storage.Adapter) error {
		inv, err := findInvitation(ctx, tx, invitationID)
		if err != nil {
			return err
		}
		if inv == nil || inv.Status != StatusPending || inv.ExpiresAt.Before(now) {
			return badRequest(CodeInvitationNotFound)
		}
		if auth.NormalizeEmail(inv.Email) != auth.NormalizeEmail(u.Email) {
			return forbidden(CodeNotRecipient)
		}
		if p.opts.RequireEmailVerificationOnInvitation && !u.EmailVerified {
			return forbidden(CodeEmailVerificationRequiredAccept)
		}
		if err := p.lockToJoin(ctx, tx, inv.OrganizationID, u.ID); err != nil {
			return err
		}
		// Only a still-pending invitation may be accepted: of two
		// concurrent uses (or a use racing a cancel) one wins.
		n, err := tx.Update(ctx, TableInvitation, storage.Record{"status": StatusAccepted},
			storage.W("id", inv.ID), storage.W("status", StatusPending))
		if err != nil {
			return err
		}
		if n == 0 {
			return badRequest(CodeInvitationNotFound)
		}
		inv.Status = StatusAccepted
		role := inv.Role
		if ParseRoles(role) == nil {
			role = "member"
		}
		m := &Member{ID: auth.NewID(), OrganizationID: inv.OrganizationID, UserID: u.ID, Role: joinRoles(ParseRoles(role)), CreatedAt: now}
		if err := p.insertMember(ctx, tx, m); err != nil {
			return err
		}
		if p.opts.Teams.Enabled && inv.TeamID != nil && *inv.TeamID != "" {
			for _, id := range splitIDs(*inv.TeamID) {
				if _, err := requireTeam(ctx, tx, id, inv.OrganizationID); err != nil {
					return err
				}
				if _, err := p.addTeamMember(ctx, tx, id, u.ID); err != nil {
					return err
				}
				res.teamIDs = append(res.teamIDs, id)
			}
		}
		if len(res.teamIDs) == 1 {
			if err := setSessionField(ctx, tx, sessionID, FieldActiveTeamID, &res.teamIDs[0]); err != nil {
				return err
			}
		}
		res.inv, res.member = inv, m
		return setSessionField(ctx, tx, sessionID, FieldActiveOrganizationID, &inv.OrganizationID)
	})
	if err != nil {
		return nil, err
	}
	return &res, nil
}

// setStatus moves a pending invitation to status; it fails with
// INVITATION_NOT_FOUND if the invitation is no longer pending.
func setStatus(ctx context.Context, db storage.Adapter, inv *Invitation, status string) error {
	n, err := db.Update(ctx, TableInvitation, storage.Record{"status": status}, storage.W("id", inv.ID), storage.W("status", StatusPending))
	if err != nil {
		return auth.StorageError(err)
	}
	if n == 0 {
		return badRequest(CodeInvitationNotFound)
	}
	inv.Status = status
	return nil
}

// ---- members

// keepOwner fails with code unless orgID has more than one holder of the
// creator role (one of them is about to lose it).
func (p *Plugin) keepOwner(ctx context.Context, tx storage.Adapter, orgID, code string) error {
	ms, err := members(ctx, tx, orgID, 0)
	if err != nil {
		return err
	}
	if p.countOwners(ms) <= 1 {
		return badRequest(code)
	}
	return nil
}

// removeMember removes the member identified by id or email from orgID on
// behalf of actor, with Better Auth's checks, under the organization's
// lock. byEmail reports whether the target was named by email (Better Auth
// then returns it with its user).
func (p *Plugin) removeMember(ctx context.Context, actor *auth.User, orgID, idOrEmail string) (*Member, error) {
	var target *Member
	err := p.tx(ctx, func(tx storage.Adapter) error {
		me, err := p.lockMember(ctx, tx, orgID, actor.ID, badRequest(CodeMemberNotFound), nil, nil)
		if err != nil {
			return err
		}
		byEmail := strings.Contains(idOrEmail, "@")
		if byEmail {
			u, err := findOne(ctx, tx, auth.TableUser, storage.W("email", auth.NormalizeEmail(idOrEmail)))
			if err != nil {
				return err
			}
			if u != nil {
				if target, err = findMember(ctx, tx, orgID, u.String("id")); err != nil {
					return err
				}
				if target != nil {
					target.User = memberUser(u)
				}
			}
		} else if target, err = findMemberByID(ctx, tx, orgID, idOrEmail); err != nil {
			return err
		}
		if target == nil {
			return badRequest(CodeMemberNotFound)
		}
		if hasRole(target.Role, p.opts.CreatorRole) {
			if !hasRole(me.Role, p.opts.CreatorRole) {
				return badRequest(CodeCannotLeaveAsOnlyOwner)
			}
			if err := p.keepOwner(ctx, tx, orgID, CodeCannotLeaveAsOnlyOwner); err != nil {
				return err
			}
		}
		if !p.Authorize(me.Role, Permissions{"member": {"delete"}}) {
			return newErr(http.StatusUnauthorized, CodeNotAllowedToDeleteMember)
		}
		return p.removeMemberTx(ctx, tx, target)
	})
	if err != nil {
		return nil, err
	}
	return target, nil
}

// updateMemberRole sets the roles of member memberID of orgID on behalf of
// actor, with Better Auth's checks, under the organization's lock. The
// last holder of the creator role cannot lose it, whoever asks.
func (p *Plugin) updateMemberRole(ctx context.Context, actor *auth.User, orgID, memberID string, roles []string) (*Member, error) {
	if len(roles) == 0 {
		return nil, badRequest(CodeRoleNotFound)
	}
	newRole := joinRoles(roles)
	var target *Member
	err := p.tx(ctx, func(tx storage.Adapter) error {
		me, err := p.lockMember(ctx, tx, orgID, actor.ID, badRequest(CodeMemberNotFound), nil, nil)
		if err != nil {
			return err
		}
		// Looked up by id alone: a member of another organization is
		// refused (403) rather than not found, as in Better Auth.
		r, err := findOne(ctx, tx, TableMember, storage.W("id", memberID))
		if err != nil {
			return err
		}
		if r == nil {
			return badRequest(CodeMemberNotFound)
		}
		if target = memberFromRecord(r); target.OrganizationID != orgID {
			return forbidden(CodeNotAllowedToUpdateMember)
		}
		creator := p.opts.CreatorRole
		updaterIsCreator := hasRole(me.Role, creator)
		targetIsCreator := hasRole(target.Role, creator)
		settingCreator := slices.Contains(roles, creator)
		if (targetIsCreator || settingCreator) && !updaterIsCreator {
			return forbidden(CodeNotAllowedToUpdateMember)
		}
		if targetIsCreator && !settingCreator {
			if err := p.keepOwner(ctx, tx, orgID, CodeCannotLeaveWithoutOwner); err != nil {
				return err
			}
		}
		if !updaterIsCreator && !p.Authorize(me.Role, Permissions{"member": {"update"}}) {
			return forbidden(CodeNotAllowedToUpdateMember)
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

// leave removes u from orgID unless u is its last owner.
func (p *Plugin) leave(ctx context.Context, u *auth.User, orgID string) (*Member, error) {
	var me *Member
	err := p.tx(ctx, func(tx storage.Adapter) error {
		var err error
		if me, err = p.lockMember(ctx, tx, orgID, u.ID, badRequest(CodeMemberNotFound), nil, nil); err != nil {
			return err
		}
		if hasRole(me.Role, p.opts.CreatorRole) {
			if err := p.keepOwner(ctx, tx, orgID, CodeCannotLeaveAsOnlyOwner); err != nil {
				return err
			}
		}
		me.User = &MemberUser{ID: u.ID, Name: u.Name, Email: u.Email, Image: u.Image}
		return p.removeMemberTx(ctx, tx, me)
	})
	if err != nil {
		return nil, err
	}
	return me, nil
}
