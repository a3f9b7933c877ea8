package org

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
)

// Endpoints implements auth.EndpointSource: Better Auth's organization
// routes, with its methods (see the package documentation for the list).
func (p *Plugin) Endpoints() []auth.Endpoint {
	str := func(n string) auth.Param { return auth.Param{Name: n, Kind: auth.KindString} }
	opt := func(n string, k auth.Kind) auth.Param { return auth.Param{Name: n, Kind: k, Optional: true} }
	S, R := auth.KindString, auth.SessionRequired
	eps := []auth.Endpoint{
		{Method: "POST", Path: "/organization/create", Auth: R, Handler: p.handleCreate,
			Body: []auth.Param{str("name"), str("slug"), opt("userId", S), opt("logo", S), opt("metadata", auth.KindObject),
				opt("keepCurrentActiveOrganization", auth.KindBool)}},
		{Method: "POST", Path: "/organization/check-slug", Auth: R, Handler: p.handleCheckSlug, Body: []auth.Param{str("slug")}},
		{Method: "POST", Path: "/organization/update", Auth: R, Handler: p.handleUpdate,
			Body: []auth.Param{{Name: "data", Kind: auth.KindObject}, opt("organizationId", S)}},
		{Method: "POST", Path: "/organization/delete", Auth: R, Handler: p.handleDelete, Body: []auth.Param{str("organizationId")}},
		{Method: "POST", Path: "/organization/set-active", Auth: R, Handler: p.handleSetActive,
			Body: []auth.Param{opt("organizationId", S), opt("organizationSlug", S)}},
		{Method: "GET", Path: "/organization/get-organization", Auth: R, Handler: p.handleGetOrganization},
		{Method: "GET", Path: "/organization/get-full-organization", Auth: R, Handler: p.handleGetFull},
		{Method: "GET", Path: "/organization/list", Auth: R, Handler: p.handleList},
		{Method: "POST", Path: "/organization/invite-member", Auth: R, Handler: p.handleInvite,
			Body: []auth.Param{str("email"), {Name: "role", Kind: auth.KindAny}, opt("organizationId", S),
				opt("resend", auth.KindBool), opt("teamId", auth.KindAny)}},
		{Method: "POST", Path: "/organization/cancel-invitation", Auth: R, Handler: p.handleCancelInvitation, Body: []auth.Param{str("invitationId")}},
		{Method: "POST", Path: "/organization/accept-invitation", Auth: R, Handler: p.handleAcceptInvitation, Body: []auth.Param{str("invitationId")}},
		{Method: "POST", Path: "/organization/reject-invitation", Auth: R, Handler: p.handleRejectInvitation, Body: []auth.Param{str("invitationId")}},
		{Method: "GET", Path: "/organization/get-invitation", Auth: R, Handler: p.handleGetInvitation},
		{Method: "GET", Path: "/organization/list-invitations", Auth: R, Handler: p.handleListInvitations},
		{Method: "GET", Path: "/organization/list-user-invitations", Auth: auth.SessionOptional, Handler: p.handleListUserInvitations},
		{Method: "POST", Path: "/organization/remove-member", Auth: R, Handler: p.handleRemoveMember,
			Body: []auth.Param{str("memberIdOrEmail"), opt("organizationId", S)}},
		{Method: "POST", Path: "/organization/update-member-role", Auth: R, Handler: p.handleUpdateMemberRole,
			Body: []auth.Param{{Name: "role", Kind: auth.KindAny}, str("memberId"), opt("organizationId", S)}},
		{Method: "GET", Path: "/organization/get-active-member", Auth: R, Handler: p.handleGetActiveMember},
		{Method: "GET", Path: "/organization/get-active-member-role", Auth: R, Handler: p.handleGetActiveMemberRole},
		{Method: "GET", Path: "/organization/list-members", Auth: R, Handler: p.handleListMembers},
		{Method: "POST", Path: "/organization/leave", Auth: R, Handler: p.handleLeave, Body: []auth.Param{str("organizationId")}},
		{Method: "POST", Path: "/organization/has-permission", Auth: R, Handler: p.handleHasPermission,
			Body: []auth.Param{opt("organizationId", S), opt("permissions", auth.KindObject), opt("permission", auth.KindObject)}},
	}
	if p.opts.Teams.Enabled {
		eps = append(eps, p.teamEndpoints()...)
	}
	return eps
}

// rolesParam reads a string-or-array role parameter.
func rolesParam(c *auth.Context, name string) ([]string, error) {
	v := c.Body()[name]
	roles, ok := roleInput(v)
	if !ok {
		return nil, validation("[body." + name + "] Invalid input: expected string | array, received " + auth.JSONKind(v))
	}
	return roles, nil
}

// ---- organizations

func (p *Plugin) handleCreate(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	if f := p.opts.AllowUserToCreateOrganization; f != nil {
		ok, err := f(ctx, sd.User)
		if err != nil {
			return nil, apiErr(err)
		}
		if !ok {
			return nil, forbidden(CodeNotAllowedToCreateOrganization)
		}
	}
	meta, _ := c.Body()["metadata"].(map[string]any)
	in := CreateInput{Name: c.String("name"), Slug: c.String("slug"), Metadata: meta}
	if logo, ok := c.Body()["logo"].(string); ok {
		in.Logo = &logo
	}
	sid := ""
	if !c.Bool("keepCurrentActiveOrganization", false) {
		sid = sd.Session.ID
	}
	res, err := p.create(ctx, sd.User, in, sid)
	if err != nil {
		return nil, err
	}
	if sid != "" {
		reflectActive(c, FieldActiveOrganizationID, &res.org.ID)
		if res.teamMember != nil {
			reflectActive(c, FieldActiveTeamID, &res.teamMember.TeamID)
		}
	}
	return createdOrganization{res.org, res.member}, nil
}

func (p *Plugin) handleCheckSlug(c *auth.Context) (any, error) {
	slug := c.String("slug")
	if err := p.checkSlug(slug); err != nil {
		return nil, err
	}
	o, err := findOrgBySlug(c.Context(), p.a.DB(), slug)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if o != nil {
		return nil, badRequest(CodeSlugTaken)
	}
	return map[string]bool{"status": true}, nil
}

func (p *Plugin) handleUpdate(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	data, _ := c.Body()["data"].(map[string]any)
	set := storage.Record{}
	for _, k := range []string{"name", "slug"} {
		v, ok := data[k]
		if !ok || v == nil {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			return nil, validation("[body.data." + k + "] Invalid input: expected string, received " + auth.JSONKind(v))
		}
		if s == "" {
			return nil, validation("[body.data." + k + "] Too small: expected string to have >=1 characters")
		}
		if k == "name" {
			if err := auth.CheckName(s); err != nil { // it goes into invitation mails
				return nil, err
			}
		}
		set[k] = s
	}
	if v, ok := data["logo"]; ok {
		if _, isStr := v.(string); !isStr && v != nil {
			return nil, validation("[body.data.logo] Invalid input: expected string, received " + auth.JSONKind(v))
		}
		set["logo"] = v
	}
	if v, ok := data["metadata"]; ok && v != nil {
		m, isObj := v.(map[string]any)
		if !isObj {
			return nil, validation("[body.data.metadata] Invalid input: expected record, received " + auth.JSONKind(v))
		}
		s, err := metadataValue(m)
		if err != nil {
			return nil, validation("[body.data.metadata] " + err.Error())
		}
		set["metadata"] = s
	}
	orgID := orgOrActive(c, c.String("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeOrganizationNotFound)
	}
	var org *Organization
	err := p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, sd.User.ID, badRequest(CodeUserNotMember),
			Permissions{"organization": {"update"}}, forbidden(CodeNotAllowedToUpdateOrganization))
		if err != nil {
			return err
		}
		if slug, ok := set["slug"].(string); ok {
			if err := p.checkSlug(slug); err != nil {
				return err
			}
			if o, err := findOrgBySlug(ctx, tx, slug); err != nil || o != nil && o.ID != orgID {
				if err == nil {
					err = badRequest(CodeSlugTaken)
				}
				return err
			}
		}
		if len(set) > 0 {
			if _, err := tx.Update(ctx, TableOrganization, set, storage.W("id", orgID)); err != nil {
				if isConflict(err) {
					return badRequest(CodeSlugTaken)
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

func (p *Plugin) handleDelete(c *auth.Context) (any, error) {
	if p.opts.DisableOrganizationDeletion {
		return nil, newErr(http.StatusNotFound, CodeOrganizationDeletionDisabled)
	}
	ctx, sd := c.Context(), c.Session()
	orgID := c.String("organizationId")
	if orgID == "" {
		return nil, badRequest(CodeOrganizationNotFound)
	}
	var org *Organization
	err := p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, sd.User.ID, badRequest(CodeUserNotMember),
			Permissions{"organization": {"delete"}}, forbidden(CodeNotAllowedToDeleteOrganization))
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
	reflectCleared(c, FieldActiveOrganizationID, orgID)
	return org, nil
}

// findOrgByIDOrSlug returns the organization with slug, or without a slug
// the one with id (nil if there is none).
func (p *Plugin) findOrgByIDOrSlug(c *auth.Context, id, slug string) (*Organization, error) {
	if slug != "" {
		o, err := findOrgBySlug(c.Context(), p.a.DB(), slug)
		return o, apiErr(err)
	}
	o, err := findOrg(c.Context(), p.a.DB(), id)
	return o, apiErr(err)
}

// memberOrg resolves an organization by slug or id for the caller, as
// Better Auth's get-organization does: 400 ORGANIZATION_NOT_FOUND if
// there is none; if the caller is not a member, the session's active
// organization is cleared and the answer is 403
// USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION. (Whether a slug is taken is
// no secret: check-slug tells every signed-in user.)
func (p *Plugin) memberOrg(c *auth.Context, id, slug string) (*Organization, *Member, error) {
	o, err := p.findOrgByIDOrSlug(c, id, slug)
	if err != nil {
		return nil, nil, err
	}
	if o == nil {
		return nil, nil, badRequest(CodeOrganizationNotFound)
	}
	m, err := findMember(c.Context(), p.a.DB(), o.ID, c.Session().User.ID)
	if err != nil {
		return nil, nil, auth.StorageError(err)
	}
	if m == nil {
		if err := p.forgetActive(c); err != nil {
			return nil, nil, err
		}
		return nil, nil, forbidden(CodeUserNotMember)
	}
	return o, m, nil
}

// forgetActive clears the session's active organization if it is id (the
// caller turned out not to be a member), as Better Auth does.
func (p *Plugin) forgetActive(c *auth.Context) error {
	if ActiveOrganizationID(c.Session()) == "" {
		return nil
	}
	return p.setActive(c, FieldActiveOrganizationID, nil)
}

func (p *Plugin) handleSetActive(c *auth.Context) (any, error) {
	sd := c.Session()
	raw, present := c.Body()["organizationId"]
	if present && raw == nil {
		if ActiveOrganizationID(sd) == "" {
			return nil, nil
		}
		return nil, p.setActive(c, FieldActiveOrganizationID, nil)
	}
	id, slug := c.String("organizationId"), c.String("organizationSlug")
	if id == "" && slug == "" {
		if id = ActiveOrganizationID(sd); id == "" {
			return nil, nil
		}
	}
	if id != "" {
		slug = ""
	}
	o, err := p.findOrgByIDOrSlug(c, id, slug)
	if err != nil {
		return nil, err
	}
	if o == nil && slug != "" {
		return nil, badRequest(CodeOrganizationNotFound)
	}
	// An unknown id is answered as Better Auth does: as for a non-member.
	var m *Member
	if o != nil {
		if m, err = findMember(c.Context(), p.a.DB(), o.ID, sd.User.ID); err != nil {
			return nil, auth.StorageError(err)
		}
	}
	if m == nil {
		if err := p.forgetActive(c); err != nil {
			return nil, err
		}
		return nil, forbidden(CodeUserNotMember)
	}
	// Store it under the organization's lock, re-checking membership, so
	// that a concurrent removal cannot leave the session pointing at an
	// organization its user left.
	err = p.tx(c.Context(), func(tx storage.Adapter) error {
		if _, err := p.lockMember(c.Context(), tx, o.ID, sd.User.ID, forbidden(CodeUserNotMember), nil, nil); err != nil {
			return err
		}
		return setSessionField(c.Context(), tx, sd.Session.ID, FieldActiveOrganizationID, &o.ID)
	})
	if err != nil {
		return nil, err
	}
	reflectActive(c, FieldActiveOrganizationID, &o.ID)
	return o, nil
}

func (p *Plugin) handleGetOrganization(c *auth.Context) (any, error) {
	id, slug := c.Query("organizationId"), c.Query("organizationSlug")
	if id == "" && slug == "" {
		id = ActiveOrganizationID(c.Session())
	}
	if id == "" && slug == "" {
		return nil, nil
	}
	o, _, err := p.memberOrg(c, id, slug)
	if err != nil {
		return nil, err
	}
	return o, nil
}

func (p *Plugin) handleGetFull(c *auth.Context) (any, error) {
	ctx, db := c.Context(), p.a.DB()
	id, slug := c.Query("organizationId"), c.Query("organizationSlug")
	if id == "" && slug == "" {
		id = ActiveOrganizationID(c.Session())
	}
	if id == "" && slug == "" {
		return nil, nil
	}
	limit := p.opts.MembershipLimit
	if s := c.Query("membersLimit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, validation("[query.membersLimit] Invalid input: expected number, received NaN")
		}
		if n > 0 {
			limit = n
		}
	}
	o, me, err := p.memberOrg(c, id, slug)
	if err != nil {
		return nil, err
	}
	full := &FullOrganization{Organization: o}
	if full.Members, err = members(ctx, db, o.ID, limit); err != nil {
		return nil, auth.StorageError(err)
	}
	if err := withUsers(ctx, db, full.Members); err != nil {
		return nil, auth.StorageError(err)
	}
	if p.Authorize(me.Role, Permissions{"invitation": {"create"}}) {
		invs, err := p.orgInvitations(c, o.ID, me)
		if err != nil {
			return nil, err
		}
		full.Invitations = invs
	}
	if p.opts.Teams.Enabled {
		if full.Teams, err = listTeams(ctx, db, o.ID); err != nil {
			return nil, auth.StorageError(err)
		}
		full.Teams = nonNil(full.Teams)
	}
	return full, nil
}

// orgInvitations returns the organization's invitations, without those
// granting the creator role unless me holds it (Better Auth's rule).
func (p *Plugin) orgInvitations(c *auth.Context, orgID string, me *Member) ([]*Invitation, error) {
	recs, err := p.a.DB().FindMany(c.Context(), TableInvitation, storage.Query{
		Where: []storage.Where{storage.W("organizationId", orgID)}, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, auth.StorageError(err)
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

func (p *Plugin) handleList(c *auth.Context) (any, error) {
	return p.ListOrganizations(c.Context(), c.Session().User.ID)
}

// ---- invitations

func (p *Plugin) handleInvite(c *auth.Context) (any, error) {
	roles, err := rolesParam(c, "role")
	if err != nil {
		return nil, err
	}
	var teamIDs []string
	switch v := c.Body()["teamId"].(type) {
	case nil:
	case string:
		if v != "" {
			teamIDs = []string{v}
		}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, validation("[body.teamId] Invalid input: expected string, received " + auth.JSONKind(e))
			}
			teamIDs = append(teamIDs, s)
		}
	default:
		return nil, validation("[body.teamId] Invalid input: expected string | array, received " + auth.JSONKind(v))
	}
	return p.invite(c.Context(), c.Session().User, inviteInput{
		orgID: orgOrActive(c, c.String("organizationId")), email: c.String("email"), roles: roles,
		resend: c.Bool("resend", false), teamIDs: teamIDs,
	})
}

func (p *Plugin) handleAcceptInvitation(c *auth.Context) (any, error) {
	res, err := p.accept(c.Context(), c.Session().User, c.String("invitationId"), sessionID(c))
	if err != nil {
		return nil, err
	}
	if len(res.teamIDs) == 1 {
		reflectActive(c, FieldActiveTeamID, &res.teamIDs[0])
	}
	reflectActive(c, FieldActiveOrganizationID, &res.inv.OrganizationID)
	return map[string]any{"invitation": res.inv, "member": res.member}, nil
}

func (p *Plugin) handleRejectInvitation(c *auth.Context) (any, error) {
	ctx, u := c.Context(), c.Session().User
	inv, err := findInvitation(ctx, p.a.DB(), c.String("invitationId"))
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if inv == nil || inv.Status != StatusPending {
		return nil, auth.NewError(http.StatusBadRequest, CodeInvitationNotFound, "Invitation not found!")
	}
	if auth.NormalizeEmail(inv.Email) != auth.NormalizeEmail(u.Email) {
		return nil, forbidden(CodeNotRecipient)
	}
	if p.opts.RequireEmailVerificationOnInvitation && !u.EmailVerified {
		return nil, forbidden(CodeEmailVerificationRequiredAccept)
	}
	if err := setStatus(ctx, p.a.DB(), inv, StatusRejected); err != nil {
		return nil, err
	}
	return map[string]any{"invitation": inv, "member": nil}, nil
}

func (p *Plugin) handleCancelInvitation(c *auth.Context) (any, error) {
	ctx, db := c.Context(), p.a.DB()
	inv, err := findInvitation(ctx, db, c.String("invitationId"))
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if inv == nil {
		return nil, badRequest(CodeInvitationNotFound)
	}
	_, err = p.requireMember(ctx, db, inv.OrganizationID, c.Session().User.ID, badRequest(CodeMemberNotFound),
		Permissions{"invitation": {"cancel"}}, forbidden(CodeNotAllowedToCancelInvitation))
	if err != nil {
		return nil, err
	}
	if inv.Status != StatusPending {
		return nil, badRequest(CodeInvitationNotFound)
	}
	if err := setStatus(ctx, db, inv, StatusCanceled); err != nil {
		return nil, err
	}
	return inv, nil
}

func (p *Plugin) handleGetInvitation(c *auth.Context) (any, error) {
	ctx, db, u := c.Context(), p.a.DB(), c.Session().User
	id := c.Query("id")
	if !c.Request().URL.Query().Has("id") {
		return nil, validation("[query.id] Invalid input: expected string, received undefined")
	}
	inv, err := findInvitation(ctx, db, id)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if inv == nil || inv.Status != StatusPending || inv.ExpiresAt.Before(p.a.Now()) {
		return nil, badRequest(CodeInvitationNotFound)
	}
	if auth.NormalizeEmail(inv.Email) != auth.NormalizeEmail(u.Email) {
		return nil, forbidden(CodeNotRecipient)
	}
	if p.opts.RequireEmailVerificationOnInvitation && !u.EmailVerified {
		return nil, forbidden(CodeEmailVerificationRequired)
	}
	o, err := findOrg(ctx, db, inv.OrganizationID)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if o == nil {
		return nil, badRequest(CodeOrganizationNotFound)
	}
	m, err := findMember(ctx, db, inv.OrganizationID, inv.InviterID)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if m == nil {
		return nil, badRequest(CodeInviterNoLongerMember)
	}
	inviter, err := findOne(ctx, db, auth.TableUser, storage.W("id", inv.InviterID))
	if err != nil {
		return nil, auth.StorageError(err)
	}
	return invitationDetail{inv: inv, orgName: o.Name, orgSlug: o.Slug, inviterEmail: inviter.String("email")}, nil
}

func (p *Plugin) handleListInvitations(c *auth.Context) (any, error) {
	orgID := orgOrActive(c, c.Query("organizationId"))
	if orgID == "" {
		return nil, messageOnly(http.StatusBadRequest, "Organization ID is required")
	}
	m, err := p.requireMember(c.Context(), p.a.DB(), orgID, c.Session().User.ID, messageOnly(http.StatusForbidden, Message(CodeNotAMember)),
		Permissions{"invitation": {"create"}}, forbidden(CodeNotAllowedToListInvitations))
	if err != nil {
		return nil, err
	}
	return p.orgInvitations(c, orgID, m)
}

func (p *Plugin) handleListUserInvitations(c *auth.Context) (any, error) {
	sd := c.Session()
	if c.Query("email") != "" {
		return nil, messageOnly(http.StatusBadRequest, "User email cannot be passed for client side API calls.")
	}
	if sd == nil {
		return nil, messageOnly(http.StatusBadRequest, "Missing session headers, or email query parameter.")
	}
	if !sd.User.EmailVerified {
		return nil, forbidden(CodeEmailVerificationRequired)
	}
	ctx, db := c.Context(), p.a.DB()
	invs, err := pendingInvitations(ctx, db, p.a.Now(), storage.W("email", auth.NormalizeEmail(sd.User.Email)))
	if err != nil {
		return nil, auth.StorageError(err)
	}
	out := []userInvitation{}
	for _, inv := range invs {
		o, err := findOrg(ctx, db, inv.OrganizationID)
		if err != nil {
			return nil, auth.StorageError(err)
		}
		name := ""
		if o != nil {
			name = o.Name
		}
		out = append(out, userInvitation{inv: inv, orgName: name})
	}
	return out, nil
}

// ---- members

func (p *Plugin) handleRemoveMember(c *auth.Context) (any, error) {
	orgID := orgOrActive(c, c.String("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	m, err := p.removeMember(c.Context(), c.Session().User, orgID, c.String("memberIdOrEmail"))
	if err != nil {
		return nil, err
	}
	if m.UserID == c.Session().User.ID {
		reflectCleared(c, FieldActiveOrganizationID, orgID)
	}
	return map[string]any{"member": m}, nil
}

func (p *Plugin) handleUpdateMemberRole(c *auth.Context) (any, error) {
	roles, err := rolesParam(c, "role")
	if err != nil {
		return nil, err
	}
	orgID := orgOrActive(c, c.String("organizationId"))
	if len(roles) > 0 && orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	return p.updateMemberRole(c.Context(), c.Session().User, orgID, c.String("memberId"), roles)
}

func (p *Plugin) handleGetActiveMember(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	orgID := ActiveOrganizationID(sd)
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	m, err := p.requireMember(ctx, p.a.DB(), orgID, sd.User.ID, badRequest(CodeMemberNotFound), nil, nil)
	if err != nil {
		return nil, err
	}
	m.User = &MemberUser{ID: sd.User.ID, Name: sd.User.Name, Email: sd.User.Email, Image: sd.User.Image}
	return m, nil
}

// memberOrgID resolves the organizationId / organizationSlug query (or
// the active organization) of the member routes.
func (p *Plugin) memberOrgID(c *auth.Context) (string, error) {
	orgID := orgOrActive(c, c.Query("organizationId"))
	if slug := c.Query("organizationSlug"); slug != "" {
		o, err := p.findOrgByIDOrSlug(c, "", slug)
		if err != nil {
			return "", err
		}
		if o == nil {
			return "", badRequest(CodeOrganizationNotFound)
		}
		orgID = o.ID
	}
	if orgID == "" {
		return "", badRequest(CodeNoActiveOrganization)
	}
	return orgID, nil
}

func (p *Plugin) handleGetActiveMemberRole(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	orgID, err := p.memberOrgID(c)
	if err != nil {
		return nil, err
	}
	m, err := p.requireMember(ctx, p.a.DB(), orgID, sd.User.ID, forbidden(CodeNotAMember), nil, nil)
	if err != nil {
		return nil, err
	}
	if target := c.Query("userId"); target != "" {
		if m, err = p.requireMember(ctx, p.a.DB(), orgID, target, forbidden(CodeNotAMember), nil, nil); err != nil {
			return nil, err
		}
	}
	return map[string]string{"role": m.Role}, nil
}

// memberFields are the member fields list-members may sort and filter by.
var memberFields = map[string]storage.FieldType{
	"id": storage.String, "organizationId": storage.String, "userId": storage.String,
	"role": storage.String, "createdAt": storage.Date,
}

var whereOps = map[string]storage.Op{
	"eq": storage.Eq, "ne": storage.Ne, "lt": storage.Lt, "lte": storage.Lte, "gt": storage.Gt, "gte": storage.Gte,
	"in": storage.In, "not_in": storage.NotIn, "contains": storage.Contains,
	"starts_with": storage.StartsWith, "ends_with": storage.EndsWith,
}

func (p *Plugin) handleListMembers(c *auth.Context) (any, error) {
	ctx, sd, q := c.Context(), c.Session(), c.Request().URL.Query()
	orgID, err := p.memberOrgID(c)
	if err != nil {
		return nil, err
	}
	if _, err := p.requireMember(ctx, p.a.DB(), orgID, sd.User.ID, forbidden(CodeNotAMember), nil, nil); err != nil {
		return nil, err
	}
	where := []storage.Where{storage.W("organizationId", orgID)}
	if f := q.Get("filterField"); f != "" {
		t, ok := memberFields[f]
		if !ok {
			return nil, validation("[query.filterField] Invalid input: unknown member field " + strconv.Quote(f))
		}
		opName := q.Get("filterOperator")
		if opName == "" {
			opName = "eq"
		}
		op, ok := whereOps[opName]
		if !ok {
			return nil, validation("[query.filterOperator] Invalid option: expected one of \"eq\"|\"ne\"|\"lt\"|\"lte\"|\"gt\"|\"gte\"|\"in\"|\"not_in\"|\"contains\"|\"starts_with\"|\"ends_with\"")
		}
		vals := q["filterValue"]
		conv := func(s string) (any, error) {
			if t == storage.Date {
				tm, err := time.Parse(time.RFC3339Nano, s)
				if err != nil {
					return nil, validation("[query.filterValue] Invalid date")
				}
				return tm, nil
			}
			return s, nil
		}
		w := storage.Where{Field: f, Op: op}
		if op == storage.In || op == storage.NotIn {
			var list []any
			for _, v := range vals {
				for _, s := range strings.Split(v, ",") {
					x, err := conv(s)
					if err != nil {
						return nil, err
					}
					list = append(list, x)
				}
			}
			if list == nil {
				list = []any{}
			}
			w.Value = list
		} else {
			if len(vals) == 0 {
				return nil, validation("[query.filterValue] Invalid input: expected string, received undefined")
			}
			if w.Value, err = conv(vals[0]); err != nil {
				return nil, err
			}
		}
		if t == storage.Date && (op == storage.Contains || op == storage.StartsWith || op == storage.EndsWith) {
			return nil, validation("[query.filterOperator] Invalid operator for a date field")
		}
		where = append(where, w)
	}
	query := storage.Query{Where: where, Limit: p.opts.MembershipLimit}
	for _, k := range []string{"limit", "offset"} {
		if s := q.Get(k); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, validation("[query." + k + "] Invalid input: expected number")
			}
			if k == "limit" && n > 0 {
				query.Limit = n
			} else if k == "offset" {
				query.Offset = n
			}
		}
	}
	if s := q.Get("sortBy"); s != "" {
		if _, ok := memberFields[s]; !ok {
			return nil, validation("[query.sortBy] Invalid input: unknown member field " + strconv.Quote(s))
		}
		dir := q.Get("sortDirection")
		if dir != "" && dir != "asc" && dir != "desc" {
			return nil, validation("[query.sortDirection] Invalid option: expected one of \"asc\"|\"desc\"")
		}
		query.Sort = []storage.Sort{{Field: s, Desc: dir == "desc"}}
	} else {
		query.Sort = []storage.Sort{{Field: "createdAt"}}
	}
	db := p.a.DB()
	recs, err := db.FindMany(ctx, TableMember, query)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	total, err := db.Count(ctx, TableMember, where...)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	ms := make([]*Member, len(recs))
	for i, r := range recs {
		ms[i] = memberFromRecord(r)
	}
	if err := withUsers(ctx, db, ms); err != nil {
		return nil, auth.StorageError(err)
	}
	return map[string]any{"members": ms, "total": total}, nil
}

func (p *Plugin) handleLeave(c *auth.Context) (any, error) {
	orgID := c.String("organizationId")
	m, err := p.leave(c.Context(), c.Session().User, orgID)
	if err != nil {
		return nil, err
	}
	reflectCleared(c, FieldActiveOrganizationID, orgID)
	return m, nil
}

func (p *Plugin) handleHasPermission(c *auth.Context) (any, error) {
	body := c.Body()
	_, hasNew := body["permissions"]
	_, hasOld := body["permission"]
	if hasNew == hasOld {
		return nil, validation("[body] Invalid input: expected exactly one of permission, permissions")
	}
	key := "permissions"
	if hasOld {
		key = "permission"
	}
	perms := Permissions{}
	obj, _ := body[key].(map[string]any)
	for _, res := range sortedKeys(obj) {
		arr, ok := obj[res].([]any)
		if !ok {
			return nil, validation("[body." + key + "." + res + "] Invalid input: expected array, received " + auth.JSONKind(obj[res]))
		}
		for _, a := range arr {
			s, ok := a.(string)
			if !ok {
				return nil, validation("[body." + key + "." + res + "] Invalid input: expected string, received " + auth.JSONKind(a))
			}
			perms[res] = append(perms[res], s)
		}
		if perms[res] == nil {
			perms[res] = []string{}
		}
	}
	orgID := orgOrActive(c, c.String("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	m, err := p.requireMember(c.Context(), p.a.DB(), orgID, c.Session().User.ID,
		newErr(http.StatusUnauthorized, CodeUserNotMember), nil, nil)
	if err != nil {
		return nil, err
	}
	return map[string]any{"error": nil, "success": p.Authorize(m.Role, perms)}, nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
