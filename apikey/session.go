package apikey

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/managarten/mana-auth/plugin"
)

// RequestSession implements plugin.SessionSource: with
// EnableSessionForAPIKeys, a request carrying a key (Options.Headers) is
// the key's user's, with Better Auth's session shape (see
// requestSession), whatever cookie it also carries; a bad key refuses
// it. The key is checked and counted once per request, however many
// times its session is looked up.
func (p *Plugin) RequestSession(r *http.Request) (*plugin.SessionData, bool, error) {
	if !p.opts.EnableSessionForAPIKeys || p.requestKey(r) == "" {
		return nil, false, nil
	}
	sd, err := p.requestSession(r)
	return sd, true, err
}

// requestKey returns the key r carries: the value of the first of
// Options.Headers that is set ("" if none). A header sent several times
// reads as its values joined by ", ", as the Fetch API's Headers.get.
func (p *Plugin) requestKey(r *http.Request) string {
	for _, h := range p.opts.Headers {
		if v := strings.Join(r.Header.Values(h), ", "); v != "" {
			return v
		}
	}
	return ""
}

// beforeHook is Better Auth's before-hook: on every route, a request
// with a key runs as the key's user or is refused (a 429 RATE_LIMITED
// with its details.tryAgainIn, Retry-After, …).
func (p *Plugin) beforeHook(c *plugin.Context) error {
	sd, err := p.requestSession(c.Request())
	if err != nil {
		return err
	}
	c.SetSession(sd)
	return nil
}

// afterHook drops the session cookies a route set for the key's session
// (update-user re-issues the request's session cookies, whose token is
// then the key): a key must not become a cookie session, which the
// cookie cache would accept without the key's checks and counting.
// Cookies of a new session (a sign-in made with a key in the header)
// stay.
func (p *Plugin) afterHook(c *plugin.Context) error {
	key, name := p.requestKey(c.Request()), p.h.CookieName(plugin.CookieSessionToken)
	for _, ck := range c.Cookies() {
		if ck.Name != name || ck.MaxAge < 0 {
			continue
		}
		if v, ok := plugin.VerifyCookieValue(p.h.Secret(), ck.Value); ok && plugin.SecureEqual(v, key) {
			c.RemoveCookies(plugin.CookieSessionToken, plugin.CookieSessionData)
			return nil
		}
	}
	return nil
}

// requestSession returns the session of r's key, checking and counting
// the key on the first call for r and answering the same to the later
// ones (the before-hook, the route's session, Host.Session in a
// handler: one request, one use).
func (p *Plugin) requestSession(r *http.Request) (*plugin.SessionData, error) {
	e := p.memo.entry(r)
	e.once.Do(func() { e.sd, e.err = p.authenticate(r) })
	return e.sd, e.err
}

// authenticate is the body of Better Auth's before-hook: a key shorter
// than DefaultKeyLength is refused at once (403), any other is verified
// and counted, expired keys are swept, and the key's user gets a session
// {id: the key's id, token: the key, userId, userAgent, ipAddress,
// createdAt and updatedAt now, expiresAt: the key's expiry or the
// host's session lifetime from now}.
func (p *Plugin) authenticate(r *http.Request) (*plugin.SessionData, error) {
	ctx := r.Context()
	key := p.requestKey(r)
	if jsLen(key) < p.opts.DefaultKeyLength {
		return nil, errShortKey()
	}
	k, err := p.use(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	p.sweep(ctx)
	u, err := p.h.FindUserByID(ctx, k.ReferenceID)
	if errors.Is(err, errUserNotFound) {
		return nil, ErrInvalidReferenceID
	}
	if err != nil {
		return nil, err
	}
	now := p.now()
	if banned(u, now) {
		return nil, ErrUserBanned
	}
	s := &plugin.Session{ID: k.ID, Token: key, UserID: k.ReferenceID, CreatedAt: now, UpdatedAt: now}
	if k.ExpiresAt != nil {
		s.ExpiresAt = *k.ExpiresAt
	} else {
		d := p.h.Settings().SessionExpiresIn
		if d <= 0 {
			d = 7 * 24 * time.Hour
		}
		s.ExpiresAt = now.Add(d)
	}
	if ip := p.h.ClientIP(r); ip != "" {
		s.IPAddress = &ip
	}
	if _, ok := r.Header["User-Agent"]; ok {
		ua := r.UserAgent()
		s.UserAgent = &ua
	}
	return &plugin.SessionData{Session: s, User: u}, nil
}

// errUserNotFound matches the host's USER_NOT_FOUND (errors.Is matches
// an *plugin.Error by code).
var errUserNotFound = &plugin.Error{Code: "USER_NOT_FOUND"}

// banned reports whether u is banned (the admin plugin's banned and
// banExpires fields): a banned user's keys do not act for them.
func banned(u *plugin.User, now time.Time) bool {
	if b, _ := u.Extra["banned"].(bool); !b {
		return false
	}
	exp, ok := u.Extra["banExpires"].(time.Time)
	return !ok || exp.IsZero() || exp.After(now)
}

// sessionMemo remembers the outcome of a request's key while the
// request is served. An entry is forgotten when the request's context
// ends; requests whose context never ends (context.Background, in
// tests) are forgotten a minute later, once the memo grows large.
type sessionMemo struct {
	mu        sync.Mutex
	m         map[*http.Request]*memoEntry
	lastPrune time.Time
}

type memoEntry struct {
	once sync.Once
	sd   *plugin.SessionData
	err  error
	at   time.Time
}

// memoPrune is the size from which entries older than memoTTL are
// dropped when a new one is added (every memoTTL/6 at most).
const (
	memoPrune = 1024
	memoTTL   = time.Minute
)

// entry returns r's entry, adding it if it is new.
func (m *sessionMemo) entry(r *http.Request) *memoEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.m[r]; e != nil {
		return e
	}
	now := time.Now()
	if len(m.m) >= memoPrune && now.Sub(m.lastPrune) > memoTTL/6 {
		m.lastPrune = now
		for k, e := range m.m {
			if now.Sub(e.at) > memoTTL {
				delete(m.m, k)
			}
		}
	}
	e := &memoEntry{at: now}
	m.m[r] = e
	if r.Context().Done() != nil {
		context.AfterFunc(r.Context(), func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.m[r] == e {
				delete(m.m, r)
			}
		})
	}
	return e
}
