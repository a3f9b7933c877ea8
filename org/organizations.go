package org

import (
	"context"
	"errors"
	"net/http"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// CreateOrganizationInput is the input of CreateOrganization.
type CreateOrganizationInput struct {
	// UserID is the creator when there is no session: a call by the
	// server on a user's behalf (Better Auth's system action), for which
	// AllowUserToCreateOrganization is not consulted. With a session it
	// is ignored.
	UserID string
	// Name is required.
	Name string
	// Slug must be unique and valid (see ValidSlug).
	Slug string
	// Logo is optional.
	Logo *string
	// Metadata is optional; it is stored as JSON text.
	Metadata map[string]any
	// KeepCurrentActiveOrganization leaves the session's active
	// organization as it is; otherwise the new organization (and its
	// default team) become the active ones.
	KeepCurrentActiveOrganization bool
}

// CreateOrganization creates an organization with its creator as the
// member holding the creator role (and, with teams, a default team named
// after it with the creator in it): POST /organization/create.
//
// The creator is sd's user, if AllowUserToCreateOrganization lets them
// (403 YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION otherwise); the
// new organization becomes the session's active one unless
// in.KeepCurrentActiveOrganization. With a nil sd the creator is
// in.UserID and no session changes. OrganizationLimit holds either way.
func (p *Plugin) CreateOrganization(ctx context.Context, sd *plugin.SessionData, in CreateOrganizationInput) (*Organization, *Member, error) {
	var u *plugin.User
	sessionID := ""
	if sd == nil {
		if in.UserID == "" {
			return nil, nil, auth.ErrUnauthorized
		}
		var err error
		if u, err = p.a.FindUserByID(ctx, in.UserID); err != nil {
			return nil, nil, err
		}
	} else {
		var err error
		if u, err = actor(sd); err != nil {
			return nil, nil, err
		}
		if f := p.opts.AllowUserToCreateOrganization; f != nil {
			ok, err := f(ctx, u)
			if err != nil {
				return nil, nil, apiErr(err)
			}
			if !ok {
				return nil, nil, ErrNotAllowedToCreateOrganization
			}
		}
		if !in.KeepCurrentActiveOrganization {
			sessionID = sessionIDOf(sd)
		}
	}
	if err := checkOrgName(in.Name, "[body.name]"); err != nil {
		return nil, nil, err
	}
	if err := p.checkSlug(in.Slug); err != nil {
		return nil, nil, err
	}
	meta, err := metadataValue(in.Metadata)
	if err != nil {
		return nil, nil, validation("[body.metadata] " + err.Error())
	}
	now := p.a.Now()
	org := &Organization{ID: plugin.NewID(), Name: in.Name, Slug: in.Slug, Logo: in.Logo, Metadata: in.Metadata, CreatedAt: now}
	m := &Member{ID: plugin.NewID(), OrganizationID: org.ID, UserID: u.ID, Role: p.opts.CreatorRole, CreatedAt: now}
	var defaultTeam *string
	err = p.tx(ctx, func(tx storage.Adapter) error {
		if p.opts.OrganizationLimit > 0 {
			// The user row is the lock that makes the count hold.
			ok, err := lockRow(ctx, tx, plugin.TableUser, u.ID)
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
				return ErrMaximumOrganizationsReached
			}
		}
		if o, err := findOrgBySlug(ctx, tx, in.Slug); err != nil || o != nil {
			if err == nil {
				err = ErrOrganizationAlreadyExists
			}
			return err
		}
		err := tx.Create(ctx, TableOrganization, storage.Record{"id": org.ID, "name": org.Name, "slug": org.Slug,
			"logo": org.Logo, "createdAt": org.CreatedAt, "metadata": meta})
		if errors.Is(err, storage.ErrConflict) {
			return ErrOrganizationAlreadyExists
		}
		if err != nil {
			return err
		}
		if err := p.insertMember(ctx, tx, m); err != nil {
			return err
		}
		if p.opts.Teams.Enabled && !p.opts.Teams.DisableDefaultTeam {
			t := &Team{ID: plugin.NewID(), Name: org.Name, OrganizationID: org.ID, CreatedAt: now, UpdatedAt: &now}
			if err := insertTeam(ctx, tx, t); err != nil {
				return err
			}
			if _, err := p.joinTeam(ctx, tx, t.ID, u.ID); err != nil {
				return err
			}
			defaultTeam = &t.ID
			if err := setSessionField(ctx, tx, sessionID, FieldActiveTeamID, &t.ID); err != nil {
				return err
			}
		}
		return setSessionField(ctx, tx, sessionID, FieldActiveOrganizationID, &org.ID)
	})
	if err != nil {
		return nil, nil, err
	}
	if sessionID != "" {
		mirror(sd, FieldActiveOrganizationID, &org.ID)
		if defaultTeam != nil {
			mirror(sd, FieldActiveTeamID, defaultTeam)
		}
	}
	return org, m, nil
}

// checkOrgName checks an organization's name (it goes into invitation
// mails): not empty, and valid as a user's name (plugin.CheckName). field
// names it in the error, as Better Auth's validation does.
func checkOrgName(name, field string) error {
	if name == "" {
		return validation(field + " Too small: expected string to have >=1 characters")
	}
	return plugin.CheckName(name)
}

// CheckOrganizationSlug returns nil if slug is valid (see ValidSlug) and
// no organization has it, an error with code INVALID_SLUG or
// ORGANIZATION_SLUG_ALREADY_TAKEN otherwise: POST
// /organization/check-slug.
func (p *Plugin) CheckOrganizationSlug(ctx context.Context, slug string) error {
	if err := p.checkSlug(slug); err != nil {
		return err
	}
	o, err := findOrgBySlug(ctx, p.a.DB(), slug)
	if err != nil {
		return plugin.StorageError(err)
	}
	if o != nil {
		return ErrSlugTaken
	}
	return nil
}

// UpdateOrganizationInput is the input of UpdateOrganization. Nil fields
// stay as they are.
type UpdateOrganizationInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	Name           *string
	Slug           *string
	// Logo replaces the logo; ClearLogo removes it.
	Logo      *string
	ClearLogo bool
	// Metadata replaces the metadata.
	Metadata map[string]any
}

// UpdateOrganization changes an organization's name, slug, logo or
// metadata, for a member allowed organization:update: POST
// /organization/update. It returns the organization as stored.
func (p *Plugin) UpdateOrganization(ctx context.Context, sd *plugin.SessionData, in UpdateOrganizationInput) (*Organization, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	set := storage.Record{}
	if in.Name != nil {
		if err := checkOrgName(*in.Name, "[body.data.name]"); err != nil {
			return nil, err
		}
		set["name"] = *in.Name
	}
	if in.Slug != nil {
		set["slug"] = *in.Slug
	}
	if in.ClearLogo {
		set["logo"] = nil
	} else if in.Logo != nil {
		set["logo"] = *in.Logo
	}
	if in.Metadata != nil {
		s, err := metadataValue(in.Metadata)
		if err != nil {
			return nil, validation("[body.data.metadata] " + err.Error())
		}
		set["metadata"] = s
	}
	orgID := orgOrActive(sd, in.OrganizationID)
	if orgID == "" {
		return nil, ErrOrganizationNotFound
	}
	var org *Organization
	err = p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, u.ID, ErrUserNotMember,
			Permissions{"organization": {"update"}}, ErrNotAllowedToUpdateOrganization)
		if err != nil {
			return err
		}
		if in.Slug != nil {
			if err := p.checkSlug(*in.Slug); err != nil {
				return err
			}
			if o, err := findOrgBySlug(ctx, tx, *in.Slug); err != nil || o != nil && o.ID != orgID {
				if err == nil {
					err = ErrSlugTaken
				}
				return err
			}
		}
		if len(set) > 0 {
			if _, err := tx.Update(ctx, TableOrganization, set, storage.W("id", orgID)); err != nil {
				if isConflict(err) {
					return ErrSlugTaken
				}
				return err
			}
		}
		org, err = findOrg(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return org, nil
}

// DeleteOrganization deletes an organization with its members,
// invitations and teams, for a member allowed organization:delete, and
// clears it from every session it was active in: POST
// /organization/delete. It returns the deleted organization. With
// Options.DisableOrganizationDeletion it answers 404.
func (p *Plugin) DeleteOrganization(ctx context.Context, sd *plugin.SessionData, orgID string) (*Organization, error) {
	if p.opts.DisableOrganizationDeletion {
		return nil, ErrOrganizationDeletionDisabled
	}
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	if orgID == "" {
		return nil, ErrOrganizationNotFound
	}
	var org *Organization
	err = p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, u.ID, ErrUserNotMember,
			Permissions{"organization": {"delete"}}, ErrNotAllowedToDeleteOrganization)
		if err != nil {
			return err
		}
		if org, err = findOrg(ctx, tx, orgID); err != nil {
			return err
		}
		return p.deleteOrgTx(ctx, tx, orgID)
	})
	if err != nil {
		return nil, err
	}
	forget(sd, FieldActiveOrganizationID, orgID)
	return org, nil
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

// SetActiveOrganizationInput is the input of SetActiveOrganization.
type SetActiveOrganizationInput struct {
	// OrganizationID, or else OrganizationSlug, names the organization.
	// Without both, the session's active organization is checked again.
	OrganizationID   string
	OrganizationSlug string
	// Unset clears the active organization (the route's
	// organizationId: null); the other fields are then ignored.
	Unset bool
}

// SetActiveOrganization makes an organization sd's session's active one,
// if sd's user is a member of it, and returns it: POST
// /organization/set-active. A non-member (an unknown id is answered
// alike) gets 403 USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION and the
// session's active organization is cleared, as Better Auth does; an
// unknown slug is 400 ORGANIZATION_NOT_FOUND. It returns nil when it
// cleared the active organization or there was none to check.
func (p *Plugin) SetActiveOrganization(ctx context.Context, sd *plugin.SessionData, in SetActiveOrganizationInput) (*Organization, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, err
	}
	if in.Unset {
		if ActiveOrganizationID(sd) == "" {
			return nil, nil
		}
		return nil, p.clearSessionField(ctx, sd, FieldActiveOrganizationID)
	}
	id, slug := in.OrganizationID, in.OrganizationSlug
	if id == "" && slug == "" {
		if id = ActiveOrganizationID(sd); id == "" {
			return nil, nil
		}
	}
	if id != "" {
		slug = ""
	}
	o, err := p.findOrgByIDOrSlug(ctx, id, slug)
	if err != nil {
		return nil, err
	}
	if o == nil && slug != "" {
		return nil, ErrOrganizationNotFound
	}
	// An unknown id is answered as Better Auth does: as for a non-member.
	var m *Member
	if o != nil {
		if m, err = findMember(ctx, p.a.DB(), o.ID, u.ID); err != nil {
			return nil, plugin.StorageError(err)
		}
	}
	if m == nil {
		return nil, p.notMember(ctx, sd)
	}
	// Store it under the organization's lock, re-checking membership, so
	// that a concurrent removal cannot leave the session pointing at an
	// organization its user left.
	err = p.tx(ctx, func(tx storage.Adapter) error {
		if _, err := p.lockMember(ctx, tx, o.ID, u.ID, withStatus(ErrUserNotMember, http.StatusForbidden), nil, nil); err != nil {
			return err
		}
		return setSessionField(ctx, tx, sessionIDOf(sd), FieldActiveOrganizationID, &o.ID)
	})
	if err != nil {
		return nil, err
	}
	mirror(sd, FieldActiveOrganizationID, &o.ID)
	return o, nil
}

// notMember clears sd's active organization, as Better Auth does when the
// caller turns out not to be a member, and returns 403
// USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION.
func (p *Plugin) notMember(ctx context.Context, sd *plugin.SessionData) error {
	if ActiveOrganizationID(sd) != "" {
		if err := p.clearSessionField(ctx, sd, FieldActiveOrganizationID); err != nil {
			return err
		}
	}
	return withStatus(ErrUserNotMember, http.StatusForbidden)
}

// findOrgByIDOrSlug returns the organization with slug, or without a slug
// the one with id (nil if there is none).
func (p *Plugin) findOrgByIDOrSlug(ctx context.Context, id, slug string) (*Organization, error) {
	if slug != "" {
		o, err := findOrgBySlug(ctx, p.a.DB(), slug)
		return o, apiErr(err)
	}
	o, err := findOrg(ctx, p.a.DB(), id)
	return o, apiErr(err)
}

// GetOrganizationInput is the input of GetOrganization: the organization
// with OrganizationSlug if set, else the one with OrganizationID, else
// the session's active one.
type GetOrganizationInput struct {
	OrganizationID   string
	OrganizationSlug string
}

// GetFullOrganizationInput is the input of GetFullOrganization. The
// organization is named as in GetOrganizationInput.
type GetFullOrganizationInput struct {
	OrganizationID   string
	OrganizationSlug string
	// MembersLimit caps the members returned. 0: MembershipLimit.
	MembersLimit int
}

// memberOrg resolves the organization with slug, or else id, or else
// sd's active one, for sd's user, as Better
// Auth's get-organization does: nil without one (none named, no active
// one); 400 ORGANIZATION_NOT_FOUND if there is no such organization; if
// the user is not a member, the session's active organization is cleared
// and the answer is 403 USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION.
// (Whether a slug is taken is no secret: check-slug tells every signed-in
// user.)
func (p *Plugin) memberOrg(ctx context.Context, sd *plugin.SessionData, id, slug string) (*Organization, *Member, error) {
	u, err := actor(sd)
	if err != nil {
		return nil, nil, err
	}
	if id == "" && slug == "" {
		if id = ActiveOrganizationID(sd); id == "" {
			return nil, nil, nil
		}
	}
	o, err := p.findOrgByIDOrSlug(ctx, id, slug)
	if err != nil {
		return nil, nil, err
	}
	if o == nil {
		return nil, nil, ErrOrganizationNotFound
	}
	m, err := findMember(ctx, p.a.DB(), o.ID, u.ID)
	if err != nil {
		return nil, nil, plugin.StorageError(err)
	}
	if m == nil {
		return nil, nil, p.notMember(ctx, sd)
	}
	return o, m, nil
}

// GetOrganization returns an organization sd's user is a member of: GET
// /organization/get-organization. It returns nil if in names none and
// the session has no active organization.
func (p *Plugin) GetOrganization(ctx context.Context, sd *plugin.SessionData, in GetOrganizationInput) (*Organization, error) {
	o, _, err := p.memberOrg(ctx, sd, in.OrganizationID, in.OrganizationSlug)
	return o, err
}

// GetFullOrganization returns an organization sd's user is a member of
// with its members (each with its user; at most in.MembersLimit), the
// invitations the user may see (none without invitation:create; those
// granting the creator role only to its holders) and, with teams, its
// teams: GET /organization/get-full-organization. It returns nil if in
// names none and the session has no active organization.
func (p *Plugin) GetFullOrganization(ctx context.Context, sd *plugin.SessionData, in GetFullOrganizationInput) (*FullOrganization, error) {
	o, me, err := p.memberOrg(ctx, sd, in.OrganizationID, in.OrganizationSlug)
	if o == nil || err != nil {
		return nil, err
	}
	limit := p.opts.MembershipLimit
	if in.MembersLimit > 0 {
		limit = in.MembersLimit
	}
	db := p.a.DB()
	full := &FullOrganization{Organization: o}
	if full.Members, err = members(ctx, db, o.ID, limit); err != nil {
		return nil, plugin.StorageError(err)
	}
	if err := withUsers(ctx, db, full.Members); err != nil {
		return nil, plugin.StorageError(err)
	}
	if p.Authorize(me.Role, Permissions{"invitation": {"create"}}) {
		if full.Invitations, err = p.orgInvitations(ctx, o.ID, me); err != nil {
			return nil, err
		}
	}
	if p.opts.Teams.Enabled {
		if full.Teams, err = listTeams(ctx, db, o.ID); err != nil {
			return nil, plugin.StorageError(err)
		}
		full.Teams = nonNil(full.Teams)
	}
	return full, nil
}

// Organization returns the organization with id, or
// ErrOrganizationNotFound. It checks no membership (the caller is trusted).
func (p *Plugin) Organization(ctx context.Context, id string) (*Organization, error) {
	o, err := findOrg(ctx, p.a.DB(), id)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if o == nil {
		return nil, ErrOrganizationNotFound
	}
	return o, nil
}

// ListOrganizations returns the organizations userID is a member of, in
// the order they joined: GET /organization/list for the session's user.
func (p *Plugin) ListOrganizations(ctx context.Context, userID string) ([]*Organization, error) {
	recs, err := p.a.DB().FindMany(ctx, TableMember, storage.Query{Where: []storage.Where{storage.W("userId", userID)},
		Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
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
		return nil, plugin.StorageError(err)
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
