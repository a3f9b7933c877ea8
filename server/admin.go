package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// requireAdmin admits callers whose role is admin and whose address is
// verified. Both are read from the database, not only from the token, so a
// revoked admin loses access at once on every instance.
func (s *Server) requireAdmin(perms admin.Statements, next http.Handler) http.Handler {
	return s.requireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := principalFrom(r.Context())
		u, err := s.host.FindUserByID(r.Context(), p.UserID)
		if err != nil && !errors.Is(err, auth.ErrUserNotFound) {
			s.writeStatusErr(w, r, err)
			return
		}
		if err != nil || !s.mayAdminister(u, perms) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "Forbidden", "message": "Admin access required", "code": "FORBIDDEN"})
			return
		}
		next.ServeHTTP(w, r)
	}))
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	// Each route asks the admin plugin's permission for what it does.
	h := func(pattern, resource, action string, fn http.HandlerFunc) {
		mux.Handle(pattern, s.requireAdmin(admin.Statements{resource: {action}}, fn))
	}
	h("GET /api/v1/admin/users", "user", "list", s.handleAdminUsers)
	h("GET /api/v1/admin/users/{userId}/data", "user", "get", s.handleAdminUserData)
	h("DELETE /api/v1/admin/users/{userId}/data", "user", "delete", s.handleAdminUserDelete)
	h("GET /api/v1/admin/users/{userId}/tier", "user", "get", s.handleAdminGetTier)
	h("PUT /api/v1/admin/users/{userId}/tier", "user", "update", s.handleAdminSetTier)
	h("GET /api/v1/admin/security-events", "user", "list", s.handleAdminSecurityEvents)
}

func adminError(w http.ResponseWriter, status int, errText, msg, code string) {
	writeJSON(w, status, map[string]string{"error": errText, "message": msg, "code": code})
}

func (s *Server) audit(ctx context.Context, action, target string) {
	p := principalFrom(ctx)
	s.sec.record(ctx, eventFor(ctx, EventAdminAction, p.UserID, map[string]any{"action": action, "target": target}))
	s.log.InfoContext(ctx, "admin action", "admin", p.UserID, "action", action, "target", target)
}

const maxAdminLimit = 100

func intParam(q string, def, lo, hi int) (int, bool) {
	if q == "" {
		return def, true
	}
	n, err := strconv.Atoi(q)
	if err != nil || n < lo {
		return 0, false
	}
	return min(n, hi), true
}

func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, ok1 := intParam(q.Get("page"), 1, 1, 1<<20)
	limit, ok2 := intParam(q.Get("limit"), 20, 1, maxAdminLimit)
	if !ok1 || !ok2 {
		adminError(w, 400, "Bad request", "page and limit must be positive whole numbers", "VALIDATION")
		return
	}
	var where []storage.Where
	if tier := q.Get("tier"); tier != "" {
		if !ValidTier(tier) {
			adminError(w, 400, "Invalid tier", "Tier must be one of: "+strings.Join(Tiers, ", "), "INVALID_TIER")
			return
		}
		where = append(where, storage.W("accessTier", tier))
	}
	if search := strings.TrimSpace(q.Get("search")); search != "" {
		if len(search) > 200 {
			adminError(w, 400, "Bad request", "search is too long", "VALIDATION")
			return
		}
		// Emails are stored lower-case; names are matched as typed and in
		// lower and title case (the storage layer has no case folding).
		// Title case is of the first character, not byte; a term that is
		// not text (invalid UTF-8, a NUL) matches nothing (storage.Where).
		lower := strings.ToLower(search)
		title := lower
		if r, n := utf8.DecodeRuneInString(lower); r != utf8.RuneError {
			title = string(unicode.ToTitle(r)) + lower[n:]
		}
		where = []storage.Where{{Field: "email", Op: storage.Contains, Value: lower}}
		for _, v := range []string{search, lower, title} {
			where = append(where, storage.Where{Field: "name", Op: storage.Contains, Value: v, Or: true})
		}
		if tier := q.Get("tier"); tier != "" {
			// (email OR names) AND tier, expanded as the connector needs.
			var w2 []storage.Where
			for i, c := range where {
				c.Or = i > 0
				w2 = append(w2, c, storage.W("accessTier", tier))
			}
			where = w2
		}
	}
	ctx := r.Context()
	total, err := s.db.Count(ctx, plugin.TableUser, where...)
	if err != nil {
		s.writeStatusErr(w, r, plugin.StorageError(err))
		return
	}
	recs, err := s.db.FindMany(ctx, plugin.TableUser, storage.Query{Where: where,
		Sort: []storage.Sort{{Field: "createdAt", Desc: true}, {Field: "id"}}, Limit: limit, Offset: (page - 1) * limit})
	if err != nil {
		s.writeStatusErr(w, r, plugin.StorageError(err))
		return
	}
	users := make([]map[string]any, 0, len(recs))
	for _, rec := range recs {
		u := map[string]any{"id": rec.String("id"), "email": rec.String("email"), "name": rec.String("name"),
			"role": orDefault(rec.String("role"), RoleUser), "accessTier": orDefault(rec.String("accessTier"), DefaultTier),
			"emailVerified": rec.Bool("emailVerified"), "createdAt": plugin.FormatTime(rec.Time("createdAt"))}
		last, err := s.db.FindMany(ctx, plugin.TableSession, storage.Query{Where: []storage.Where{storage.W("userId", rec.String("id"))},
			Sort: []storage.Sort{{Field: "updatedAt", Desc: true}}, Limit: 1})
		if err == nil && len(last) == 1 {
			u["lastActiveAt"] = plugin.FormatTime(last[0].Time("updatedAt"))
		}
		users = append(users, u)
	}
	s.audit(ctx, "list-users", q.Get("search"))
	writeJSON(w, 200, map[string]any{"users": users, "total": total, "page": page, "limit": limit})
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (s *Server) handleAdminUserData(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("userId")
	sum, err := s.userSummary(r.Context(), id)
	if errors.Is(err, auth.ErrUserNotFound) {
		adminError(w, 404, "Not found", "User not found", "USER_NOT_FOUND")
		return
	}
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	s.audit(r.Context(), "view-user-data", id)
	writeJSON(w, 200, sum)
}

func (s *Server) handleAdminUserDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("userId")
	_, err := s.host.FindUserByID(r.Context(), id)
	if errors.Is(err, auth.ErrUserNotFound) {
		adminError(w, 404, "Not found", "User not found", "USER_NOT_FOUND")
		return
	}
	if err != nil { // nothing is erased anywhere until the user is known
		s.writeStatusErr(w, r, err)
		return
	}
	s.audit(r.Context(), "delete-user-data", id)
	res := s.eraseUser(r.Context(), id)
	if !res.Success {
		writeJSON(w, http.StatusServiceUnavailable, res)
		return
	}
	writeJSON(w, 200, res)
}

func (s *Server) handleAdminGetTier(w http.ResponseWriter, r *http.Request) {
	u, err := s.host.FindUserByID(r.Context(), r.PathValue("userId"))
	if errors.Is(err, auth.ErrUserNotFound) {
		adminError(w, 404, "Not found", "User not found", "USER_NOT_FOUND")
		return
	}
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	writeJSON(w, 200, map[string]string{"id": u.ID, "email": u.Email, "accessTier": userTier(u)})
}

func (s *Server) handleAdminSetTier(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Tier string `json:"tier"`
	}
	if err := readJSON(r, &in); err != nil {
		adminError(w, plugin.AsError(err).Status, "Bad request", plugin.AsError(err).Message, "VALIDATION")
		return
	}
	if !ValidTier(in.Tier) {
		adminError(w, 400, "Invalid tier", "Tier must be one of: "+strings.Join(Tiers, ", "), "INVALID_TIER")
		return
	}
	id := r.PathValue("userId")
	u, err := s.auth.UpdateUser(r.Context(), id, auth.UpdateUserInput{Extra: map[string]any{"accessTier": in.Tier}})
	if errors.Is(err, auth.ErrUserNotFound) {
		adminError(w, 404, "Not found", "User not found", "USER_NOT_FOUND")
		return
	}
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	s.audit(r.Context(), "set-tier:"+in.Tier, id)
	writeJSON(w, 200, map[string]any{"success": true, "user": map[string]string{"id": u.ID, "email": u.Email, "accessTier": userTier(u)}})
}

func (s *Server) handleAdminSecurityEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := intParam(q.Get("limit"), 100, 1, 500)
	if !ok {
		adminError(w, 400, "Bad request", "limit must be a positive whole number", "VALIDATION")
		return
	}
	events, err := s.securityEvents(r.Context(), q.Get("userId"), limit)
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	s.audit(r.Context(), "read-security-log", q.Get("userId"))
	writeJSON(w, 200, map[string]any{"events": events})
}
