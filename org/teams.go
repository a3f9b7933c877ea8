package org

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/plugin"
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
		err = ErrTeamNotFound
	}
	return t, err
}

func insertTeam(ctx context.Context, tx storage.Adapter, t *Team) error {
	return tx.Create(ctx, TableTeam, storage.Record{"id": t.ID, "name": t.Name, "memberCount": int64(0),
		"organizationId": t.OrganizationID, "createdAt": t.CreatedAt, "updatedAt": t.UpdatedAt})
}

func listTeams(ctx context.Context, db storage.Adapter, orgID string) ([]*Team, error) {
	return oldestFirst(ctx, db, TableTeam, 0, teamFromRecord, storage.W("organizationId", orgID))
}

// findTeamMember returns userID's membership record of the team (nil if
// there is none).
func findTeamMember(ctx context.Context, db storage.Adapter, teamID, userID string) (storage.Record, error) {
	return findOne(ctx, db, TableTeamMember, storage.W("teamId", teamID), storage.W("userId", userID))
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

// joinTeam adds userID to the team (idempotently), enforcing
// MaximumMembersPerTeam under the team's lock.
func (p *Plugin) joinTeam(ctx context.Context, tx storage.Adapter, teamID, userID string) (*TeamMember, error) {
	key := pairKey(teamID, userID)
	if r, err := findTeamMember(ctx, tx, teamID, userID); err != nil || r != nil {
		if err != nil {
			return nil, err
		}
		return teamMemberFromRecord(r), nil
	}
	if _, err := lockRow(ctx, tx, TableTeam, teamID); err != nil {
		return nil, err
	}
	if err := p.teamHasRoom(ctx, tx, teamID); err != nil {
		return nil, err
	}
	tm := &TeamMember{ID: plugin.NewID(), TeamID: teamID, UserID: userID, CreatedAt: p.a.Now()}
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

// teamHasRoom fails with ErrTeamMemberLimitReached if the team has
// MaximumMembersPerTeam members already.
func (p *Plugin) teamHasRoom(ctx context.Context, tx storage.Adapter, teamID string) error {
	max := p.opts.Teams.MaximumMembersPerTeam
	if max <= 0 {
		return nil
	}
	n, err := tx.Count(ctx, TableTeamMember, storage.W("teamId", teamID))
	if err != nil {
		return err
	}
	if n >= int64(max) {
		return ErrTeamMemberLimitReached
	}
	return nil
}

// teamsOn fails unless teams are enabled (Options.Teams.Enabled).
func (p *Plugin) teamsOn() error {
	if !p.opts.Teams.Enabled {
		return messageOnly(http.StatusBadRequest, "Teams are not enabled")
	}
	return nil
}

// CreateTeamInput is the input of CreateTeam.
type CreateTeamInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	Name           string
}

// CreateTeam creates a team in an organization, for a member allowed
// team:create, within MaximumTeams: POST /organization/create-team.
func (p *Plugin) CreateTeam(ctx context.Context, sd *plugin.SessionData, in CreateTeamInput) (*Team, error) {
	u, orgID, err := p.teamScope(sd, in.OrganizationID)
	if err != nil {
		return nil, err
	}
	now := p.a.Now()
	t := &Team{ID: plugin.NewID(), Name: in.Name, OrganizationID: orgID, CreatedAt: now, UpdatedAt: &now}
	err = p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.lockMember(ctx, tx, orgID, u.ID, ErrNotAllowedToInvite, // Better Auth's code here
			Permissions{"team": {"create"}}, ErrNotAllowedToCreateTeams)
		if err != nil {
			return err
		}
		if max := p.opts.Teams.MaximumTeams; max > 0 {
			n, err := tx.Count(ctx, TableTeam, storage.W("organizationId", orgID))
			if err != nil {
				return err
			}
			if n >= int64(max) {
				return ErrMaximumTeamsReached
			}
		}
		return insertTeam(ctx, tx, t)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// teamActor is actor for the team methods, which fail without teams.
func (p *Plugin) teamActor(sd *plugin.SessionData) (*plugin.User, error) {
	if err := p.teamsOn(); err != nil {
		return nil, err
	}
	return actor(sd)
}

// teamScope is the start of the team methods that act in an organization:
// teamActor, and the organization orgID or, without it, sd's active one
// (ErrNoActiveOrganization without either).
func (p *Plugin) teamScope(sd *plugin.SessionData, orgID string) (*plugin.User, string, error) {
	u, err := p.teamActor(sd)
	if err != nil {
		return nil, "", err
	}
	if orgID = orgOrActive(sd, orgID); orgID == "" {
		return nil, "", ErrNoActiveOrganization
	}
	return u, orgID, nil
}

// RemoveTeamInput is the input of RemoveTeam.
type RemoveTeamInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	TeamID         string
}

// RemoveTeam deletes a team with its memberships, for a member allowed
// team:delete, and drops it from sessions and pending invitations: POST
// /organization/remove-team. The session's own active team cannot be
// removed, nor an organization's last team unless AllowRemovingAllTeams.
func (p *Plugin) RemoveTeam(ctx context.Context, sd *plugin.SessionData, in RemoveTeamInput) error {
	u, orgID, err := p.teamScope(sd, in.OrganizationID)
	if err != nil {
		return err
	}
	teamID := in.TeamID
	return p.tx(ctx, func(tx storage.Adapter) error {
		m, err := p.lockMember(ctx, tx, orgID, u.ID, ErrNotAllowedToDeleteTeam, nil, nil)
		if err != nil {
			return err
		}
		if ActiveTeamID(sd) == teamID {
			return ErrNotAllowedToDeleteTeam
		}
		if !p.Authorize(m.Role, Permissions{"team": {"delete"}}) {
			return ErrNotAllowedToDeleteTeams
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
				return ErrUnableToRemoveLastTeam
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
			ids := splitList(*inv.TeamID)
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
}

// UpdateTeamInput is the input of UpdateTeam.
type UpdateTeamInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	TeamID         string
	// Name, if set, is the team's new name.
	Name *string
}

// UpdateTeam renames a team, for a member allowed team:update, and sets
// its updatedAt: POST /organization/update-team. It returns the team as
// stored.
func (p *Plugin) UpdateTeam(ctx context.Context, sd *plugin.SessionData, in UpdateTeamInput) (*Team, error) {
	u, orgID, err := p.teamScope(sd, in.OrganizationID)
	if err != nil {
		return nil, err
	}
	var t *Team
	err = p.tx(ctx, func(tx storage.Adapter) error {
		_, err := p.requireMember(ctx, tx, orgID, u.ID, ErrNotAllowedToUpdateTeam,
			Permissions{"team": {"update"}}, ErrNotAllowedToUpdateTeam)
		if err != nil {
			return err
		}
		if t, err = requireTeam(ctx, tx, in.TeamID, orgID); err != nil {
			return err
		}
		now := p.a.Now()
		set := storage.Record{"updatedAt": now}
		if in.Name != nil {
			set["name"] = *in.Name
			t.Name = *in.Name
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

// ListTeams returns the teams of the organization orgID (default: the
// session's active one) to a member: GET /organization/list-teams
// (Better Auth's listOrganizationTeams).
func (p *Plugin) ListTeams(ctx context.Context, sd *plugin.SessionData, orgID string) ([]*Team, error) {
	u, orgID, err := p.teamScope(sd, orgID)
	if err != nil {
		return nil, err
	}
	if _, err := p.requireMember(ctx, p.a.DB(), orgID, u.ID, ErrNotAllowedToAccessOrganization, nil, nil); err != nil {
		return nil, err
	}
	ts, err := listTeams(ctx, p.a.DB(), orgID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return nonNil(ts), nil
}

// SetActiveTeamInput is the input of SetActiveTeam.
type SetActiveTeamInput struct {
	// TeamID is a team of the session's active organization that sd's
	// user belongs to; without it the session's active team is checked
	// again.
	TeamID string
	// Unset clears the active team (the route's teamId: null); TeamID is
	// then ignored.
	Unset bool
}

// SetActiveTeam makes a team sd's session's active one and returns it:
// POST /organization/set-active-team. It returns nil when it cleared the
// active team or there was none to check.
func (p *Plugin) SetActiveTeam(ctx context.Context, sd *plugin.SessionData, in SetActiveTeamInput) (*Team, error) {
	u, err := p.teamActor(sd)
	if err != nil {
		return nil, err
	}
	if in.Unset {
		if ActiveTeamID(sd) == "" {
			return nil, nil
		}
		return nil, p.clearSessionField(ctx, sd, FieldActiveTeamID)
	}
	teamID := in.TeamID
	if teamID == "" {
		if teamID = ActiveTeamID(sd); teamID == "" {
			return nil, nil
		}
	}
	orgID := ActiveOrganizationID(sd)
	if orgID == "" {
		return nil, ErrNoActiveOrganization
	}
	var t *Team
	err = p.tx(ctx, func(tx storage.Adapter) error {
		var err error
		if t, err = requireTeam(ctx, tx, teamID, orgID); err != nil {
			return err
		}
		// Under the team's lock, so that a concurrent removal from the team
		// cannot leave the session pointing at it.
		if _, err := lockRow(ctx, tx, TableTeam, t.ID); err != nil {
			return err
		}
		tm, err := findTeamMember(ctx, tx, teamID, u.ID)
		if err != nil {
			return err
		}
		if tm == nil {
			return withStatus(ErrUserNotTeamMember, http.StatusForbidden)
		}
		return setSessionField(ctx, tx, sessionIDOf(sd), FieldActiveTeamID, &t.ID)
	})
	if err != nil {
		return nil, err
	}
	mirror(sd, FieldActiveTeamID, &t.ID)
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

// ListUserTeamsInput is the input of ListUserTeams.
type ListUserTeamsInput struct {
	// UserID is the user whose teams are listed; default sd's user.
	// Another user's need member:update, in OrganizationID or the
	// session's active organization.
	UserID string
	// OrganizationID limits the list to one organization.
	OrganizationID string
}

// ListUserTeams returns the teams a user belongs to: GET
// /organization/list-user-teams.
func (p *Plugin) ListUserTeams(ctx context.Context, sd *plugin.SessionData, in ListUserTeamsInput) ([]*Team, error) {
	u, err := p.teamActor(sd)
	if err != nil {
		return nil, err
	}
	db := p.a.DB()
	if in.UserID == "" || in.UserID == u.ID {
		if in.OrganizationID != "" {
			if _, err := p.requireMember(ctx, db, in.OrganizationID, u.ID, ErrNotAMember, nil, nil); err != nil {
				return nil, err
			}
		}
		ts, err := p.userTeams(ctx, u.ID, in.OrganizationID)
		return ts, apiErr(err)
	}
	orgID := orgOrActive(sd, in.OrganizationID)
	if orgID == "" {
		return nil, ErrNoActiveOrganization
	}
	_, err = p.requireMember(ctx, db, orgID, u.ID, ErrNotAMember,
		Permissions{"member": {"update"}}, ErrNotAllowedToUpdateMember)
	if err != nil {
		return nil, err
	}
	if _, err := p.requireMember(ctx, db, orgID, in.UserID, ErrUserNotMember, nil, nil); err != nil {
		return nil, err
	}
	ts, err := p.userTeams(ctx, in.UserID, orgID)
	return ts, apiErr(err)
}

// ListTeamMembers returns the members of the team teamID (default: the
// session's active team) to one of them: GET
// /organization/list-team-members.
func (p *Plugin) ListTeamMembers(ctx context.Context, sd *plugin.SessionData, teamID string) ([]*TeamMember, error) {
	u, err := p.teamActor(sd)
	if err != nil {
		return nil, err
	}
	if teamID == "" {
		teamID = ActiveTeamID(sd)
	}
	if teamID == "" {
		return nil, ErrNoActiveTeam
	}
	db := p.a.DB()
	t, err := requireTeam(ctx, db, teamID, "")
	if err != nil {
		return nil, apiErr(err)
	}
	if _, err := p.requireMember(ctx, db, t.OrganizationID, u.ID, ErrUserNotTeamMember, nil, nil); err != nil {
		return nil, err
	}
	m, err := findTeamMember(ctx, db, teamID, u.ID)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if m == nil {
		return nil, ErrUserNotTeamMember
	}
	tms, err := oldestFirst(ctx, db, TableTeamMember, 0, teamMemberFromRecord, storage.W("teamId", teamID))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return tms, nil
}

// TeamMemberInput is the input of AddTeamMember and RemoveTeamMember.
type TeamMemberInput struct {
	// OrganizationID defaults to the session's active organization.
	OrganizationID string
	TeamID         string
	// UserID is a member of the organization.
	UserID string
}

// AddTeamMember adds a member of an organization to one of its teams, for
// a member allowed member:update, within MaximumMembersPerTeam: POST
// /organization/add-team-member. Adding a team member twice returns the
// existing membership.
func (p *Plugin) AddTeamMember(ctx context.Context, sd *plugin.SessionData, in TeamMemberInput) (*TeamMember, error) {
	var tm *TeamMember
	err := p.teamMemberTx(ctx, sd, in, Permissions{"member": {"update"}}, ErrNotAllowedToCreateTeamMember,
		func(tx storage.Adapter) (err error) {
			tm, err = p.joinTeam(ctx, tx, in.TeamID, in.UserID)
			return err
		})
	if err != nil {
		return nil, err
	}
	return tm, nil
}

// RemoveTeamMember removes a member from a team, for a member allowed
// member:delete; the team is no longer active in the user's sessions:
// POST /organization/remove-team-member.
func (p *Plugin) RemoveTeamMember(ctx context.Context, sd *plugin.SessionData, in TeamMemberInput) error {
	return p.teamMemberTx(ctx, sd, in, Permissions{"member": {"delete"}}, ErrNotAllowedToRemoveTeamMember,
		func(tx storage.Adapter) error {
			if _, err := lockRow(ctx, tx, TableTeam, in.TeamID); err != nil {
				return err
			}
			n, err := tx.Delete(ctx, TableTeamMember, storage.W("teamId", in.TeamID), storage.W("userId", in.UserID))
			if err != nil {
				return err
			}
			if n == 0 {
				return ErrUserNotTeamMember
			}
			if err := p.clearActive(ctx, tx, FieldActiveTeamID, in.TeamID, storage.W("userId", in.UserID)); err != nil {
				return err
			}
			return syncTeamCount(ctx, tx, in.TeamID)
		})
}

// teamMemberTx runs change in a transaction under the organization's lock
// after the checks AddTeamMember and RemoveTeamMember share: sd's user is
// a member allowed perms (else denied), in.UserID a member, in.TeamID a
// team of the organization.
func (p *Plugin) teamMemberTx(ctx context.Context, sd *plugin.SessionData, in TeamMemberInput, perms Permissions, denied error,
	change func(tx storage.Adapter) error) error {
	u, orgID, err := p.teamScope(sd, in.OrganizationID)
	if err != nil {
		return err
	}
	return p.tx(ctx, func(tx storage.Adapter) error {
		if _, err := p.lockMember(ctx, tx, orgID, u.ID, ErrUserNotMember, perms, denied); err != nil {
			return err
		}
		if _, err := p.requireMember(ctx, tx, orgID, in.UserID, ErrUserNotMember, nil, nil); err != nil {
			return err
		}
		if _, err := requireTeam(ctx, tx, in.TeamID, orgID); err != nil {
			return err
		}
		return change(tx)
	})
}
