package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// createSession creates a session for u and returns it with the cookies
// that carry it. With rememberMe false the session lives one day and the
// cookie ends with the browser session. Plugin session hooks run; a
// BeforeSessionCreate hook may refuse.
func (a *Auth) createSession(ctx context.Context, u *User, rememberMe bool) (*AuthResult, error) {
	now := a.clockNow()
	exp := now.Add(a.cfg.Session.ExpiresIn)
	if !rememberMe {
		exp = now.Add(24 * 60 * 60 * 1e9)
	}
	info := plugin.RequestInfoFrom(ctx)
	ip, ua := info.IP, info.UserAgent
	s := &Session{ID: plugin.NewID(), Token: plugin.RandomString(32, ""), UserID: u.ID, ExpiresAt: exp,
		CreatedAt: now, UpdatedAt: now, IPAddress: &ip, UserAgent: &ua}
	jar := &resultCookies{}
	ctx = context.WithValue(ctx, resultCookiesKey{}, jar)
	for _, h := range a.hooks {
		if h.BeforeSessionCreate != nil {
			if err := h.BeforeSessionCreate(ctx, s, u); err != nil {
				return nil, err
			}
		}
	}
	s.Extra = a.withDeclaredFields(plugin.TableSession, sessionCore, s.Extra)
	if err := a.db.Create(ctx, plugin.TableSession, sessionRecord(s)); err != nil {
		return nil, ErrFailedToCreateSession.With(err)
	}
	for _, h := range a.hooks {
		if h.AfterSessionCreate != nil {
			if err := h.AfterSessionCreate(ctx, s, u); err != nil {
				return nil, err
			}
		}
	}
	sd := &SessionData{Session: s, User: u}
	cookies := a.sessionCookies(info.Request, sd, !rememberMe)
	jar.mu.Lock()
	cookies = append(cookies, jar.cookies...)
	jar.mu.Unlock()
	return &AuthResult{User: u, Session: s, Cookies: cookies}, nil
}

// resultCookies collects the cookies session hooks add to the result of
// the CreateSession call they run in.
type resultCookies struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

type resultCookiesKey struct{}

// addResultCookie adds c to the cookies of the session being created under
// ctx: a BeforeSessionCreate or AfterSessionCreate hook calls it (for
// example to rotate a trusted-device cookie), and the AuthResult of that
// CreateSession — and so the answer of every route and Go call that signs
// in through it — carries c. It reports false, and does nothing, when ctx
// is not the context of a session hook. Cookies added by a hook whose
// session is then refused or interrupted are dropped.
func addResultCookie(ctx context.Context, c *http.Cookie) bool {
	jar, _ := ctx.Value(resultCookiesKey{}).(*resultCookies)
	if jar == nil || c == nil {
		return false
	}
	jar.mu.Lock()
	jar.cookies = append(jar.cookies, c)
	jar.mu.Unlock()
	return true
}

// sessionToken returns the session token a request carries: from the
// signed session cookie, or, with Config.Bearer, from an Authorization
// Bearer header (signed "<token>.<sig>" or the raw token).
func (a *Auth) sessionToken(r *http.Request) (token string, bearer bool) {
	if a.cfg.Bearer {
		if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			x := strings.TrimSpace(h[7:])
			if strings.Contains(x, ".") {
				if t, ok := verifyBearer(a.keys.Current(), x); ok {
					return t, true
				}
			} else if x != "" && len(x) <= 256 {
				return x, true
			}
		}
	}
	t, _ := a.readSignedCookie(r, plugin.CookieSessionToken)
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
// session that needs no refresh); otherwise with two reads. When it is a
// [storage.ManyJoiner] too, concurrent lookups share reads (sessionLoader). A session whose
// user is missing counts as no session either way; with the join it is not
// deleted even if expired (such a row exists only without the foreign key
// from session.userId to user.id, which cascades).
func (a *Auth) resolveSession(ctx context.Context, token string, refresh bool) (sessionState, error) {
	if token == "" || len(token) > 256 {
		return sessionState{}, nil
	}
	var rec, urec storage.Record
	var err error
	a.sessionLookups.Add(1)
	j, joins := a.db.(storage.Joiner)
	switch {
	case a.sessions != nil:
		rec, urec, err = a.sessions.find(ctx, token)
	case joins:
		a.sessionReads.Add(1)
		rec, urec, err = j.FindOneJoined(ctx, plugin.TableSession, "userId", storage.W("token", token))
	default:
		a.sessionReads.Add(1)
		rec, err = a.db.FindOne(ctx, plugin.TableSession, storage.W("token", token))
	}
	if errors.Is(err, storage.ErrNotFound) {
		return sessionState{expired: true}, nil
	}
	if err != nil {
		return sessionState{}, plugin.StorageError(err)
	}
	s := sessionFromRecord(rec)
	now := a.clockNow()
	if s.ExpiresAt.Before(now) { // Better Auth: expired when expiresAt < now
		if _, err := a.db.Delete(ctx, plugin.TableSession, storage.W("id", s.ID)); err != nil {
			a.log.WarnContext(ctx, "auth: deleting expired session", "err", err)
		}
		return sessionState{expired: true}, nil
	}
	if urec == nil {
		urec, err = a.db.FindOne(ctx, plugin.TableUser, storage.W("id", s.UserID))
		if errors.Is(err, storage.ErrNotFound) {
			return sessionState{expired: true}, nil
		}
		if err != nil {
			return sessionState{}, plugin.StorageError(err)
		}
	}
	st := sessionState{data: &SessionData{Session: s, User: userFromRecord(urec)}}
	cfg := a.cfg.Session
	if refresh && !cfg.DisableRefresh && !s.ExpiresAt.Add(-cfg.ExpiresIn).Add(cfg.UpdateAge).After(now) {
		exp := now.Add(cfg.ExpiresIn)
		n, err := a.db.Update(ctx, plugin.TableSession, storage.Record{"expiresAt": exp, "updatedAt": now}, storage.W("id", s.ID))
		if err != nil {
			return sessionState{}, plugin.StorageError(err)
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

// Session returns the session of an incoming request (a plugin's
// plugin.SessionSource, the signed session cookie, or the bearer token
// with Config.Bearer), or ErrUnauthorized. It always reads the database:
// a cookie cache (Session.CookieCache) is never trusted here, so a revoked
// session is refused at once.
func (a *Auth) Session(r *http.Request) (*SessionData, error) {
	for _, src := range a.sessionSources {
		sd, ok, err := src.RequestSession(r)
		if err != nil {
			return nil, err
		}
		if ok {
			if sd == nil {
				return nil, ErrUnauthorized
			}
			return sd, nil
		}
	}
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
// resolves it as get-session does (sliding the expiry and re-issuing the
// cookies; with the cookie cache on, answering from a valid cache cookie
// without a database read) and makes the session available to next
// through SessionFrom. For routes that must not trust a cache cookie (a
// revoked session stays cached for up to CookieCache.MaxAge), use
// Auth.Session, which always reads the database.
func (a *Auth) RequireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sd, cookies, bearer, err := a.requestSession(r, sessionLookup{refresh: true})
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if !bearer {
			plugin.WriteCookies(w, cookies)
		}
		if sd == nil {
			a.writeError(w, r, ErrUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionCtxKey{}, sd)))
	})
}

// sessionLookup says how requestSession may resolve a session.
type sessionLookup struct {
	// refresh lets the lookup slide the expiry and write the session and
	// cache cookies (false is Better Auth's ?disableRefresh).
	refresh bool
	// noCache reads the database even when a valid cache cookie is
	// present (Better Auth's ?disableCookieCache and sensitive routes).
	noCache bool
}

// requestSession resolves the session of r as Better Auth's get-session
// does, and returns it (nil for none) with the cookies to set:
//
//  1. No session token: no session. With the cookie cache off, a
//     session_data cookie (and its chunks) is expired.
//  2. With the cookie cache on (unless opt.noCache), a valid cache for
//     this token answers without a database read; an invalid one (bad
//     seal, other token or version, past its expiry or its session's) is
//     expired and the database read.
//  3. A missing or expired session expires every session cookie.
//  4. With opt.refresh and no dont_remember cookie, the expiry slides
//     when the refresh rule holds (re-issuing the session and cache
//     cookies), else only the cache cookie is re-issued.
//
// bearer reports that the token came from an Authorization header.
func (a *Auth) requestSession(r *http.Request, opt sessionLookup) (sd *SessionData, cookies []*http.Cookie, bearer bool, err error) {
	for _, src := range a.sessionSources {
		sd, ok, err := src.RequestSession(r)
		if err != nil || ok {
			return sd, nil, false, err
		}
	}
	token, bearer := a.sessionToken(r)
	cache := a.cfg.Session.CookieCache.Enabled
	if token == "" && cache {
		return nil, nil, bearer, nil
	}
	value, names := a.readCacheCookie(r, true)
	if value != "" && !cache {
		for _, n := range names {
			cookies = append(cookies, a.newCookie(n, "", -1))
		}
	}
	if token == "" {
		return nil, cookies, bearer, nil
	}
	if cache && !opt.noCache && value != "" {
		if sd := a.sessionFromCache(value, token); sd != nil {
			return sd, cookies, bearer, nil
		}
		cookies = append(cookies, a.newCookie(plugin.CookieSessionData, "", -1))
	}
	_, dontRemember := a.readSignedCookie(r, plugin.CookieDontRemember)
	write := opt.refresh && !dontRemember
	st, err := a.resolveSession(r.Context(), token, write)
	if err != nil {
		return nil, cookies, bearer, err
	}
	switch {
	case st.expired:
		cookies = append(cookies, a.expiredSessionCookies(r)...)
	case st.data == nil:
	case st.refreshed:
		cookies = append(cookies, a.sessionCookies(r, st.data, false)...)
	case write && cache:
		cookies = append(cookies, a.cacheCookies(r, st.data, false)...)
	}
	return st.data, cookies, bearer, nil
}

// urlSafeToStd turns URL-safe base64 into standard base64.
var urlSafeToStd = strings.NewReplacer("-", "+", "_", "/")

// verifyBearer verifies a signed bearer token "<token>.<sig>", whose
// signature may also be URL-safe base64 (Better Auth's bearer plugin
// accepts both).
func verifyBearer(secret, s string) (string, bool) {
	if i := strings.LastIndexByte(s, '.'); i >= 0 && strings.ContainsAny(s[i+1:], "-_") {
		s = s[:i+1] + urlSafeToStd.Replace(s[i+1:])
	}
	return plugin.VerifyCookieValue(secret, s)
}
