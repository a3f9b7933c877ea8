package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/managarten/mana-auth/storage"
)

// RequestInfo is what a session records about the client that created it.
// The handler puts it in the request context; Go callers may set it with
// WithRequestInfo.
type RequestInfo struct {
	IP        string
	UserAgent string
	// Request is the HTTP request being served, if any: plugin hooks that
	// run deep in an operation (a BeforeSessionCreate hook reading a
	// trusted-device cookie) find it here. Nil for Go callers.
	Request *http.Request
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the RequestInfo in ctx (zero if none).
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// AuthResult is what an operation that signs a user in returns: the user,
// the session (nil when none was created, e.g. sign-up awaiting email
// verification) and the cookies to send, exactly those the HTTP route sets.
type AuthResult struct {
	User    *User
	Session *Session
	Cookies []*http.Cookie
	// Existing is set by SignUpEmail when the email was already taken and,
	// to keep that secret, a made-up User was returned instead of an error.
	// Nothing was stored: callers must not run side effects for it.
	Existing bool
}

// Token returns the session token, or "" without a session.
func (r *AuthResult) Token() string {
	if r == nil || r.Session == nil {
		return ""
	}
	return r.Session.Token
}

// CreateSession creates a session for u and returns it with the cookies
// that carry it. With rememberMe false the session lives one day and the
// cookie ends with the browser session. Plugin session hooks run; a
// BeforeSessionCreate hook may refuse.
func (a *Auth) CreateSession(ctx context.Context, u *User, rememberMe bool) (*AuthResult, error) {
	now := a.Now()
	exp := now.Add(a.cfg.Session.ExpiresIn)
	if !rememberMe {
		exp = now.Add(24 * 60 * 60 * 1e9)
	}
	info := RequestInfoFrom(ctx)
	ip, ua := info.IP, info.UserAgent
	s := &Session{ID: NewID(), Token: RandomString(32, ""), UserID: u.ID, ExpiresAt: exp,
		CreatedAt: now, UpdatedAt: now, IPAddress: &ip, UserAgent: &ua}
	for _, h := range a.hooks {
		if h.BeforeSessionCreate != nil {
			if err := h.BeforeSessionCreate(ctx, s, u); err != nil {
				return nil, err
			}
		}
	}
	if err := a.db.Create(ctx, TableSession, s.record()); err != nil {
		return nil, ErrFailedToCreateSession.With(err)
	}
	for _, h := range a.hooks {
		if h.AfterSessionCreate != nil {
			if err := h.AfterSessionCreate(ctx, s, u); err != nil {
				return nil, err
			}
		}
	}
	return &AuthResult{User: u, Session: s, Cookies: a.sessionCookies(s.Token, !rememberMe)}, nil
}

// sessionToken returns the session token a request carries: from the
// signed session cookie, or, with Config.Bearer, from an Authorization
// Bearer header (signed "<token>.<sig>" or the raw token).
func (a *Auth) sessionToken(r *http.Request) (token string, bearer bool) {
	if a.cfg.Bearer {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			x := strings.TrimSpace(h[7:])
			if strings.Contains(x, ".") {
				if t, ok := verifySigned(a.secret, x, true); ok {
					return t, true
				}
			} else if x != "" && len(x) <= 256 {
				return x, true
			}
		}
	}
	t, _ := a.ReadSignedCookie(r, CookieSessionToken)
	return t, false
}

// sessionState is a resolved session and what resolving it did.
type sessionState struct {
	data      *SessionData
	refreshed bool // expiry slid forward: re-issue the cookie
	expired   bool // a token was presented but its session is gone
}

// resolveSession loads the session for token, deletes it if expired, and
// slides its expiry forward when the refresh rule holds and refresh is
// allowed.
//
// When the adapter is a [storage.Joiner], the session and its user are read
// together in one indexed read (one database round trip for a valid
// session that needs no refresh); otherwise with two reads. A session whose
// user is missing counts as no session either way; with the join it is not
// deleted even if expired (such a row exists only without the foreign key
// from session.userId to user.id, which cascades).
func (a *Auth) resolveSession(ctx context.Context, token string, refresh bool) (sessionState, error) {
	if token == "" || len(token) > 256 {
		return sessionState{}, nil
	}
	var rec, urec storage.Record
	var err error
	if j, ok := a.db.(storage.Joiner); ok {
		rec, urec, err = j.FindOneJoined(ctx, TableSession, "userId", storage.W("token", token))
	} else {
		rec, err = a.db.FindOne(ctx, TableSession, storage.W("token", token))
	}
	if errors.Is(err, storage.ErrNotFound) {
		return sessionState{expired: true}, nil
	}
	if err != nil {
		return sessionState{}, storageErr(err)
	}
	s := sessionFromRecord(rec)
	now := a.Now()
	if s.ExpiresAt.Before(now) { // Better Auth: expired when expiresAt < now
		if _, err := a.db.Delete(ctx, TableSession, storage.W("id", s.ID)); err != nil {
			a.log.WarnContext(ctx, "auth: deleting expired session", "err", err)
		}
		return sessionState{expired: true}, nil
	}
	if urec == nil {
		urec, err = a.db.FindOne(ctx, TableUser, storage.W("id", s.UserID))
		if errors.Is(err, storage.ErrNotFound) {
			return sessionState{expired: true}, nil
		}
		if err != nil {
			return sessionState{}, storageErr(err)
		}
	}
	st := sessionState{data: &SessionData{Session: s, User: userFromRecord(urec)}}
	cfg := a.cfg.Session
	if refresh && !cfg.DisableRefresh && !s.ExpiresAt.Add(-cfg.ExpiresIn).Add(cfg.UpdateAge).After(now) {
		exp := now.Add(cfg.ExpiresIn)
		n, err := a.db.Update(ctx, TableSession, storage.Record{"expiresAt": exp, "updatedAt": now}, storage.W("id", s.ID))
		if err != nil {
			return sessionState{}, storageErr(err)
		}
		if n == 0 { // revoked while we looked
			return sessionState{expired: true}, nil
		}
		s.ExpiresAt, s.UpdatedAt = exp, now
		st.refreshed = true
	}
	return st, nil
}

// GetSession returns the session and user for a raw session token, or
// ErrUnauthorized if there is none or it expired. It never slides the
// expiry; the HTTP routes and RequireSession do.
func (a *Auth) GetSession(ctx context.Context, token string) (*SessionData, error) {
	st, err := a.resolveSession(ctx, token, false)
	if err != nil {
		return nil, err
	}
	if st.data == nil {
		return nil, ErrUnauthorized
	}
	return st.data, nil
}

// Session returns the session of an incoming request (signed session
// cookie, or bearer token with Config.Bearer), or ErrUnauthorized.
func (a *Auth) Session(r *http.Request) (*SessionData, error) {
	t, _ := a.sessionToken(r)
	return a.GetSession(r.Context(), t)
}

type sessionCtxKey struct{}

// SessionFrom returns the session RequireSession put in ctx, or nil.
func SessionFrom(ctx context.Context) *SessionData {
	s, _ := ctx.Value(sessionCtxKey{}).(*SessionData)
	return s
}

// RequireSession is net/http middleware for embedding apps: it answers 401
// (Better Auth's JSON error) unless the request carries a valid session,
// slides the session's expiry as get-session does (re-issuing the cookie),
// and makes the session available to next through SessionFrom.
func (a *Auth) RequireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, bearer := a.sessionToken(r)
		_, dontRemember := a.ReadSignedCookie(r, CookieDontRemember)
		st, err := a.resolveSession(r.Context(), token, !dontRemember)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if st.data == nil {
			if st.expired && !bearer {
				WriteCookies(w, a.expiredSessionCookies())
			}
			a.writeError(w, r, ErrUnauthorized)
			return
		}
		if st.refreshed && !bearer {
			WriteCookies(w, a.sessionCookies(token, false))
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionCtxKey{}, st.data)))
	})
}

// StorageError maps a storage failure to an API error: unavailability is
// a 503, anything else a 500 whose detail is logged, never sent. Plugins
// use it for their own queries.
func StorageError(err error) error { return storageErr(err) }

func storageErr(err error) error {
	if errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return ErrUnavailable.With(err)
	}
	return ErrInternal.With(err)
}
