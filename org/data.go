package org

import (
	"context"
	"errors"
	"slices"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// ExportUser implements plugin.DataSource: the user's memberships (with the
// organization's id, name and slug), the invitations sent to their email
// and those they sent, and (with teams) their team memberships.
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	db := p.a.DB()
	out := map[string]any{}
	recs, err := db.FindMany(ctx, TableMember, storage.Query{Where: []storage.Where{storage.W("userId", userID)},
		Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	memberships := []map[string]any{}
	for _, r := range recs {
		m := memberFromRecord(r)
		entry := map[string]any{"id": m.ID, "organizationId": m.OrganizationID, "role": m.Role, "createdAt": m.CreatedAt}
		o, err := findOrg(ctx, db, m.OrganizationID)
		if err != nil {
			return nil, plugin.StorageError(err)
		}
		if o != nil {
			entry["organizationName"], entry["organizationSlug"] = o.Name, o.Slug
		}
		memberships = append(memberships, entry)
	}
	out["memberships"] = memberships
	received := []*Invitation{}
	if u, err := p.a.FindUserByID(ctx, userID); err == nil {
		if received, err = p.invitations(ctx, storage.W("email", plugin.NormalizeEmail(u.Email))); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, auth.ErrUserNotFound) {
		return nil, err
	}
	out["invitationsReceived"] = received
	sent, err := p.invitations(ctx, storage.W("inviterId", userID))
	if err != nil {
		return nil, err
	}
	out["invitationsSent"] = sent
	if p.opts.Teams.Enabled {
		recs, err := db.FindMany(ctx, TableTeamMember, storage.Query{Where: []storage.Where{storage.W("userId", userID)}})
		if err != nil {
			return nil, plugin.StorageError(err)
		}
		tms := []*TeamMember{}
		for _, r := range recs {
			tms = append(tms, teamMemberFromRecord(r))
		}
		out["teamMemberships"] = tms
	}
	return out, nil
}

func (p *Plugin) invitations(ctx context.Context, where ...storage.Where) ([]*Invitation, error) {
	recs, err := p.a.DB().FindMany(ctx, TableInvitation, storage.Query{Where: where, Sort: []storage.Sort{{Field: "createdAt"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := []*Invitation{}
	for _, r := range recs {
		out = append(out, invitationFromRecord(r))
	}
	return out, nil
}

// DeleteUser implements plugin.DataSource: it removes the user's memberships
// (and team memberships), the invitations sent to their email and those
// they sent. An organization never loses its last owner this way: for each
// organization the user belongs to, under the organization's lock,
//
//   - if the user is its only member, the organization is deleted (with its
//     invitations and teams);
//   - otherwise, if the user is its only holder of the creator role, that
//     role passes to the longest-standing admin, or, without admins, to the
//     longest-standing other member (it is added to their roles, e.g.
//     "admin" becomes "admin,owner").
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	db := p.a.DB()
	recs, err := db.FindMany(ctx, TableMember, storage.Query{Where: []storage.Where{storage.W("userId", userID)}})
	if err != nil {
		return plugin.StorageError(err)
	}
	for _, r := range recs {
		orgID := r.String("organizationId")
		err := p.tx(ctx, func(tx storage.Adapter) error {
			if _, err := lockRow(ctx, tx, TableOrganization, orgID); err != nil {
				return err
			}
			ms, err := members(ctx, tx, orgID, 0)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(ms, func(m *Member) bool { return m.UserID == userID })
			if i < 0 {
				return nil // left meanwhile
			}
			me := ms[i]
			if len(ms) == 1 {
				return p.deleteOrgTx(ctx, tx, orgID)
			}
			if hasRole(me.Role, p.opts.CreatorRole) && p.countOwners(ms) == 1 {
				heir := p.successor(ms, userID)
				role := joinRoles(append(heir.Roles(), p.opts.CreatorRole))
				if _, err := tx.Update(ctx, TableMember, storage.Record{"role": role}, storage.W("id", heir.ID)); err != nil {
					return err
				}
			}
			return p.removeMemberTx(ctx, tx, me)
		})
		if err != nil {
			return err
		}
	}
	var email string
	if u, err := p.a.FindUserByID(ctx, userID); err == nil {
		email = u.Email
	} else if !errors.Is(err, auth.ErrUserNotFound) {
		return err
	}
	return p.tx(ctx, func(tx storage.Adapter) error {
		if email != "" {
			if _, err := tx.Delete(ctx, TableInvitation, storage.W("email", plugin.NormalizeEmail(email))); err != nil {
				return err
			}
		}
		if _, err := tx.Delete(ctx, TableInvitation, storage.W("inviterId", userID)); err != nil {
			return err
		}
		if p.opts.Teams.Enabled {
			if _, err := tx.Delete(ctx, TableTeamMember, storage.W("userId", userID)); err != nil {
				return err
			}
		}
		return nil
	})
}

// successor picks who inherits the creator role from the leaving user:
// the longest-standing admin, else the longest-standing other member (ms
// is sorted by createdAt).
func (p *Plugin) successor(ms []*Member, leaving string) *Member {
	for _, m := range ms {
		if m.UserID != leaving && hasRole(m.Role, "admin") {
			return m
		}
	}
	for _, m := range ms {
		if m.UserID != leaving {
			return m
		}
	}
	return nil
}
