package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// The /api/v1/auth routes of a signed-in user that mana's shared client
// (packages/shared-auth/src/core/authService.ts at 7b362066b) calls with
// its access token: GET /sessions, DELETE /sessions/{id} (listSessions,
// revokeSession — upstream never served them) and GET /security-events
// (getSecurityEvents). They and the authenticated passkey routes
// (v1passkeys.go) accept the bearer JWT or a session (cookie, bearer
// session token), and they check more than requireUser does: a JWT acts
// only while the session it was minted for (its sid) is still there, so a
// revoked session's token, or one of a deleted user, is refused at once
// rather than when it expires.

// EventSessionRevoked is the security event of DELETE
// /api/v1/auth/sessions/{id}; metadata {"sessionId"}.
const EventSessionRevoked = "SESSION_REVOKED"

var errSessionGone = plugin.NewError(http.StatusUnauthorized, "UNAUTHORIZED", "Session revoked or expired")

// v1Caller is the caller of the routes above: its live session and user,
// and whether it came with a bearer JWT (else a session cookie or bearer
// session token).
type v1Caller struct {
	sd     *auth.SessionData
	viaJWT bool
}

// hasBearerJWT reports whether r carries "Authorization: Bearer" with a
// JWT (three dot-separated parts), the only bearer authenticate verifies
// as an access token.
func hasBearerJWT(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	return len(h) > 7 && strings.EqualFold(h[:7], "bearer ") && strings.Count(strings.TrimSpace(h[7:]), ".") == 2
}

// v1Session resolves the caller: a bearer JWT and the session it was
// minted for (which must still exist, be unexpired and belong to the
// token's subject), else the request's session. A JWT that fails is a
// refusal, not a fall back to a cookie (as on every /api/v1 route).
func (s *Server) v1Session(r *http.Request) (*v1Caller, error) {
	if !hasBearerJWT(r) {
		sd, err := s.auth.Session(r)
		if errors.Is(err, auth.ErrUnauthorized) {
			return nil, errMissingAuth
		}
		if err != nil {
			return nil, err
		}
		return &v1Caller{sd: sd}, nil
	}
	p, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if p.SessionID == "" {
		return nil, errBadToken // a token of ours always names its session
	}
	ctx := r.Context()
	rec, err := s.db.FindOne(ctx, plugin.TableSession, storage.W("id", p.SessionID), storage.W("userId", p.UserID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errSessionGone
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	sd, err := s.auth.GetSession(ctx, rec.String("token")) // expiry, and the user
	if errors.Is(err, auth.ErrUnauthorized) {
		return nil, errSessionGone
	}
	if err != nil {
		return nil, err
	}
	return &v1Caller{sd: sd, viaJWT: true}, nil
}

// refuseCaller answers a failed v1Session in the auth envelope: 401
// UNAUTHORIZED for every refused credential, 503/500 for the server's
// own failures.
func (s *Server) refuseCaller(w http.ResponseWriter, r *http.Request, err error) {
	if e := plugin.AsError(err); e.Status == http.StatusUnauthorized {
		writeEnvelope(w, http.StatusUnauthorized, "UNAUTHORIZED", e.Message, 0)
		return
	}
	s.writeAuthErr(w, r, err)
}

// withCaller runs fn with the caller resolved by v1Session, or refuses.
func (s *Server) withCaller(w http.ResponseWriter, r *http.Request, fn func(c *v1Caller)) {
	c, err := s.v1Session(r)
	if err != nil {
		s.refuseCaller(w, r, err)
		return
	}
	fn(c)
}

func (s *Server) v1SessionRoutes(mux *http.ServeMux) {
	p := "/api/v1/auth/sessions"
	mux.HandleFunc("GET "+p, s.handleListSessions)
	mux.HandleFunc("DELETE "+p+"/{id}", s.handleRevokeSession)
}

// v1SessionJSON is a session as GET /api/v1/auth/sessions lists it: the
// fields shared-auth-ui's SessionManager reads. The token is never sent.
// deviceId and deviceName are always null (upstream's columns, never
// written); lastActivityAt is the session's updatedAt (when its expiry
// last slid forward).
type v1SessionJSON struct {
	ID             string  `json:"id"`
	IPAddress      *string `json:"ipAddress"`
	UserAgent      *string `json:"userAgent"`
	DeviceID       *string `json:"deviceId"`
	DeviceName     *string `json:"deviceName"`
	LastActivityAt string  `json:"lastActivityAt"`
	CreatedAt      string  `json:"createdAt"`
	ExpiresAt      string  `json:"expiresAt"`
	Current        bool    `json:"current"`
}

// handleListSessions answers the caller's unexpired sessions, newest
// first, as a JSON array.
func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, func(c *v1Caller) {
		recs, err := s.db.FindMany(r.Context(), plugin.TableSession, storage.Query{
			Where: []storage.Where{storage.W("userId", c.sd.User.ID),
				{Field: "expiresAt", Op: storage.Gt, Value: s.host.Now()}},
			Sort: []storage.Sort{{Field: "createdAt", Desc: true}, {Field: "id"}},
		})
		if err != nil {
			s.writeAuthErr(w, r, plugin.StorageError(err))
			return
		}
		out := make([]v1SessionJSON, 0, len(recs))
		for _, rec := range recs {
			id := rec.String("id")
			updated := rec.Time("updatedAt")
			if updated.IsZero() {
				updated = rec.Time("createdAt")
			}
			out = append(out, v1SessionJSON{ID: id, IPAddress: rec.StringPtr("ipAddress"), UserAgent: rec.StringPtr("userAgent"),
				LastActivityAt: plugin.FormatTime(updated), CreatedAt: plugin.FormatTime(rec.Time("createdAt")),
				ExpiresAt: plugin.FormatTime(rec.Time("expiresAt")), Current: id == c.sd.Session.ID})
		}
		writeJSON(w, http.StatusOK, out)
	})
}

var errSessionNotFound = plugin.NewError(http.StatusNotFound, "NOT_FOUND", "Session not found")

// handleRevokeSession ends one of the caller's sessions (the caller's own
// too: a sign-out, whose cookies then expire). Another user's session, or
// an unknown id, is 404 and nothing changes.
func (s *Server) handleRevokeSession(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, func(c *v1Caller) {
		ctx := r.Context()
		id := r.PathValue("id")
		uid := c.sd.User.ID
		rec, err := s.db.FindOne(ctx, plugin.TableSession, storage.W("id", id), storage.W("userId", uid))
		if errors.Is(err, storage.ErrNotFound) {
			s.writeAuthErr(w, r, errSessionNotFound)
			return
		}
		if err != nil {
			s.writeAuthErr(w, r, plugin.StorageError(err))
			return
		}
		if err := s.auth.RevokeSession(ctx, uid, rec.String("token")); err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		s.sec.record(ctx, eventFor(ctx, EventSessionRevoked, uid, map[string]any{"sessionId": id}))
		if id == c.sd.Session.ID && !c.viaJWT {
			plugin.WriteCookies(w, s.host.ExpiredSessionCookies(r))
		}
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	})
}

// Own security events: ?limit= (1 to maxOwnEvents, default
// defaultOwnEvents), as upstream's getUserEvents (50).
const (
	defaultOwnEvents = 50
	maxOwnEvents     = 200
)

var errEventsLimit = plugin.NewError(http.StatusBadRequest, "VALIDATION", "limit must be an integer from 1 to 200")

// handleOwnSecurityEvents answers the caller's security events, newest
// first, as the JSON array the shared client's getSecurityEvents returns
// and shared-auth-ui's AuditLog reads: {id, eventType, userId, ipAddress,
// userAgent, metadata, createdAt} (metadata {} when there is none).
func (s *Server) handleOwnSecurityEvents(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, func(c *v1Caller) {
		limit := defaultOwnEvents
		if v, ok := r.URL.Query()["limit"]; ok {
			n, err := strconv.Atoi(v[0])
			if err != nil || len(v) != 1 || n < 1 || n > maxOwnEvents {
				s.writeAuthErr(w, r, errEventsLimit)
				return
			}
			limit = n
		}
		events, err := s.securityEvents(r.Context(), c.sd.User.ID, limit)
		if err != nil {
			s.writeAuthErr(w, r, err)
			return
		}
		for _, e := range events {
			if _, ok := e["metadata"]; !ok {
				e["metadata"] = json.RawMessage("{}")
			}
		}
		writeJSON(w, http.StatusOK, events)
	})
}
