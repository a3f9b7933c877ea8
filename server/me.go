package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// catalogue is the fixed list of Mana apps of the GDPR view, in order.
var catalogue = []struct{ id, name, icon string }{
	{"todo", "Todo", "✅"}, {"chat", "ManaChat", "💬"}, {"calendar", "Kalender", "📅"}, {"clock", "Clock", "⏰"},
	{"contacts", "Kontakte", "👥"}, {"cards", "Cards", "🃏"}, {"picture", "ManaPicture", "🖼️"}, {"quotes", "Quotes", "💭"},
	{"presi", "Presi", "📊"}, {"inventory", "Inventar", "📦"}, {"food", "Food", "🍎"}, {"plants", "Plants", "🌱"},
	{"storage", "Storage", "🗄️"}, {"questions", "Questions", "❓"}, {"music", "Music", "🎵"}, {"context", "Context", "🧠"},
	{"photos", "Photos", "📷"}, {"skilltree", "SkillTree", "🌳"}, {"citycorners", "CityCorners", "🏙️"}, {"times", "Taktik", "⏱️"},
	{"uload", "uLoad", "🔗"}, {"calc", "Calc", "🧮"}, {"mana", "Mana", "✨"},
}

const syncUnavailable = "Sync-Datenbank nicht erreichbar"

type entityJSON struct {
	Entity string `json:"entity"`
	Count  int64  `json:"count"`
	Label  string `json:"label"`
}

type projectJSON struct {
	ProjectID      string       `json:"projectId"`
	ProjectName    string       `json:"projectName"`
	Icon           string       `json:"icon"`
	Available      bool         `json:"available"`
	Error          string       `json:"error,omitempty"`
	Entities       []entityJSON `json:"entities"`
	TotalCount     int64        `json:"totalCount"`
	LastActivityAt *string      `json:"lastActivityAt,omitempty"`
}

// entityLabel turns a table name into a label: "taskItems" → "Task Items".
func entityLabel(table string) string {
	var b strings.Builder
	for i, r := range table {
		switch {
		case r == '_':
			b.WriteRune(' ')
		case i > 0 && unicode.IsUpper(r):
			b.WriteRune(' ')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" {
		return s
	}
	rs := []rune(s)
	rs[0] = unicode.ToUpper(rs[0])
	return string(rs)
}

// userSummary builds the GDPR summary of a user (mana-v1 §3.1), plus the
// data every plugin declares (DataSource) under "plugins".
func (s *Server) userSummary(ctx context.Context, userID string) (map[string]any, error) {
	u, err := s.host.FindUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	db := s.db
	sessions, err := db.FindMany(ctx, plugin.TableSession, storage.Query{Where: []storage.Where{storage.W("userId", userID)},
		Sort: []storage.Sort{{Field: "createdAt", Desc: true}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	accounts, err := db.Count(ctx, plugin.TableAccount, storage.W("userId", userID))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	var lastLogin *string
	if len(sessions) > 0 {
		t := plugin.FormatTime(sessions[0].Time("createdAt"))
		lastLogin = &t
	}
	has2FA, _ := u.Extra["twoFactorEnabled"].(bool)

	credits := Balance{}
	if s.creditsClient != nil {
		if b, err := s.creditsClient.Balance(ctx, userID); err == nil {
			credits = b
		} else {
			s.log.WarnContext(ctx, "me/data: credits balance unavailable", "err", err)
		}
	}

	projects := make([]projectJSON, 0, len(catalogue))
	var totalEntities, withData int64
	if s.sync == nil {
		for _, c := range catalogue {
			projects = append(projects, projectJSON{ProjectID: c.id, ProjectName: c.name, Icon: c.icon, Available: false, Error: syncUnavailable, Entities: []entityJSON{}})
		}
	} else if counts, activity, err := s.sync.Counts(ctx, userID); err != nil {
		s.log.WarnContext(ctx, "me/data: sync database unavailable", "err", err)
		for _, c := range catalogue {
			projects = append(projects, projectJSON{ProjectID: c.id, ProjectName: c.name, Icon: c.icon, Available: false, Error: syncUnavailable, Entities: []entityJSON{}})
		}
	} else {
		byApp := map[string][]EntityCount{}
		var order []string
		for _, c := range counts {
			if _, ok := byApp[c.AppID]; !ok {
				order = append(order, c.AppID)
			}
			byApp[c.AppID] = append(byApp[c.AppID], c)
		}
		known := map[string]bool{}
		add := func(id, name, icon string) {
			p := projectJSON{ProjectID: id, ProjectName: name, Icon: icon, Available: true, Entities: []entityJSON{}}
			for _, c := range byApp[id] {
				p.Entities = append(p.Entities, entityJSON{Entity: c.Table, Count: c.Count, Label: entityLabel(c.Table)})
				p.TotalCount += c.Count
			}
			if t, ok := activity[id]; ok {
				ts := plugin.FormatTime(t)
				p.LastActivityAt = &ts
			}
			totalEntities += p.TotalCount
			if p.TotalCount > 0 {
				withData++
			}
			projects = append(projects, p)
		}
		for _, c := range catalogue {
			known[c.id] = true
			add(c.id, c.name, c.icon)
		}
		for _, id := range order {
			if !known[id] {
				add(id, id, "📁")
			}
		}
	}
	plugins, err := s.auth.ExportUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	delete(plugins, "user")
	return map[string]any{
		"user": map[string]any{"id": u.ID, "email": u.Email, "name": u.Name, "role": userRole(u),
			"accessTier": userTier(u), "createdAt": plugin.FormatTime(u.CreatedAt), "emailVerified": u.EmailVerified},
		"auth":     map[string]any{"sessionsCount": len(sessions), "accountsCount": accounts, "has2FA": has2FA, "lastLoginAt": lastLogin},
		"credits":  credits,
		"projects": projects,
		"totals":   map[string]any{"totalEntities": totalEntities, "projectsWithData": withData},
		"plugins":  plugins,
	}, nil
}

// eraseResult reports an erasure per source (mana-v1 §3.3).
type eraseResult struct {
	Success             bool              `json:"success"`
	DeletedFromProjects []projectErase    `json:"deletedFromProjects"`
	DeletedFromCredits  *sourceErase      `json:"deletedFromCredits,omitempty"`
	DeletedFromAuth     *authErase        `json:"deletedFromAuth,omitempty"`
	TotalDeleted        int64             `json:"totalDeleted"`
	Errors              map[string]string `json:"errors,omitempty"`
}

type projectErase struct {
	ProjectID    string `json:"projectId"`
	ProjectName  string `json:"projectName"`
	Success      bool   `json:"success"`
	DeletedCount int64  `json:"deletedCount"`
	Error        string `json:"error,omitempty"`
}

type sourceErase struct {
	Success      bool   `json:"success"`
	DeletedCount int64  `json:"deletedCount"`
	Error        string `json:"error,omitempty"`
}

type authErase struct {
	Sessions int64 `json:"sessions"`
	Accounts int64 `json:"accounts"`
	Credits  int64 `json:"credits"`
	User     bool  `json:"user"`
}

// eraseUser deletes a user everywhere: mana-sync, mana-credits, then the
// auth database (every plugin's DataSource, sessions, accounts, user).
// The auth account goes last: if another source fails, it stays, the
// result says which source failed, and a retry finishes the job (each step
// is idempotent).
func (s *Server) eraseUser(ctx context.Context, userID string) eraseResult {
	res := eraseResult{Success: true, DeletedFromProjects: []projectErase{}}
	fail := func(src string, err error) {
		res.Success = false
		if res.Errors == nil {
			res.Errors = map[string]string{}
		}
		res.Errors[src] = "unavailable"
		s.log.ErrorContext(ctx, "erase: source failed", "source", src, "user", userID, "err", err)
	}
	if s.sync != nil {
		n, err := s.sync.DeleteUser(ctx, userID)
		pe := projectErase{ProjectID: "sync", ProjectName: "Sync-Daten", Success: err == nil, DeletedCount: n}
		if err != nil {
			pe.Error = syncUnavailable
			fail("sync", err)
		}
		res.DeletedFromProjects = append(res.DeletedFromProjects, pe)
		res.TotalDeleted += n
	}
	var credits int64
	if s.creditsClient != nil {
		n, err := s.creditsClient.DeleteUser(ctx, userID)
		se := &sourceErase{Success: err == nil, DeletedCount: n}
		if err != nil {
			se.Error = "mana-credits unavailable"
			fail("credits", err)
		}
		res.DeletedFromCredits = se
		credits = n
		res.TotalDeleted += n
	}
	if !res.Success {
		return res
	}
	ae := &authErase{Credits: credits}
	ae.Sessions, _ = s.db.Count(ctx, plugin.TableSession, storage.W("userId", userID))
	ae.Accounts, _ = s.db.Count(ctx, plugin.TableAccount, storage.W("userId", userID))
	if err := s.auth.DeleteUser(ctx, userID); err != nil && !errors.Is(err, auth.ErrUserNotFound) {
		fail("auth", err)
		return res
	}
	ae.User = true
	res.DeletedFromAuth = ae
	res.TotalDeleted += ae.Sessions + ae.Accounts + 1
	s.sec.record(ctx, eventFor(ctx, EventAccountDeleted, "", map[string]any{"userId": userID}))
	return res
}

func (s *Server) meRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/me/data", s.requireUser(http.HandlerFunc(s.handleMeData)))
	mux.Handle("GET /api/v1/me/data/export", s.requireUser(http.HandlerFunc(s.handleMeExport)))
	mux.Handle("DELETE /api/v1/me/data", s.requireUser(http.HandlerFunc(s.handleMeDelete)))
}

func (s *Server) handleMeData(w http.ResponseWriter, r *http.Request) {
	sum, err := s.userSummary(r.Context(), principalFrom(r.Context()).UserID)
	if errors.Is(err, auth.ErrUserNotFound) {
		writeJSON(w, 404, map[string]string{"error": "User not found", "code": "USER_NOT_FOUND"})
		return
	}
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	writeJSON(w, 200, sum)
}

func (s *Server) handleMeExport(w http.ResponseWriter, r *http.Request) {
	uid := principalFrom(r.Context()).UserID
	sum, err := s.userSummary(r.Context(), uid)
	if errors.Is(err, auth.ErrUserNotFound) {
		writeJSON(w, 404, map[string]string{"error": "User not found", "code": "USER_NOT_FOUND"})
		return
	}
	if err != nil {
		s.writeStatusErr(w, r, err)
		return
	}
	details := sum["plugins"]
	delete(sum, "plugins")
	if m, ok := details.(map[string]any); ok && s.apikeys != nil {
		keys, err := s.v1APIKeys(r.Context(), uid)
		if err != nil {
			s.writeStatusErr(w, r, err)
			return
		}
		m["apiKeys"] = keys
	}
	now := s.host.Now()
	body, _ := json.MarshalIndent(map[string]any{"exportedAt": plugin.FormatTime(now), "exportVersion": "2.0",
		"data": sum, "details": details}, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="meine-daten-`+now.UTC().Format(time.DateOnly)+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(200)
	w.Write(body)
}

func (s *Server) handleMeDelete(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if _, err := s.host.FindUserByID(r.Context(), p.UserID); errors.Is(err, auth.ErrUserNotFound) {
		writeJSON(w, 404, map[string]string{"error": "User not found", "code": "USER_NOT_FOUND"})
		return
	}
	res := s.eraseUser(r.Context(), p.UserID)
	if !res.Success {
		writeJSON(w, http.StatusServiceUnavailable, res)
		return
	}
	if !p.ViaJWT {
		plugin.WriteCookies(w, s.host.ExpiredSessionCookies(r))
	}
	writeJSON(w, 200, res)
}

// securityEvents returns a user's security events, newest first ("" = all).
func (s *Server) securityEvents(ctx context.Context, userID string, limit int) ([]map[string]any, error) {
	q := storage.Query{Sort: []storage.Sort{{Field: "createdAt", Desc: true}}, Limit: limit}
	if userID != "" {
		q.Where = []storage.Where{storage.W("userId", userID)}
	}
	recs, err := s.db.FindMany(ctx, TableSecurityEvent, q)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		e := map[string]any{"id": r.String("id"), "eventType": r.String("eventType"), "userId": r["userId"],
			"ipAddress": r["ipAddress"], "userAgent": r["userAgent"], "createdAt": plugin.FormatTime(r.Time("createdAt"))}
		if m := r.String("metadata"); m != "" {
			e["metadata"] = json.RawMessage(m)
		}
		out = append(out, e)
	}
	return out, nil
}

func whereEq(f string, v any) storage.Where { return storage.W(f, v) }
func whereGte(f string, v any) storage.Where {
	return storage.Where{Field: f, Op: storage.Gte, Value: v}
}
