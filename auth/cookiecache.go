package auth

// Better Auth's session cookie cache (session.cookieCache): a signed or
// encrypted copy of {session, user} in the session_data cookie, so that
// get-session and other session-protected routes can answer without a
// database read. Byte-compatible with Better Auth 1.7
// (packages/better-auth/src/cookies/index.ts, cookies/cache.ts,
// cookies/session-store.ts, crypto/jwt.ts, api/routes/session.ts).
// The payload's bytes and the three seals are internal/cookiecodec's; this
// file is the cache's policy: when it is written and read, for how long,
// which keys open it, chunking, and what a valid cache must hold.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/internal/cookiecodec"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// CookieCacheStrategy is how the cookie cache is sealed.
type CookieCacheStrategy string

// The cookie cache strategies of Better Auth.
const (
	// CookieCacheCompact is base64url(JSON) with an HMAC-SHA256 signature
	// (Better Auth's default). The content is readable by whoever holds
	// the cookie, not forgeable.
	CookieCacheCompact CookieCacheStrategy = "compact"
	// CookieCacheJWT is an HS256 JWT signed with the secret: readable, not
	// forgeable, and verifiable by any JWT library that has the secret.
	CookieCacheJWT CookieCacheStrategy = "jwt"
	// CookieCacheJWE is a JWE (dir, A256CBC-HS512) under a key derived from
	// the secret with HKDF-SHA256: neither readable nor forgeable.
	CookieCacheJWE CookieCacheStrategy = "jwe"
)

// DefaultCookieCacheMaxAge is Better Auth's cookieCache.maxAge: 5 minutes.
const DefaultCookieCacheMaxAge = 5 * time.Minute

// CookieCacheConfig configures the session cookie cache, Better Auth's
// session.cookieCache. With it on, every response that sets the session
// cookie (sign-in, sign-up, get-session, a refresh, update-user, …) also
// sets session_data: a copy of the session and its user, signed (compact,
// jwt) or encrypted (jwe) with the secret. get-session and the routes that
// need a session then answer from it without reading the database, and
// front-ends may read it themselves (Better Auth's getCookieCache from
// better-auth/cookies accepts it given the same secret and strategy).
//
// The trade-off is Better Auth's: for up to MaxAge a revoked session, a
// deleted user or a changed user or session field stays visible to
// whoever holds an earlier cache cookie. Routes that change credentials or
// destroy data (revoke-session(s), change-password, change-email,
// verify-password, delete-user, plugin.Endpoint.Sensitive) always read the
// database; so does Auth.Session. A request may also bypass the cache with
// ?disableCookieCache=true.
type CookieCacheConfig struct {
	// Enabled turns the cache on. Off by default; a stray session_data
	// cookie is then expired.
	Enabled bool
	// MaxAge is how long a cache cookie is trusted (its Max-Age, whole
	// seconds). Default DefaultCookieCacheMaxAge. As in Better Auth, a
	// "don't remember me" session gets a cache cookie without Max-Age that
	// is trusted for 60 s (compact) or 300 s (jwt, jwe).
	MaxAge time.Duration
	// Strategy is CookieCacheCompact (default), CookieCacheJWT or
	// CookieCacheJWE; "base64-hmac", Better Auth's old name for compact,
	// is accepted.
	Strategy CookieCacheStrategy
	// Version is written into every cache cookie; a cookie of another
	// version is ignored (and expired). Change it to invalidate every
	// cache at once, e.g. after changing what the user record holds.
	// Default "1".
	Version string
}

const (
	// maxCookieSize is Better Auth's per-cookie byte ceiling
	// (cookies/session-store.ts MAX_COOKIE_SIZE): Set-Cookie lines above
	// it are split into session_data.0, session_data.1, …
	maxCookieSize = 4050
	// maxCookieChunks is Better Auth's MAX_COOKIE_CHUNKS: a larger cache
	// is not written at all.
	maxCookieChunks = 100
	// dontRememberCompactTTL and dontRememberTokenTTL are how long a
	// "don't remember me" cache is trusted: Better Auth signs it with
	// `maxAge || 60` (compact) and `maxAge || 300` seconds (jwt, jwe),
	// maxAge being undefined for such sessions.
	dontRememberCompactTTL = 60 * time.Second
	dontRememberTokenTTL   = 300 * time.Second
)

// withDefaults fills in the defaults and checks c.
func (c *CookieCacheConfig) withDefaults() error {
	switch c.Strategy {
	case "", "base64-hmac":
		c.Strategy = CookieCacheCompact
	case CookieCacheCompact, CookieCacheJWT, CookieCacheJWE:
	default:
		return fmt.Errorf("auth: Session.CookieCache.Strategy %q must be %q, %q or %q",
			c.Strategy, CookieCacheCompact, CookieCacheJWT, CookieCacheJWE)
	}
	switch {
	case c.MaxAge == 0:
		c.MaxAge = DefaultCookieCacheMaxAge
	case c.MaxAge < time.Second || c.MaxAge%time.Second != 0:
		return fmt.Errorf("auth: Session.CookieCache.MaxAge %v must be a positive whole number of seconds", c.MaxAge)
	case c.MaxAge > 400*24*time.Hour:
		return errors.New("auth: Session.CookieCache.MaxAge exceeds the 400-day cookie limit")
	}
	if c.Version == "" {
		c.Version = "1"
	}
	return nil
}

func (a *Auth) sessionCookies(r *http.Request, sd *SessionData, dontRemember bool) []*http.Cookie {
	token := sd.Session.Token
	var out []*http.Cookie
	if dontRemember {
		out = append(out,
			a.signedCookie(plugin.CookieSessionToken, token, 0),
			a.signedCookie(plugin.CookieDontRemember, "true", 0))
	} else {
		out = append(out, a.signedCookie(plugin.CookieSessionToken, token, int(a.cfg.Session.ExpiresIn/time.Second)))
	}
	if a.cfg.Session.CookieCache.Enabled {
		out = append(out, a.cacheCookies(r, sd, dontRemember)...)
	}
	return out
}

func (a *Auth) expiredSessionCookies(r *http.Request) []*http.Cookie {
	out := []*http.Cookie{
		a.newCookie(plugin.CookieSessionToken, "", -1),
		a.newCookie(plugin.CookieSessionData, "", -1),
	}
	for _, n := range a.cacheCookieNames(r) {
		if n != plugin.CookieSessionData {
			out = append(out, a.newCookie(n, "", -1))
		}
	}
	return append(out, a.newCookie(plugin.CookieDontRemember, "", -1))
}

// cacheCookies returns the cookie cache of sd, chunked as Better Auth
// chunks it, after the deletion of every cache cookie r carries (a later
// cookie of the same name replaces the deletion in plugin.WriteCookies).
func (a *Auth) cacheCookies(r *http.Request, sd *SessionData, dontRemember bool) []*http.Cookie {
	var out []*http.Cookie
	for _, n := range a.cacheCookieNames(r) {
		out = append(out, a.newCookie(n, "", -1))
	}
	value, err := a.encodeCookieCache(sd, dontRemember)
	if err != nil {
		a.log.Error("auth: encoding the session cookie cache", "err", err)
		return out
	}
	maxAge := int(a.cfg.Session.CookieCache.MaxAge / time.Second)
	if dontRemember {
		maxAge = 0 // a browser-session cookie
	}
	size := maxCookieSize - len(plugin.CookieHeader(a.newCookie(plugin.CookieSessionData+".99", "", maxAge)))
	n := maxCookieChunks + 1
	if size > 0 {
		n = (len(value) + size - 1) / size
	}
	switch {
	case n <= 1:
		return append(out, a.newCookie(plugin.CookieSessionData, value, maxAge))
	case n > maxCookieChunks:
		a.log.Warn("auth: the session cookie cache is too large to store even after chunking; it was skipped",
			"bytes", len(value), "userId", sd.User.ID)
		return out
	}
	for i := range n {
		chunk := value[i*size : min(len(value), (i+1)*size)]
		out = append(out, a.newCookie(plugin.CookieSessionData+"."+strconv.Itoa(i), chunk, maxAge))
	}
	return out
}

// cacheCookieNames returns the names (before prefix) of the cache cookies
// r carries: session_data and its chunks session_data.<n>, in request
// order.
func (a *Auth) cacheCookieNames(r *http.Request) []string {
	_, names := a.readCacheCookie(r, false)
	return names
}

// readCacheCookie returns the cache value r carries, as Better Auth's
// getChunkedCookie reads it (session_data if not empty, else the chunks
// joined in index order; the first cookie of a name wins; percent-decoded),
// and the names of the cache cookies. With wantValue false only the names
// are collected.
func (a *Auth) readCacheCookie(r *http.Request, wantValue bool) (value string, names []string) {
	if r == nil {
		return "", nil
	}
	base := a.cookieName(plugin.CookieSessionData)
	if !slices.ContainsFunc(r.Header.Values("Cookie"), func(h string) bool { return strings.Contains(h, base) }) {
		return "", nil // the common case: no cache cookie at all
	}
	type chunk struct {
		index int
		value string
	}
	var chunks []chunk
	var baseValue string
	seen := map[string]bool{}
	for _, ck := range r.Cookies() {
		if seen[ck.Name] {
			continue
		}
		if ck.Name == base {
			seen[ck.Name] = true
			names = append(names, plugin.CookieSessionData)
			baseValue = ck.Value
			continue
		}
		suffix, ok := strings.CutPrefix(ck.Name, base+".")
		if !ok {
			continue
		}
		i, ok := chunkIndex(suffix)
		if !ok {
			continue
		}
		seen[ck.Name] = true
		names = append(names, plugin.CookieSessionData+"."+suffix)
		if wantValue {
			chunks = append(chunks, chunk{i, ck.Value})
		}
	}
	if !wantValue {
		return "", names
	}
	value = baseValue
	if value == "" && len(chunks) > 0 {
		slices.SortStableFunc(chunks, func(x, y chunk) int { return x.index - y.index })
		var b strings.Builder
		for _, c := range chunks {
			b.WriteString(c.value)
		}
		value = b.String()
	}
	if strings.Contains(value, "%") {
		if d, err := url.PathUnescape(value); err == nil {
			value = d
		}
	}
	return value, names
}

// chunkIndex parses a chunk suffix as Better Auth's parseCookieChunkIndex
// does: a non-negative safe integer written canonically ("0", "12", not
// "012" or "+1").
func chunkIndex(s string) (int, bool) {
	if s == "" || len(s) > 15 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// encodeCookieCache seals sd with the configured strategy.
func (a *Auth) encodeCookieCache(sd *SessionData, dontRemember bool) (string, error) {
	cc := &a.cfg.Session.CookieCache
	now := a.clockNow()
	payload, err := cachePayloadJSON(sd, now, cc.Version)
	if err != nil {
		return "", err
	}
	ttl := cc.MaxAge
	switch cc.Strategy {
	case CookieCacheJWT:
		if dontRemember {
			ttl = dontRememberTokenTTL
		}
		return cookiecodec.EncodeJWT(a.secret, payload, now, ttl), nil
	case CookieCacheJWE:
		if dontRemember {
			ttl = dontRememberTokenTTL
		}
		return cookiecodec.EncodeJWE(a.jweKeys()[0], payload, now, ttl)
	default:
		if dontRemember {
			ttl = dontRememberCompactTTL
		}
		return cookiecodec.EncodeCompact(a.secret, payload, now.Add(ttl).UnixMilli()), nil
	}
}

// cachePayloadJSON is Better Auth's payload {session, user, updatedAt,
// version} of sd, as JavaScript writes it (cookiecodec.Payload).
func cachePayloadJSON(sd *SessionData, now time.Time, version string) ([]byte, error) {
	if sd == nil || sd.Session == nil || sd.User == nil {
		return nil, errors.New("no session")
	}
	s, err := sd.Session.MarshalJSON()
	if err != nil {
		return nil, err
	}
	u, err := sd.User.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return cookiecodec.Payload(s, u, now.UnixMilli(), version), nil
}

// deriveJWEKeys derives the keys a cache JWE may be sealed with, from the
// current secret, the other versions, then the legacy secret (Auth.jweKeys
// calls it once: the secrets do not change).
func (a *Auth) deriveJWEKeys() []cookiecodec.JWEKey {
	out := []cookiecodec.JWEKey{cookiecodec.NewJWEKey(a.secret)}
	seen := map[string]bool{string(a.secret): true}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, cookiecodec.NewJWEKey([]byte(s)))
		}
	}
	for _, v := range a.keys.Versions() {
		s, _ := a.keys.Version(v)
		add(s)
	}
	if s, ok := a.keys.Legacy(); ok {
		add(s)
	}
	return out
}

// sessionFromCache returns the session a cache cookie value holds if it
// is valid for the session token: sealed with the secret under the
// configured strategy, of the configured version, for this token, not
// past its own expiry nor its session's. Anything else is nil.
func (a *Auth) sessionFromCache(value, token string) *SessionData {
	if len(value) > maxCookieChunks*maxCookieSize {
		return nil
	}
	cc := &a.cfg.Session.CookieCache
	now := a.clockNow()
	var payload []byte
	var expiresAt float64
	var ok bool
	switch cc.Strategy {
	case CookieCacheJWT:
		payload, expiresAt, ok = cookiecodec.DecodeJWT(a.secret, value, now)
	case CookieCacheJWE:
		payload, expiresAt, ok = cookiecodec.DecodeJWE(a.jweKeys(), value, now)
	default:
		payload, expiresAt, ok = cookiecodec.DecodeCompact(a.secret, value)
	}
	if !ok {
		return nil
	}
	sd, version, ok := a.parseCachePayload(payload)
	if !ok || !plugin.SecureEqual(sd.Session.Token, token) || version != cc.Version ||
		expiresAt < float64(now.UnixMilli()) || sd.Session.ExpiresAt.Before(now) {
		return nil
	}
	return sd
}

// parseCachePayload reads {session, user, updatedAt, version}
// (cookiecodec.ParsePayload), typing the session and user fields by the
// schema (core and plugin fields; others are dropped), as Better Auth's
// cookieCachePayloadSchema does.
func (a *Auth) parseCachePayload(b []byte) (*SessionData, string, bool) {
	p, ok := cookiecodec.ParsePayload(b)
	if !ok {
		return nil, "", false
	}
	srec, ok := a.cacheRecord(plugin.TableSession, p.Session, "token", "userId")
	if !ok {
		return nil, "", false
	}
	urec, ok := a.cacheRecord(plugin.TableUser, p.User, "email", "name")
	if !ok {
		return nil, "", false
	}
	if _, ok := urec["emailVerified"]; !ok {
		urec["emailVerified"] = false
	}
	return &SessionData{Session: sessionFromRecord(srec), User: userFromRecord(urec)}, p.Version, true
}

// isISODate reports whether s has the form of the dates Better Auth
// revives from cache JSON: YYYY-MM-DDTHH:MM:SS, an optional fraction of a
// second, then Z.
func isISODate(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if layout[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		} else if s[i] != layout[i] {
			return false
		}
	}
	frac := s[len(layout) : len(s)-1]
	if frac == "" {
		return true
	}
	if frac[0] != '.' || len(frac) == 1 {
		return false
	}
	for i := 1; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return false
		}
	}
	return true
}

// cacheRecord converts a cached JSON object of table to a record, typed
// by the schema. id, createdAt, updatedAt, (session) expiresAt and the
// required fields must be present and non-null.
func (a *Auth) cacheRecord(table string, obj map[string]any, required ...string) (storage.Record, bool) {
	t := a.schema.Table(table)
	if t == nil || obj == nil {
		return nil, false
	}
	rec := storage.Record{}
	id, ok := obj["id"].(string)
	if !ok {
		return nil, false
	}
	rec["id"] = id
	for _, f := range t.Fields {
		v, present := obj[f.Name]
		if !present {
			continue
		}
		if v == nil {
			rec[f.Name] = nil
			continue
		}
		switch f.Type {
		case storage.String:
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			rec[f.Name] = s
		case storage.Bool:
			b, ok := v.(bool)
			if !ok {
				return nil, false
			}
			rec[f.Name] = b
		case storage.Int:
			n, ok := v.(json.Number)
			if !ok {
				return nil, false
			}
			i, err := n.Int64()
			if err != nil {
				return nil, false
			}
			rec[f.Name] = i
		case storage.Date:
			s, ok := v.(string)
			if !ok || !isISODate(s) {
				return nil, false
			}
			tm, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, false
			}
			rec[f.Name] = ms(tm)
		default:
			return nil, false
		}
	}
	required = append(required, "createdAt", "updatedAt")
	if table == plugin.TableSession {
		required = append(required, "expiresAt")
	}
	for _, k := range required {
		if rec[k] == nil {
			return nil, false
		}
	}
	return rec, true
}
