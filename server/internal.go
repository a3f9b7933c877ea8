package server

import (
	"context"
	"net/http"

	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
)

// orgDirectory answers OrgDirectory from the org plugin.
type orgDirectory struct{ p *org.Plugin }

func (d orgDirectory) MemberRole(ctx context.Context, orgID, userID string) (string, error) {
	return d.p.MemberRole(ctx, orgID, userID)
}

func (d orgDirectory) Memberships(ctx context.Context, userID string) ([]Membership, error) {
	orgs, err := d.p.ListOrganizations(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]Membership, 0, len(orgs))
	for _, o := range orgs {
		role, err := d.p.MemberRole(ctx, o.ID, userID)
		if err != nil {
			return nil, err
		}
		if role != "" {
			out = append(out, Membership{OrganizationID: o.ID, Role: role})
		}
	}
	return out, nil
}

// Membership is a user's role in an organization.
type Membership struct {
	OrganizationID string `json:"organizationId"`
	Role           string `json:"role"`
}

// OrgDirectory answers membership questions for mana-credits and
// mana-sync. The org plugin provides it.
type OrgDirectory interface {
	// MemberRole returns the user's role in the organization, "" if none.
	MemberRole(ctx context.Context, orgID, userID string) (string, error)
	// Memberships lists the user's organizations.
	Memberships(ctx context.Context, userID string) ([]Membership, error)
}

// requireServiceKey guards internal routes with X-Service-Key, compared in
// constant time. Without a configured key nobody passes.
func (s *Server) requireServiceKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Service-Key")
		if s.cfg.ServiceKey == "" || key == "" || !plugin.SecureEqual(key, s.cfg.ServiceKey) {
			writeJSON(w, http.StatusUnauthorized, statusBody{StatusCode: 401, Message: "Invalid or missing service key", Code: "INVALID_SERVICE_KEY"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) internalRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/internal/org/{orgId}/member/{userId}", s.requireServiceKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		role := ""
		if s.orgs != nil {
			var err error
			if role, err = s.orgs.MemberRole(r.Context(), r.PathValue("orgId"), r.PathValue("userId")); err != nil {
				s.writeStatusErr(w, r, err)
				return
			}
		}
		writeJSON(w, 200, map[string]any{"isMember": role != "", "role": role})
	})))
	mux.Handle("GET /api/v1/internal/users/{userId}/memberships", s.requireServiceKey(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms := []Membership{}
		if s.orgs != nil {
			got, err := s.orgs.Memberships(r.Context(), r.PathValue("userId"))
			if err != nil {
				s.writeStatusErr(w, r, err)
				return
			}
			ms = append(ms, got...)
		}
		writeJSON(w, 200, map[string]any{"userId": r.PathValue("userId"), "memberships": ms})
	})))
}
