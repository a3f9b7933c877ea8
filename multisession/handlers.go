package multisession

import (
	"context"
	"net/http"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

type statusBody struct {
	Status bool `json:"status"`
}

// session returns the active session of token with its user, or nil when
// there is none (ended, expired, never was); only a failure to read is an
// error.
func (p *Plugin) session(ctx context.Context, token string) (*plugin.SessionData, error) {
	if !validToken(token) {
		return nil, nil
	}
	sd, err := p.h.GetSession(ctx, token)
	if err != nil {
		if plugin.AsError(err).Status >= http.StatusInternalServerError {
			return nil, err
		}
		return nil, nil
	}
	return sd, nil
}

// DeviceSessions returns the browser's device sessions: the sessions of
// r's multi-session cookies (signatures verified) that are still active,
// with their users, one per user (the first cookie's), in the order of
// the cookies. It is what GET /multi-session/list-device-sessions
// answers.
func (p *Plugin) DeviceSessions(r *http.Request) ([]*plugin.SessionData, error) {
	ctx := r.Context()
	out := []*plugin.SessionData{}
	toks := tokens(p.heldCookies(r))
	if len(toks) == 0 {
		return out, nil
	}
	recs, err := p.h.DB().FindMany(ctx, plugin.TableSession, storage.Query{Where: []storage.Where{
		{Field: "token", Op: storage.In, Value: toks},
		{Field: "expiresAt", Op: storage.Gt, Value: p.h.Now()},
	}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	owner := map[string]string{} // token → user id, of the active sessions
	for _, rec := range recs {
		owner[rec.String("token")] = rec.String("userId")
	}
	listed := map[string]bool{} // user ids
	for _, t := range toks {
		uid, ok := owner[t]
		if !ok || listed[uid] {
			continue
		}
		sd, err := p.session(ctx, t)
		if err != nil {
			return nil, err
		}
		if sd == nil {
			continue // ended meanwhile
		}
		listed[uid] = true
		out = append(out, sd)
	}
	return out, nil
}

// handleList serves GET /multi-session/list-device-sessions. It needs no
// session: the signed cookies are the browser's proof.
func (p *Plugin) handleList(c *plugin.Context) (any, error) {
	return p.DeviceSessions(c.Request())
}

// handleSetActive serves POST /multi-session/set-active: the session of
// the browser's signed cookie for sessionToken becomes the session
// cookie's (with the cookie cache, the cache's too).
func (p *Plugin) handleSetActive(c *plugin.Context) (any, error) {
	h, ok := p.heldFor(c.Request(), c.String("sessionToken"))
	if !ok {
		return nil, ErrInvalidSessionToken
	}
	sd, err := p.session(c.Context(), h.token)
	if err != nil {
		return nil, err
	}
	if sd == nil {
		c.SetCookie(p.expired(h.name))
		return nil, ErrInvalidSessionToken
	}
	c.SetSessionCookie(sd)
	return sd, nil
}

// handleRevoke serves POST /multi-session/revoke: it deletes the session
// of the browser's signed cookie for sessionToken and expires the cookie.
// If that was the active session, the first other active device session
// becomes the session cookie's, or, with none left, the session cookies
// are expired.
func (p *Plugin) handleRevoke(c *plugin.Context) (any, error) {
	r, ctx := c.Request(), c.Context()
	h, ok := p.heldFor(r, c.String("sessionToken"))
	if !ok {
		return nil, ErrInvalidSessionToken
	}
	if validToken(h.token) {
		if _, err := p.h.DB().Delete(ctx, plugin.TableSession, storage.W("token", h.token)); err != nil {
			return nil, plugin.StorageError(err)
		}
	}
	c.SetCookie(p.expired(h.name))
	if cur := c.Session(); cur == nil || !plugin.SecureEqual(cur.Session.Token, h.token) {
		return statusBody{Status: true}, nil
	}
	for _, o := range p.heldCookies(r) {
		if o.token == h.token {
			continue
		}
		sd, err := p.session(ctx, o.token)
		if err != nil {
			return nil, err
		}
		if sd != nil {
			c.SetSessionCookie(sd)
			return statusBody{Status: true}, nil
		}
	}
	c.SetCookies(p.h.ExpiredSessionCookies(r))
	c.SetSession(nil)
	return statusBody{Status: true}, nil
}

// afterSessionSet runs after every answer that sets a session cookie: it
// gives that session its multi-session cookie, after expiring the
// browser's cookies (and deleting the sessions) of the same user and the
// cookies whose sessions have ended, unless the browser would then hold
// more than MaximumSessions. A failure to read or delete is logged and
// leaves the cookies as they were: the sign-in itself has succeeded.
func (p *Plugin) afterSessionSet(c *plugin.Context) error {
	ck := p.sessionCookieSet(c)
	if ck == nil {
		return nil
	}
	token, ok := plugin.VerifyCookieValue(p.h.Secret(), ck.Value)
	if !ok || !validToken(token) {
		return nil
	}
	name := multiName(token)
	full := p.h.CookieName(name)
	for _, set := range c.Cookies() {
		if set.Name == full {
			return nil
		}
	}
	hs := p.heldCookies(c.Request())
	for _, h := range hs {
		if h.name == name && h.token == token {
			return nil // the browser has it (set-active, a refresh)
		}
	}
	ctx := c.Context()
	recs, err := p.h.DB().FindMany(ctx, plugin.TableSession, storage.Query{Where: []storage.Where{
		{Field: "token", Op: storage.In, Value: append([]string{token}, tokens(hs)...)},
	}})
	if err != nil {
		p.h.Logger().WarnContext(ctx, "multisession: reading the browser's device sessions failed; no multi-session cookie set", "err", err)
		return nil
	}
	byToken := make(map[string]storage.Record, len(recs))
	for _, rec := range recs {
		byToken[rec.String("token")] = rec
	}
	cur := byToken[token]
	if cur == nil {
		return nil // ended meanwhile
	}
	userID, now := cur.String("userId"), p.h.Now()
	var drop []string
	var expire []*http.Cookie
	live := map[string]bool{}
	for _, h := range hs {
		if h.token == token {
			continue // this session under another cookie name: it stays
		}
		switch rec := byToken[h.token]; {
		case rec != nil && rec.String("userId") == userID:
			drop = append(drop, h.token)
			expire = append(expire, p.expired(h.name))
		case rec == nil || rec.Time("expiresAt").Before(now):
			expire = append(expire, p.expired(h.name))
		default:
			live[h.token] = true
		}
	}
	if len(drop) > 0 {
		_, err := p.h.DB().Delete(ctx, plugin.TableSession,
			storage.Where{Field: "token", Op: storage.In, Value: drop}, storage.W("userId", userID))
		if err != nil {
			p.h.Logger().WarnContext(ctx, "multisession: deleting the user's older device sessions failed; no multi-session cookie set", "err", err)
			return nil
		}
	}
	c.SetCookies(expire)
	if len(live)+1 > p.opts.MaximumSessions {
		return nil
	}
	mc := *ck // the same signed value and attributes
	mc.Name = full
	c.SetCookie(&mc)
	return nil
}

// afterSignOut runs after POST /sign-out: it deletes the sessions of every
// signed multi-session cookie of the request and expires the cookies.
func (p *Plugin) afterSignOut(c *plugin.Context) error {
	hs := p.heldCookies(c.Request())
	if len(hs) == 0 {
		return nil
	}
	_, err := p.h.DB().Delete(c.Context(), plugin.TableSession, storage.Where{Field: "token", Op: storage.In, Value: tokens(hs)})
	if err != nil {
		return plugin.StorageError(err)
	}
	for _, h := range hs {
		c.SetCookie(p.expired(h.name))
	}
	return nil
}
