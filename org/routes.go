package org

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Endpoints implements plugin.EndpointSource: Better Auth's organization
// routes, with its methods (see the package documentation for the list).
// Each handler reads and checks the request, calls the Plugin method of
// its route with the request's session, and writes the result.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	S, A, O, R := plugin.KindString, plugin.KindAny, plugin.KindObject, plugin.SessionRequired
	orgID := plugin.Optional("organizationId", S) // default: the session's active organization
	eps := []plugin.Endpoint{
		{Method: "POST", Path: "/organization/create", Auth: R, Handler: p.handleCreate,
			Body: []plugin.Param{plugin.Required("name", S), plugin.Required("slug", S), plugin.Optional("userId", S),
				plugin.Optional("logo", S), plugin.Optional("metadata", O),
				plugin.Optional("keepCurrentActiveOrganization", plugin.KindBool)}},
		{Method: "POST", Path: "/organization/check-slug", Auth: R, Handler: p.handleCheckSlug,
			Body: []plugin.Param{plugin.Required("slug", S)}},
		{Method: "POST", Path: "/organization/update", Auth: R, Handler: p.handleUpdate,
			Body: []plugin.Param{plugin.Required("data", O), orgID}},
		{Method: "POST", Path: "/organization/delete", Auth: R, Handler: p.handleDelete,
			Body: []plugin.Param{plugin.Required("organizationId", S)}},
		{Method: "POST", Path: "/organization/set-active", Auth: R, Handler: p.handleSetActive,
			Body: []plugin.Param{orgID, plugin.Optional("organizationSlug", S)}},
		{Method: "GET", Path: "/organization/get-organization", Auth: R, Handler: p.handleGetOrganization},
		{Method: "GET", Path: "/organization/get-full-organization", Auth: R, Handler: p.handleGetFull},
		{Method: "GET", Path: "/organization/list", Auth: R, Handler: p.handleList},
		{Method: "POST", Path: "/organization/invite-member", Auth: R, Handler: p.handleInvite,
			Body: []plugin.Param{plugin.Required("email", S), plugin.Required("role", A), orgID,
				plugin.Optional("resend", plugin.KindBool), plugin.Optional("teamId", A)}},
		{Method: "POST", Path: "/organization/cancel-invitation", Auth: R, Handler: p.handleCancelInvitation,
			Body: []plugin.Param{plugin.Required("invitationId", S)}},
		{Method: "POST", Path: "/organization/accept-invitation", Auth: R, Handler: p.handleAcceptInvitation,
			Body: []plugin.Param{plugin.Required("invitationId", S)}},
		{Method: "POST", Path: "/organization/reject-invitation", Auth: R, Handler: p.handleRejectInvitation,
			Body: []plugin.Param{plugin.Required("invitationId", S)}},
		{Method: "GET", Path: "/organization/get-invitation", Auth: R, Handler: p.handleGetInvitation},
		{Method: "GET", Path: "/organization/list-invitations", Auth: R, Handler: p.handleListInvitations},
		{Method: "GET", Path: "/organization/list-user-invitations", Auth: plugin.SessionOptional, Handler: p.handleListUserInvitations},
		{Method: "POST", Path: "/organization/remove-member", Auth: R, Handler: p.handleRemoveMember,
			Body: []plugin.Param{plugin.Required("memberIdOrEmail", S), orgID}},
		{Method: "POST", Path: "/organization/update-member-role", Auth: R, Handler: p.handleUpdateMemberRole,
			Body: []plugin.Param{plugin.Required("role", A), plugin.Required("memberId", S), orgID}},
		{Method: "GET", Path: "/organization/get-active-member", Auth: R, Handler: p.handleGetActiveMember},
		{Method: "GET", Path: "/organization/get-active-member-role", Auth: R, Handler: p.handleGetActiveMemberRole},
		{Method: "GET", Path: "/organization/list-members", Auth: R, Handler: p.handleListMembers},
		{Method: "POST", Path: "/organization/leave", Auth: R, Handler: p.handleLeave,
			Body: []plugin.Param{plugin.Required("organizationId", S)}},
		{Method: "POST", Path: "/organization/has-permission", Auth: R, Handler: p.handleHasPermission,
			Body: []plugin.Param{orgID, plugin.Optional("permissions", O), plugin.Optional("permission", O)}},
	}
	if p.opts.Teams.Enabled {
		eps = append(eps,
			plugin.Endpoint{Method: "POST", Path: "/organization/create-team", Auth: R, Handler: p.handleCreateTeam,
				Body: []plugin.Param{plugin.Required("name", S), orgID}},
			plugin.Endpoint{Method: "POST", Path: "/organization/remove-team", Auth: R, Handler: p.handleRemoveTeam,
				Body: []plugin.Param{plugin.Required("teamId", S), orgID}},
			plugin.Endpoint{Method: "POST", Path: "/organization/update-team", Auth: R, Handler: p.handleUpdateTeam,
				Body: []plugin.Param{plugin.Required("teamId", S), plugin.Required("data", O)}},
			plugin.Endpoint{Method: "GET", Path: "/organization/list-teams", Auth: R, Handler: p.handleListTeams},
			plugin.Endpoint{Method: "POST", Path: "/organization/set-active-team", Auth: R, Handler: p.handleSetActiveTeam,
				Body: []plugin.Param{plugin.Optional("teamId", S)}},
			plugin.Endpoint{Method: "GET", Path: "/organization/list-user-teams", Auth: R, Handler: p.handleListUserTeams},
			plugin.Endpoint{Method: "GET", Path: "/organization/list-team-members", Auth: R, Handler: p.handleListTeamMembers},
			plugin.Endpoint{Method: "POST", Path: "/organization/add-team-member", Auth: R, Handler: p.handleAddTeamMember,
				Body: []plugin.Param{plugin.Required("teamId", S), plugin.Required("userId", S), orgID}},
			plugin.Endpoint{Method: "POST", Path: "/organization/remove-team-member", Auth: R, Handler: p.handleRemoveTeamMember,
				Body: []plugin.Param{plugin.Required("teamId", S), plugin.Required("userId", S), orgID}},
		)
	}
	return eps
}

// result is a handler's answer of a method returning a pointer: a nil one
// is JSON null.
func result[T any](v *T, err error) (any, error) {
	if v == nil || err != nil {
		return nil, err
	}
	return v, nil
}

// actives returns the session's active organization and team, to tell
// whether a method changed them.
func actives(sd *plugin.SessionData) [2]string {
	return [2]string{ActiveOrganizationID(sd), ActiveTeamID(sd)}
}

// reissue re-issues the session cookies, as Better Auth's set-active
// does, when the session cookie cache is on and either force is set or
// the session's active organization or team is no longer before, so that
// the cache shows the change.
func reissue(c *plugin.Context, before [2]string, force bool) {
	sd := c.Session()
	if sd == nil || !c.Host().Settings().CookieCache {
		return
	}
	if force || actives(sd) != before {
		c.SetSessionCookie(sd)
	}
}

// rolesParam reads a string-or-array role parameter.
func rolesParam(c *plugin.Context, name string) ([]string, error) {
	v := c.Body()[name]
	roles, ok := roleInput(v)
	if !ok {
		return nil, plugin.InvalidInput("body."+name, "string | array", plugin.JSONKind(v))
	}
	return roles, nil
}

// ---- organizations

func (p *Plugin) handleCreate(c *plugin.Context) (any, error) {
	sd := c.Session()
	meta, _ := c.Body()["metadata"].(map[string]any)
	in := CreateOrganizationInput{Name: c.String("name"), Slug: c.String("slug"), Logo: c.OptString("logo"), Metadata: meta,
		KeepCurrentActiveOrganization: c.Bool("keepCurrentActiveOrganization", false)}
	before := actives(sd)
	o, m, err := p.CreateOrganization(c.Context(), sd, in)
	if err != nil {
		return nil, err
	}
	reissue(c, before, false)
	return createdOrganization{o, m}, nil
}

func (p *Plugin) handleCheckSlug(c *plugin.Context) (any, error) {
	if err := p.CheckOrganizationSlug(c.Context(), c.String("slug")); err != nil {
		return nil, err
	}
	return map[string]bool{"status": true}, nil
}

func (p *Plugin) handleUpdate(c *plugin.Context) (any, error) {
	in := UpdateOrganizationInput{OrganizationID: c.String("organizationId")}
	data, _ := c.Body()["data"].(map[string]any)
	for _, k := range []string{"name", "slug"} {
		v, ok := data[k]
		if !ok || v == nil {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			return nil, plugin.InvalidInput("body.data."+k, "string", plugin.JSONKind(v))
		}
		if s == "" {
			return nil, validation("[body.data." + k + "] Too small: expected string to have >=1 characters")
		}
		if k == "name" {
			in.Name = &s
		} else {
			in.Slug = &s
		}
	}
	if v, ok := data["logo"]; ok {
		switch x := v.(type) {
		case nil:
			in.ClearLogo = true
		case string:
			in.Logo = &x
		default:
			return nil, plugin.InvalidInput("body.data.logo", "string", plugin.JSONKind(v))
		}
	}
	if v, ok := data["metadata"]; ok && v != nil {
		m, isObj := v.(map[string]any)
		if !isObj {
			return nil, plugin.InvalidInput("body.data.metadata", "record", plugin.JSONKind(v))
		}
		in.Metadata = m
	}
	return result(p.UpdateOrganization(c.Context(), c.Session(), in))
}

func (p *Plugin) handleDelete(c *plugin.Context) (any, error) {
	return result(p.DeleteOrganization(c.Context(), c.Session(), c.String("organizationId")))
}

func (p *Plugin) handleSetActive(c *plugin.Context) (any, error) {
	sd := c.Session()
	raw, present := c.Body()["organizationId"]
	before := actives(sd)
	o, err := p.SetActiveOrganization(c.Context(), sd, SetActiveOrganizationInput{
		OrganizationID: c.String("organizationId"), OrganizationSlug: c.String("organizationSlug"),
		Unset: present && raw == nil,
	})
	reissue(c, before, o != nil)
	return result(o, err)
}

func (p *Plugin) handleGetOrganization(c *plugin.Context) (any, error) {
	sd := c.Session()
	before := actives(sd)
	o, err := p.GetOrganization(c.Context(), sd, GetOrganizationInput{
		OrganizationID: c.Query("organizationId"), OrganizationSlug: c.Query("organizationSlug")})
	reissue(c, before, false)
	return result(o, err)
}

func (p *Plugin) handleGetFull(c *plugin.Context) (any, error) {
	in := GetFullOrganizationInput{OrganizationID: c.Query("organizationId"), OrganizationSlug: c.Query("organizationSlug")}
	if s := c.Query("membersLimit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, plugin.InvalidInput("query.membersLimit", "number", "NaN")
		}
		in.MembersLimit = max(n, 0)
	}
	sd := c.Session()
	before := actives(sd)
	full, err := p.GetFullOrganization(c.Context(), sd, in)
	reissue(c, before, false)
	return result(full, err)
}

func (p *Plugin) handleList(c *plugin.Context) (any, error) {
	return p.ListOrganizations(c.Context(), c.Session().User.ID)
}

// ---- invitations

func (p *Plugin) handleInvite(c *plugin.Context) (any, error) {
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
				return nil, plugin.InvalidInput("body.teamId", "string", plugin.JSONKind(e))
			}
			teamIDs = append(teamIDs, s)
		}
	default:
		return nil, plugin.InvalidInput("body.teamId", "string | array", plugin.JSONKind(v))
	}
	return result(p.InviteMember(c.Context(), c.Session(), InviteMemberInput{
		OrganizationID: c.String("organizationId"), Email: c.String("email"), Roles: roles,
		Resend: c.Bool("resend", false), TeamIDs: teamIDs,
	}))
}

func (p *Plugin) handleAcceptInvitation(c *plugin.Context) (any, error) {
	sd := c.Session()
	before := actives(sd)
	inv, m, err := p.AcceptInvitation(c.Context(), sd, c.String("invitationId"))
	if err != nil {
		return nil, err
	}
	reissue(c, before, true)
	return map[string]any{"invitation": inv, "member": m}, nil
}

func (p *Plugin) handleRejectInvitation(c *plugin.Context) (any, error) {
	inv, err := p.RejectInvitation(c.Context(), c.Session(), c.String("invitationId"))
	if err != nil {
		return nil, err
	}
	return map[string]any{"invitation": inv, "member": nil}, nil
}

func (p *Plugin) handleCancelInvitation(c *plugin.Context) (any, error) {
	return result(p.CancelInvitation(c.Context(), c.Session(), c.String("invitationId")))
}

func (p *Plugin) handleGetInvitation(c *plugin.Context) (any, error) {
	if !c.Request().URL.Query().Has("id") {
		return nil, plugin.InvalidInput("query.id", "string", "undefined")
	}
	return result(p.GetInvitation(c.Context(), c.Session(), c.Query("id")))
}

func (p *Plugin) handleListInvitations(c *plugin.Context) (any, error) {
	return p.ListInvitations(c.Context(), c.Session(), c.Query("organizationId"))
}

func (p *Plugin) handleListUserInvitations(c *plugin.Context) (any, error) {
	if c.Query("email") != "" {
		return nil, messageOnly(http.StatusBadRequest, "User email cannot be passed for client side API calls.")
	}
	return p.ListUserInvitations(c.Context(), c.Session())
}

// ---- members

func (p *Plugin) handleRemoveMember(c *plugin.Context) (any, error) {
	m, err := p.RemoveMember(c.Context(), c.Session(), RemoveMemberInput{
		OrganizationID: c.String("organizationId"), MemberIDOrEmail: c.String("memberIdOrEmail")})
	if err != nil {
		return nil, err
	}
	return map[string]any{"member": m}, nil
}

func (p *Plugin) handleUpdateMemberRole(c *plugin.Context) (any, error) {
	roles, err := rolesParam(c, "role")
	if err != nil {
		return nil, err
	}
	return result(p.UpdateMemberRole(c.Context(), c.Session(), UpdateMemberRoleInput{
		OrganizationID: c.String("organizationId"), MemberID: c.String("memberId"), Roles: roles}))
}

func (p *Plugin) handleGetActiveMember(c *plugin.Context) (any, error) {
	return result(p.GetActiveMember(c.Context(), c.Session()))
}

func (p *Plugin) handleGetActiveMemberRole(c *plugin.Context) (any, error) {
	role, err := p.GetActiveMemberRole(c.Context(), c.Session(), GetActiveMemberRoleInput{
		UserID: c.Query("userId"), OrganizationID: c.Query("organizationId"), OrganizationSlug: c.Query("organizationSlug")})
	if err != nil {
		return nil, err
	}
	return map[string]string{"role": role}, nil
}

func (p *Plugin) handleListMembers(c *plugin.Context) (any, error) {
	in, err := parseListMembers(c.Request().URL.Query())
	if err != nil {
		return nil, err
	}
	return result(p.ListMembers(c.Context(), c.Session(), in))
}

// parseListMembers reads the query of list-members: Better Auth's
// parameters, refused with its validation messages. The filter's field
// and value are checked by ListMembers.
func parseListMembers(q url.Values) (ListMembersInput, error) {
	in := ListMembersInput{OrganizationID: q.Get("organizationId"), OrganizationSlug: q.Get("organizationSlug")}
	if field := q.Get("filterField"); field != "" {
		op := storage.Op(q.Get("filterOperator"))
		if op == "" {
			op = storage.Eq
		}
		if !slices.Contains(memberFilterOps, op) {
			return in, validation(memberFilterOpsMessage)
		}
		f := &MemberFilter{Field: field, Operator: op}
		vals := q["filterValue"]
		if op == storage.In || op == storage.NotIn {
			list := []string{}
			for _, v := range vals {
				list = append(list, strings.Split(v, ",")...)
			}
			f.Value = list
		} else {
			if len(vals) == 0 {
				return in, plugin.InvalidInput("query.filterValue", "string", "undefined")
			}
			f.Value = vals[0]
		}
		in.Filter = f
	}
	for _, k := range []string{"limit", "offset"} {
		if s := q.Get(k); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return in, validation("[query." + k + "] Invalid input: expected number")
			}
			if k == "limit" {
				in.Limit = n
			} else {
				in.Offset = n
			}
		}
	}
	if in.SortBy = q.Get("sortBy"); in.SortBy != "" {
		dir := q.Get("sortDirection")
		if dir != "" && dir != "asc" && dir != "desc" {
			return in, validation(`[query.sortDirection] Invalid option: expected one of "asc"|"desc"`)
		}
		in.SortDesc = dir == "desc"
	}
	return in, nil
}

func (p *Plugin) handleLeave(c *plugin.Context) (any, error) {
	return result(p.LeaveOrganization(c.Context(), c.Session(), c.String("organizationId")))
}

func (p *Plugin) handleHasPermission(c *plugin.Context) (any, error) {
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
			return nil, plugin.InvalidInput("body."+key+"."+res, "array", plugin.JSONKind(obj[res]))
		}
		for _, a := range arr {
			s, ok := a.(string)
			if !ok {
				return nil, plugin.InvalidInput("body."+key+"."+res, "string", plugin.JSONKind(a))
			}
			perms[res] = append(perms[res], s)
		}
		if perms[res] == nil {
			perms[res] = []string{}
		}
	}
	ok, err := p.HasPermission(c.Context(), c.Session(), HasPermissionInput{OrganizationID: c.String("organizationId"), Permissions: perms})
	if err != nil {
		return nil, err
	}
	return map[string]any{"error": nil, "success": ok}, nil
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- teams

func (p *Plugin) handleCreateTeam(c *plugin.Context) (any, error) {
	return result(p.CreateTeam(c.Context(), c.Session(), CreateTeamInput{
		OrganizationID: c.String("organizationId"), Name: c.String("name")}))
}

func (p *Plugin) handleRemoveTeam(c *plugin.Context) (any, error) {
	err := p.RemoveTeam(c.Context(), c.Session(), RemoveTeamInput{OrganizationID: c.String("organizationId"), TeamID: c.String("teamId")})
	if err != nil {
		return nil, err
	}
	return map[string]string{"message": "Team removed successfully."}, nil
}

func (p *Plugin) handleUpdateTeam(c *plugin.Context) (any, error) {
	data, _ := c.Body()["data"].(map[string]any)
	in := UpdateTeamInput{TeamID: c.String("teamId")}
	if v, ok := data["name"]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			return nil, plugin.InvalidInput("body.data.name", "string", plugin.JSONKind(v))
		}
		if s == "" {
			return nil, validation("[body.data.name] Too small: expected string to have >=1 characters")
		}
		in.Name = &s
	}
	in.OrganizationID, _ = data["organizationId"].(string)
	return result(p.UpdateTeam(c.Context(), c.Session(), in))
}

func (p *Plugin) handleListTeams(c *plugin.Context) (any, error) {
	return p.ListTeams(c.Context(), c.Session(), c.Query("organizationId"))
}

func (p *Plugin) handleSetActiveTeam(c *plugin.Context) (any, error) {
	sd := c.Session()
	raw, present := c.Body()["teamId"]
	before := actives(sd)
	t, err := p.SetActiveTeam(c.Context(), sd, SetActiveTeamInput{TeamID: c.String("teamId"), Unset: present && raw == nil})
	reissue(c, before, t != nil)
	return result(t, err)
}

func (p *Plugin) handleListUserTeams(c *plugin.Context) (any, error) {
	return p.ListUserTeams(c.Context(), c.Session(), ListUserTeamsInput{UserID: c.Query("userId"), OrganizationID: c.Query("organizationId")})
}

func (p *Plugin) handleListTeamMembers(c *plugin.Context) (any, error) {
	return p.ListTeamMembers(c.Context(), c.Session(), c.Query("teamId"))
}

func (p *Plugin) handleAddTeamMember(c *plugin.Context) (any, error) {
	return result(p.AddTeamMember(c.Context(), c.Session(), teamMemberInput(c)))
}

func (p *Plugin) handleRemoveTeamMember(c *plugin.Context) (any, error) {
	if err := p.RemoveTeamMember(c.Context(), c.Session(), teamMemberInput(c)); err != nil {
		return nil, err
	}
	return map[string]string{"message": "Team member removed successfully."}, nil
}

func teamMemberInput(c *plugin.Context) TeamMemberInput {
	return TeamMemberInput{OrganizationID: c.String("organizationId"), TeamID: c.String("teamId"), UserID: c.String("userId")}
}
