package org

import (
	"context"
	"errors"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/storage"
)

func findTeam(ctx context.Context, db storage.Adapter, teamID, orgID string) (*Team, error) {
	if teamID == "" {
		return nil, nil
	}
	w := []storage.Where{storage.W("id", teamID)}
	if orgID != "" {
		w = append(w, storage.W("organizationId", orgID))
	}
	r, err := findOne(ctx, db, TableTeam, w...)
	if r == nil || err != nil {
		return nil, err
	}
	return teamFromRecord(r), nil
}

// requireTeam is findTeam failing with TEAM_NOT_FOUND if there is no such
// team.
func requireTeam(ctx context.Context, db storage.Adapter, teamID, orgID string) (*Team, error) {
	t, err := findTeam(ctx, db, teamID, orgID)
	if err == nil && t == nil {
		err = badRequest(CodeTeamNotFound)
	}
	return t, err
}

func insertTeam(ctx context.Context, tx storage.Adapter, t *Team) error {
	return tx.Create(ctx, TableTeam, storage.Record{"id": t.ID, "name": t.Name, "memberCount": int64(0),
		"organizationId": t.OrganizationID, "createdAt": t.CreatedAt, "updatedAt": t.UpdatedAt})
}

func listTeams(ctx context.Context, db storage.Adapter, orgID string) ([]*Team, error) {
	recs, err := db.FindMany(ctx, TableTeam, storage.Query{Where: []storage.Where{storage.W("organizationId", orgID)},
		Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, err
	}
	out := make([]*Team, len(recs))
	for i, r := range recs {
		out[i] = teamFromRecord(r)
	}
	return out, nil
}

// syncTeamCount sets the team's memberCount to its number of members.
func syncTeamCount(ctx context.Context, tx storage.Adapter, teamID string) error {
	n, err := tx.Count(ctx, TableTeamMember, storage.W("teamId", teamID))
	if err != nil {
		return err
	}
	_, err = tx.Update(ctx, TableTeam, storage.Record{"memberCount": n}, storage.W("id", teamID))
	return err
}

// addTeamMember adds userID to the team (idempotently), enforcing
// MaximumMembersPerTeam under the team's lock.
func (p *Plugin) addTeamMember(ctx context.Context, tx storage.Adapter, teamID, userID string) (*TeamMember, error) {
	key := pairKey(teamID, userID)
	if r, err := findOne(ctx, tx, TableTeamMember, storage.W("teamId", teamID), storage.W("userId", userID)); err != nil || r != nil {
		if err != nil {
			return nil, err
		}
		return teamMemberFromRecord(r), nil
	}
	if _, err := lockRow(ctx, tx, TableTeam, teamID); err != nil {
		return nil, err
	}
	if max := p.opts.Teams.MaximumMembersPerTeam; max > 0 {
		n, err := tx.Count(ctx, TableTeamMember, storage.W("teamId", teamID))
		if err != nil {
			return nil, err
		}
		if n >= int64(max) {
			return nil, forbidden(CodeTeamMemberLimitReached)
		}
	}
	tm := &TeamMember{ID: auth.NewID(), TeamID: teamID, UserID: userID, CreatedAt: p.a.Now()}
	err := tx.Create(ctx, TableTeamMember, storage.Record{"id": tm.ID, "teamId": teamID, "userId": userID,
		"membershipKey": key, "createdAt": tm.CreatedAt})
	if errors.Is(err, storage.ErrConflict) { // added concurrently
		r, ferr := findOne(ctx, tx, TableTeamMember, storage.W("membershipKey", key))
		if ferr != nil || r == nil {
			return nil, err
		}
		return teamMemberFromRecord(r), nil
	}
	if err != nil {
		return nil, err
	}
	return tm, syncTeamCount(ctx, tx, teamID)
}

func (p *Plugin) teamEndpoints() []auth.Endpoint {
	str := func(n string) auth.Param { return auth.Param{Name: n, Kind: auth.KindString} }
	opt := func(n string) auth.Param { return auth.Param{Name: n, Kind: auth.KindString, Optional: true} }
	return []auth.Endpoint{
		{Method: "POST", Path: "/organization/create-team", Auth: auth.SessionRequired, Handler: p.handleCreateTeam,
			Body: []auth.Param{str("name"), opt("organizationId")}},
		{Method: "POST", Path: "/organization/remove-team", Auth: auth.SessionRequired, Handler: p.handleRemoveTeam,
			Body: []auth.Param{str("teamId"), opt("organizationId")}},
		{Method: "POST", Path: "/organization/update-team", Auth: auth.SessionRequired, Handler: p.handleUpdateTeam,
			Body: []auth.Param{str("teamId"), {Name: "data", Kind: auth.KindObject}}},
		{Method: "GET", Path: "/organization/list-teams", Auth: auth.SessionRequired, Handler: p.handleListTeams},
		{Method: "POST", Path: "/organization/set-active-team", Auth: auth.SessionRequired, Handler: p.handleSetActiveTeam,
			Body: []auth.Param{opt("teamId")}},
		{Method: "GET", Path: "/organization/list-user-teams", Auth: auth.SessionRequired, Handler: p.handleListUserTeams},
		{Method: "GET", Path: "/organization/list-team-members", Auth: auth.SessionRequired, Handler: p.handleListTeamMembers},
		{Method: "POST", Path: "/organization/add-team-member", Auth: auth.SessionRequired, Handler: p.handleAddTeamMember,
			Body: []auth.Param{str("teamId"), str("userId"), opt("organizationId")}},
		{Method: "POST", Path: "/organization/remove-team-member", Auth: auth.SessionRequired, Handler: p.handleRemoveTeamMember,
			Body: []auth.Param{str("teamId"), str("userId"), opt("organizationId")}},
	}
}

// orgOrActive returns the given organization id or the session's active one.
func orgOrActive(c *auth.Context, given string) string {
	if given != "" {
		return given
	}
	return ActiveOrganizationID(c.Session())
}

func (p *Plugin) handleCreateTeam(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	orgID := orgOrActive(c, c.String("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	now := p.a.Now()
	t := &Team{ID: auth.NewID(), Name: c.String("name"), OrganizationID: orgID, CreatedAt: now, UpdatedAt: &now}
	err := p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, sd.User.ID, forbidden(CodeNotAllowedToInvite), // Better Auth's code here
			Permissions{"team": {"create"}}, forbidden(CodeNotAllowedToCreateTeams))
		if err != nil {
			return err
		}
		if max := p.opts.Teams.MaximumTeams; max > 0 {
			n, err := tx.Count(ctx, TableTeam, storage.W("organizationId", orgID))
			if err != nil {
				return err
			}
			if n >= int64(max) {
				return badRequest(CodeMaximumTeamsReached)
			}
		}
		return insertTeam(ctx, tx, t)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (p *Plugin) handleRemoveTeam(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	orgID := orgOrActive(c, c.String("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	teamID := c.String("teamId")
	err := p.tx(ctx, func(tx storage.Adapter) error {
		m, err := p.lockMember(ctx, tx, orgID, sd.User.ID, forbidden(CodeNotAllowedToDeleteTeam), nil, nil)
		if err != nil {
			return err
		}
		if ActiveTeamID(sd) == teamID {
			return forbidden(CodeNotAllowedToDeleteTeam)
		}
		if !p.Authorize(m.Role, Permissions{"team": {"delete"}}) {
			return forbidden(CodeNotAllowedToDeleteTeams)
		}
		if _, err := requireTeam(ctx, tx, teamID, orgID); err != nil {
			return err
		}
		if !p.opts.Teams.AllowRemovingAllTeams {
			n, err := tx.Count(ctx, TableTeam, storage.W("organizationId", orgID))
			if err != nil {
				return err
			}
			if n <= 1 {
				return badRequest(CodeUnableToRemoveLastTeam)
			}
		}
		if _, err := tx.Delete(ctx, TableTeamMember, storage.W("teamId", teamID)); err != nil {
			return err
		}
		if _, err := tx.Delete(ctx, TableTeam, storage.W("id", teamID)); err != nil {
			return err
		}
		if err := p.clearActive(ctx, tx, FieldActiveTeamID, teamID); err != nil {
			return err
		}
		// Drop the team from pending invitations.
		pending, err := pendingInvitations(ctx, tx, p.a.Now(), storage.W("organizationId", orgID))
		if err != nil {
			return err
		}
		for _, inv := range pending {
			if inv.TeamID == nil {
				continue
			}
			var keep []string
			ids := splitIDs(*inv.TeamID)
			for _, id := range ids {
				if id != teamID {
					keep = append(keep, id)
				}
			}
			var v any
			if len(keep) > 0 {
				v = strings.Join(keep, ",")
			}
			if len(keep) != len(ids) {
				if _, err := tx.Update(ctx, TableInvitation, storage.Record{"teamId": v}, storage.W("id", inv.ID)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{"message": "Team removed successfully."}, nil
}

func (p *Plugin) handleUpdateTeam(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	data, _ := c.Body()["data"].(map[string]any)
	var name *string
	if v, ok := data["name"]; ok && v != nil {
		s, isStr := v.(string)
		if !isStr {
			return nil, validation("[body.data.name] Invalid input: expected string, received " + auth.JSONKind(v))
		}
		if s == "" {
			return nil, validation("[body.data.name] Too small: expected string to have >=1 characters")
		}
		name = &s
	}
	dataOrg, _ := data["organizationId"].(string)
	orgID := orgOrActive(c, dataOrg)
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	teamID := c.String("teamId")
	var t *Team
	err := p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.requireMember(ctx, tx, orgID, sd.User.ID, forbidden(CodeNotAllowedToUpdateTeam),
			Permissions{"team": {"update"}}, forbidden(CodeNotAllowedToUpdateTeam))
		if err != nil {
			return err
		}
		if t, err = requireTeam(ctx, tx, teamID, orgID); err != nil {
			return err
		}
		now := p.a.Now()
		set := storage.Record{"updatedAt": now}
		if name != nil {
			set["name"] = *name
			t.Name = *name
		}
		t.UpdatedAt = &now
		_, err = tx.Update(ctx, TableTeam, set, storage.W("id", t.ID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func (p *Plugin) handleListTeams(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	orgID := orgOrActive(c, c.Query("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	if _, err := p.requireMember(ctx, p.a.DB(), orgID, sd.User.ID, forbidden(CodeNotAllowedToAccessOrganization), nil, nil); err != nil {
		return nil, err
	}
	ts, err := listTeams(ctx, p.a.DB(), orgID)
	if err != nil {
		return nil, auth.StorageError(err)
	}
	return nonNil(ts), nil
}

func (p *Plugin) handleSetActiveTeam(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	raw, present := c.Body()["teamId"]
	if present && raw == nil {
		if ActiveTeamID(sd) == "" {
			return nil, nil
		}
		return nil, p.setActive(c, FieldActiveTeamID, nil)
	}
	teamID := c.String("teamId")
	if teamID == "" {
		if teamID = ActiveTeamID(sd); teamID == "" {
			return nil, nil
		}
	}
	orgID := ActiveOrganizationID(sd)
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	var t *Team
	err := p.tx(ctx, func(tx storage.Adapter) error {
		var err error
		if t, err = requireTeam(ctx, tx, teamID, orgID); err != nil {
			return err
		}
		// Under the team's lock, so that a concurrent removal from the team
		// cannot leave the session pointing at it.
		if _, err := lockRow(ctx, tx, TableTeam, t.ID); err != nil {
			return err
		}
		tm, err := findOne(ctx, tx, TableTeamMember, storage.W("teamId", teamID), storage.W("userId", sd.User.ID))
		if err != nil {
			return err
		}
		if tm == nil {
			return forbidden(CodeUserNotTeamMember)
		}
		return setSessionField(ctx, tx, sd.Session.ID, FieldActiveTeamID, &t.ID)
	})
	if err != nil {
		return nil, err
	}
	reflectActive(c, FieldActiveTeamID, &t.ID)
	return t, nil
}

// userTeams returns the teams userID belongs to (in organizations they are
// still a member of), optionally limited to orgID.
func (p *Plugin) userTeams(ctx context.Context, userID, orgID string) ([]*Team, error) {
	db := p.a.DB()
	tms, err := db.FindMany(ctx, TableTeamMember, storage.Query{Where: []storage.Where{storage.W("userId", userID)}})
	if err != nil {
		return nil, err
	}
	out := []*Team{}
	member := map[string]bool{}
	for _, r := range tms {
		t, err := findTeam(ctx, db, r.String("teamId"), orgID)
		if err != nil {
			return nil, err
		}
		if t == nil {
			continue
		}
		ok, seen := member[t.OrganizationID]
		if !seen {
			m, err := findMember(ctx, db, t.OrganizationID, userID)
			if err != nil {
				return nil, err
			}
			ok = m != nil
			member[t.OrganizationID] = ok
		}
		if ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func (p *Plugin) handleListUserTeams(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	target := c.Query("userId")
	if target == "" || target == sd.User.ID {
		given := c.Query("organizationId")
		if given != "" {
			if _, err := p.requireMember(ctx, p.a.DB(), given, sd.User.ID, forbidden(CodeNotAMember), nil, nil); err != nil {
				return nil, err
			}
		}
		ts, err := p.userTeams(ctx, sd.User.ID, given)
		return ts, apiErr(err)
	}
	orgID := orgOrActive(c, c.Query("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	_, err := p.requireMember(ctx, p.a.DB(), orgID, sd.User.ID, forbidden(CodeNotAMember),
		Permissions{"member": {"update"}}, forbidden(CodeNotAllowedToUpdateMember))
	if err != nil {
		return nil, err
	}
	if _, err := p.requireMember(ctx, p.a.DB(), orgID, target, badRequest(CodeUserNotMember), nil, nil); err != nil {
		return nil, err
	}
	ts, err := p.userTeams(ctx, target, orgID)
	return ts, apiErr(err)
}

func (p *Plugin) handleListTeamMembers(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	teamID := c.Query("teamId")
	if teamID == "" {
		teamID = ActiveTeamID(sd)
	}
	if teamID == "" {
		return nil, badRequest(CodeNoActiveTeam)
	}
	db := p.a.DB()
	t, err := requireTeam(ctx, db, teamID, "")
	if err != nil {
		return nil, apiErr(err)
	}
	if _, err := p.requireMember(ctx, db, t.OrganizationID, sd.User.ID, badRequest(CodeUserNotTeamMember), nil, nil); err != nil {
		return nil, err
	}
	m, err := findOne(ctx, db, TableTeamMember, storage.W("teamId", teamID), storage.W("userId", sd.User.ID))
	if err != nil {
		return nil, auth.StorageError(err)
	}
	if m == nil {
		return nil, badRequest(CodeUserNotTeamMember)
	}
	recs, err := db.FindMany(ctx, TableTeamMember, storage.Query{Where: []storage.Where{storage.W("teamId", teamID)},
		Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, auth.StorageError(err)
	}
	out := make([]*TeamMember, len(recs))
	for i, r := range recs {
		out[i] = teamMemberFromRecord(r)
	}
	return out, nil
}

func (p *Plugin) handleAddTeamMember(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	orgID := orgOrActive(c, c.String("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	teamID, userID := c.String("teamId"), c.String("userId")
	var tm *TeamMember
	err := p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, sd.User.ID, badRequest(CodeUserNotMember),
			Permissions{"member": {"update"}}, forbidden(CodeNotAllowedToCreateTeamMember))
		if err != nil {
			return err
		}
		if _, err := p.requireMember(ctx, tx, orgID, userID, badRequest(CodeUserNotMember), nil, nil); err != nil {
			return err
		}
		if _, err := requireTeam(ctx, tx, teamID, orgID); err != nil {
			return err
		}
		tm, err = p.addTeamMember(ctx, tx, teamID, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tm, nil
}

func (p *Plugin) handleRemoveTeamMember(c *auth.Context) (any, error) {
	ctx, sd := c.Context(), c.Session()
	orgID := orgOrActive(c, c.String("organizationId"))
	if orgID == "" {
		return nil, badRequest(CodeNoActiveOrganization)
	}
	teamID, userID := c.String("teamId"), c.String("userId")
	err := p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, sd.User.ID, badRequest(CodeUserNotMember),
			Permissions{"member": {"delete"}}, forbidden(CodeNotAllowedToRemoveTeamMember))
		if err != nil {
			return err
		}
		if _, err := p.requireMember(ctx, tx, orgID, userID, badRequest(CodeUserNotMember), nil, nil); err != nil {
			return err
		}
		if _, err := requireTeam(ctx, tx, teamID, orgID); err != nil {
			return err
		}
		if _, err := lockRow(ctx, tx, TableTeam, teamID); err != nil {
			return err
		}
		n, err := tx.Delete(ctx, TableTeamMember, storage.W("teamId", teamID), storage.W("userId", userID))
		if err != nil {
			return err
		}
		if n == 0 {
			return badRequest(CodeUserNotTeamMember)
		}
		if err := p.clearActive(ctx, tx, FieldActiveTeamID, teamID, storage.W("userId", userID)); err != nil {
			return err
		}
		return syncTeamCount(ctx, tx, teamID)
	})
	if err != nil {
		return nil, err
	}
	return map[string]string{"message": "Team member removed successfully."}, nil
}

// splitIDs splits a comma-joined id list.
func splitIDs(s string) []string {
	var out []string
	for _, id := range strings.Split(s, ",") {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	return out
}
