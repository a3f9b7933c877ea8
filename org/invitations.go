package org

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// InviteMemberInput is the input of InviteMember.
type InviteMemberInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	// Email is the invitee's address.
	Email string
	// Roles are the roles the invitee gets; at least one, each a known
	// role; the creator role only from its holders.
	Roles []string
	// Resend re-sends a pending invitation of Email (with a new expiry)
	// instead of refusing with USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION.
	Resend bool
	// TeamIDs are teams of the organization the invitee joins on
	// accepting (teams only).
	TeamIDs []string
}

// InviteMember invites an email address into an organization on behalf of
// sd's user, who needs invitation:create, and emails the invitation (see
// the package documentation): POST /organization/invite-member. The
// limits (InvitationLimit, MaximumMembersPerTeam) hold under the
// organization's lock. If the mail cannot be sent, a new invitation is
// removed again and the mail error returned.
func (p *Plugin) InviteMember(ctx context.Context, sd *plugin.SessionData, in InviteMemberInput) (*Invitation, error) {
	inviter, err := actor(sd)
	if err != nil {
		return nil, err
	}
	orgID := orgOrActive(sd, in.OrganizationID)
	if orgID == "" {
		return nil, ErrOrganizationNotFound
	}
	email := plugin.NormalizeEmail(in.Email)
	if !plugin.ValidEmail(email) {
		return nil, auth.ErrInvalidEmail
	}
	roles := joinRoles(roleList(in.Roles))
	now := p.a.Now()
	var (
		inv    *Invitation
		org    *Organization
		isNew  bool
		reMail bool
	)
	err = p.tx(ctx, func(tx storage.Adapter) error {
		member, err := p.lockMember(ctx, tx, orgID, inviter.ID, ErrMemberNotFound,
			Permissions{"invitation": {"create"}}, ErrNotAllowedToInvite)
		if err != nil {
			return err
		}
		if roles == "" {
			return ErrRoleNotFound
		}
		if bad := p.unknownRoles(ParseRoles(roles)); len(bad) > 0 {
			return roleNotFound(bad)
		}
		isCreator := hasRole(member.Role, p.opts.CreatorRole)
		if !isCreator && hasRole(roles, p.opts.CreatorRole) {
			return ErrNotAllowedToInviteWithRole
		}
		if org, err = findOrg(ctx, tx, orgID); err != nil {
			return err
		}
		if u, err := findOne(ctx, tx, plugin.TableUser, storage.W("email", email)); err != nil {
			return err
		} else if u != nil {
			if m, err := findMember(ctx, tx, orgID, u.String("id")); err != nil || m != nil {
				if err == nil {
					err = ErrAlreadyMember
				}
				return err
			}
		}
		pending, err := pendingInvitations(ctx, tx, now, storage.W("organizationId", orgID), storage.W("email", email))
		if err != nil {
			return err
		}
		if len(pending) > 0 && !in.Resend && !p.opts.CancelPendingInvitationsOnReInvite {
			return ErrAlreadyInvited
		}
		if len(pending) > 0 && in.Resend {
			ex := pending[0]
			if !isCreator && hasRole(ex.Role, p.opts.CreatorRole) {
				return ErrNotAllowedToInviteWithRole
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
		all, err := pendingInvitations(ctx, tx, now, storage.W("organizationId", orgID))
		if err != nil {
			return err
		}
		if len(all) >= p.opts.InvitationLimit {
			return ErrInvitationLimitReached
		}
		var teamID *string
		if p.opts.Teams.Enabled && len(in.TeamIDs) > 0 {
			for _, id := range in.TeamIDs {
				if strings.Contains(id, ",") {
					return ErrInvalidTeamID
				}
				if _, err := requireTeam(ctx, tx, id, orgID); err != nil {
					return err
				}
				if err := p.teamHasRoom(ctx, tx, id); err != nil {
					return err
				}
			}
			teamID = ptr(strings.Join(in.TeamIDs, ","))
		}
		inv = &Invitation{ID: plugin.NewID(), OrganizationID: orgID, Email: email, Role: roles, Status: StatusPending,
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
func (p *Plugin) sendInvitation(ctx context.Context, inv *Invitation, org *Organization, inviter *plugin.User) error {
	if !p.a.Settings().Mail {
		return nil
	}
	link := p.a.Settings().BaseURL + "/accept-invitation/" + inv.ID
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
	return p.a.SendEmail(ctx, plugin.Email{Kind: plugin.EmailInvitation, To: inv.Email, URL: link, Data: data})
}

// AcceptInvitation accepts an invitation for sd's user, who must be its
// recipient (and, with RequireEmailVerificationOnInvitation, verified):
// POST /organization/accept-invitation. The user becomes a member with
// the invitation's roles (and joins its teams) under the organization's
// lock, within MembershipLimit; the organization (and a single team)
// become the session's active ones in the same transaction. It returns
// the accepted invitation and the new member.
func (p *Plugin) AcceptInvitation(ctx context.Context, sd *plugin.SessionData, invitationID string) (*Invitation, *Member, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, nil, err
	}
	sessionID := sessionIDOf(sd)
	now := p.a.Now()
	var (
		inv     *Invitation
		m       *Member
		teamIDs []string
	)
	err = p.tx(ctx, func(tx storage.Adapter) error {
		var err error
		if inv, err = findInvitation(ctx, tx, invitationID); err != nil {
			return err
		}
		if inv == nil || inv.Status != StatusPending || inv.ExpiresAt.Before(now) {
			return ErrInvitationNotFound
		}
		if plugin.NormalizeEmail(inv.Email) != plugin.NormalizeEmail(u.Email) {
			return ErrNotRecipient
		}
		if p.opts.RequireEmailVerificationOnInvitation && !u.EmailVerified {
			return ErrEmailVerificationRequiredAccept
		}
		if err := p.lockToJoin(ctx, tx, inv.OrganizationID, u.ID); err != nil {
			return err
		}
		// Only a still-pending invitation may be accepted: of two
		// concurrent uses (or a use racing a cancel) one wins.
		if err := setStatus(ctx, tx, inv, StatusAccepted); err != nil {
			return err
		}
		role := inv.Role
		if ParseRoles(role) == nil {
			role = "member"
		}
		m = &Member{ID: plugin.NewID(), OrganizationID: inv.OrganizationID, UserID: u.ID, Role: joinRoles(ParseRoles(role)), CreatedAt: now}
		if err := p.insertMember(ctx, tx, m); err != nil {
			return err
		}
		if p.opts.Teams.Enabled && inv.TeamID != nil && *inv.TeamID != "" {
			for _, id := range splitList(*inv.TeamID) {
				if _, err := requireTeam(ctx, tx, id, inv.OrganizationID); err != nil {
					return err
				}
				if _, err := p.joinTeam(ctx, tx, id, u.ID); err != nil {
					return err
				}
				teamIDs = append(teamIDs, id)
			}
		}
		if len(teamIDs) == 1 {
			if err := setSessionField(ctx, tx, sessionID, FieldActiveTeamID, &teamIDs[0]); err != nil {
				return err
			}
		}
		return setSessionField(ctx, tx, sessionID, FieldActiveOrganizationID, &inv.OrganizationID)
	})
	if err != nil {
		return nil, nil, err
	}
	if len(teamIDs) == 1 {
		mirror(sd, FieldActiveTeamID, &teamIDs[0])
	}
	mirror(sd, FieldActiveOrganizationID, &inv.OrganizationID)
	return inv, m, nil
}

// setStatus moves a pending invitation to status; it fails with
// INVITATION_NOT_FOUND if the invitation is no longer pending (a
// conditional update, so that of two concurrent changes one wins).
func setStatus(ctx context.Context, db storage.Adapter, inv *Invitation, status string) error {
	n, err := db.Update(ctx, TableInvitation, storage.Record{"status": status}, storage.W("id", inv.ID), storage.W("status", StatusPending))
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrInvitationNotFound
	}
	inv.Status = status
	return nil
}

// RejectInvitation rejects an invitation for sd's user, who must be its
// recipient (and, with RequireEmailVerificationOnInvitation, verified):
// POST /organization/reject-invitation. It returns the rejected
// invitation.
func (p *Plugin) RejectInvitation(ctx context.Context, sd *plugin.SessionData, invitationID string) (*Invitation, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	inv, err := findInvitation(ctx, p.a.DB(), invitationID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if inv == nil || inv.Status != StatusPending {
		return nil, ErrInvitationNotFound.WithMessage("Invitation not found!")
	}
	if plugin.NormalizeEmail(inv.Email) != plugin.NormalizeEmail(u.Email) {
		return nil, ErrNotRecipient
	}
	if p.opts.RequireEmailVerificationOnInvitation && !u.EmailVerified {
		return nil, ErrEmailVerificationRequiredAccept
	}
	if err := setStatus(ctx, p.a.DB(), inv, StatusRejected); err != nil {
		return nil, apiErr(err)
	}
	return inv, nil
}

// CancelInvitation cancels a pending invitation, for a member of its
// organization allowed invitation:cancel: POST
// /organization/cancel-invitation. It returns the cancelled invitation.
func (p *Plugin) CancelInvitation(ctx context.Context, sd *plugin.SessionData, invitationID string) (*Invitation, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	db := p.a.DB()
	inv, err := findInvitation(ctx, db, invitationID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if inv == nil {
		return nil, ErrInvitationNotFound
	}
	_, err = p.requireMember(ctx, db, inv.OrganizationID, u.ID, ErrMemberNotFound,
		Permissions{"invitation": {"cancel"}}, ErrNotAllowedToCancelInvitation)
	if err != nil {
		return nil, err
	}
	if inv.Status != StatusPending {
		return nil, ErrInvitationNotFound
	}
	if err := setStatus(ctx, db, inv, StatusCanceled); err != nil {
		return nil, apiErr(err)
	}
	return inv, nil
}

// InvitationDetail is an invitation with its organization's name and slug
// and its inviter's email: the answer of GetInvitation.
type InvitationDetail struct {
	*Invitation
	OrganizationName string
	OrganizationSlug string
	InviterEmail     string
}

// MarshalJSON renders the invitation as Better Auth's get-invitation does.
func (d *InvitationDetail) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		invitationJSON
		OrganizationName string `json:"organizationName"`
		OrganizationSlug string `json:"organizationSlug"`
		InviterEmail     string `json:"inviterEmail"`
	}{d.Invitation.json(), d.OrganizationName, d.OrganizationSlug, d.InviterEmail})
}

// GetInvitation returns a pending invitation to sd's user (who must be its
// recipient and, with RequireEmailVerificationOnInvitation, verified),
// while its inviter is still a member: GET /organization/get-invitation.
func (p *Plugin) GetInvitation(ctx context.Context, sd *plugin.SessionData, invitationID string) (*InvitationDetail, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	db := p.a.DB()
	inv, err := findInvitation(ctx, db, invitationID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if inv == nil || inv.Status != StatusPending || inv.ExpiresAt.Before(p.a.Now()) {
		return nil, ErrInvitationNotFound
	}
	if plugin.NormalizeEmail(inv.Email) != plugin.NormalizeEmail(u.Email) {
		return nil, ErrNotRecipient
	}
	if p.opts.RequireEmailVerificationOnInvitation && !u.EmailVerified {
		return nil, ErrEmailVerificationRequired
	}
	o, err := findOrg(ctx, db, inv.OrganizationID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if o == nil {
		return nil, ErrOrganizationNotFound
	}
	m, err := findMember(ctx, db, inv.OrganizationID, inv.InviterID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if m == nil {
		return nil, ErrInviterNoLongerMember
	}
	inviter, err := findOne(ctx, db, plugin.TableUser, storage.W("id", inv.InviterID))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return &InvitationDetail{Invitation: inv, OrganizationName: o.Name, OrganizationSlug: o.Slug,
		InviterEmail: inviter.String("email")}, nil
}

// ListInvitations returns the invitations of the organization orgID
// (default: the session's active one), for a member allowed
// invitation:create; those granting the creator role only to its
// holders: GET /organization/list-invitations.
func (p *Plugin) ListInvitations(ctx context.Context, sd *plugin.SessionData, orgID string) ([]*Invitation, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	if orgID = orgOrActive(sd, orgID); orgID == "" {
		return nil, messageOnly(http.StatusBadRequest, "Organization ID is required")
	}
	m, err := p.requireMember(ctx, p.a.DB(), orgID, u.ID, messageOnly(http.StatusForbidden, ErrNotAMember.Message),
		Permissions{"invitation": {"create"}}, ErrNotAllowedToListInvitations)
	if err != nil {
		return nil, err
	}
	return p.orgInvitations(ctx, orgID, m)
}

// orgInvitations returns the organization's invitations, without those
// granting the creator role unless me holds it (Better Auth's rule).
func (p *Plugin) orgInvitations(ctx context.Context, orgID string, me *Member) ([]*Invitation, error) {
	recs, err := p.a.DB().FindMany(ctx, TableInvitation, storage.Query{
		Where: []storage.Where{storage.W("organizationId", orgID)}, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	creator := hasRole(me.Role, p.opts.CreatorRole)
	out := []*Invitation{}
	for _, r := range recs {
		inv := invitationFromRecord(r)
		if creator || !hasRole(inv.Role, p.opts.CreatorRole) {
			out = append(out, inv)
		}
	}
	return out, nil
}

// UserInvitation is an invitation with its organization's name: an entry
// of ListUserInvitations.
type UserInvitation struct {
	*Invitation
	OrganizationName string
}

// MarshalJSON renders the invitation as Better Auth's
// list-user-invitations does.
func (u *UserInvitation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		invitationJSON
		OrganizationName string `json:"organizationName"`
	}{u.Invitation.json(), u.OrganizationName})
}

// ListUserInvitations returns the pending, unexpired invitations to sd's
// user's email, who must have verified it: GET
// /organization/list-user-invitations.
func (p *Plugin) ListUserInvitations(ctx context.Context, sd *plugin.SessionData) ([]*UserInvitation, error) {
	if sd == nil || sd.User == nil {
		return nil, messageOnly(http.StatusBadRequest, "Missing session headers, or email query parameter.")
	}
	if !sd.User.EmailVerified {
		return nil, ErrEmailVerificationRequired
	}
	db := p.a.DB()
	invs, err := pendingInvitations(ctx, db, p.a.Now(), storage.W("email", plugin.NormalizeEmail(sd.User.Email)))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := []*UserInvitation{}
	for _, inv := range invs {
		o, err := findOrg(ctx, db, inv.OrganizationID)
		if err != nil {
			return nil, plugin.StorageError(err)
		}
		name := ""
		if o != nil {
			name = o.Name
		}
		out = append(out, &UserInvitation{Invitation: inv, OrganizationName: name})
	}
	return out, nil
}
