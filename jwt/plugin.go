package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TableJWKS is the logical name of the key table.
const TableJWKS = "jwks"

// Defaults of Options.
const (
	DefaultExpiration   = 15 * time.Minute
	DefaultGracePeriod  = 30 * 24 * time.Hour
	DefaultKeyCacheTTL  = time.Minute
	DefaultJWKSPath     = "/jwks"
	DefaultJWKSMaxAge   = time.Minute
	HeaderSetAuthJWT    = "set-auth-jwt"
	selfVerifyMinReload = time.Second
)

// Options configures the plugin. The zero value is Better Auth's defaults,
// except for the payload (see Payload).
type Options struct {
	// Issuer is the "iss" claim. Default: the origin of auth.Config.BaseURL
	// (scheme://host[:port], no path), as Better Auth.
	Issuer string
	// Audience is the "aud" claim (a string). Default: the BaseURL origin.
	Audience string
	// Expiration is the token lifetime: exp = iat + Expiration (whole
	// seconds). Default 15 minutes.
	Expiration time.Duration
	// KeyRotationInterval, when set, makes every new key expire that long
	// after its creation (Better Auth's jwks.rotationInterval). Its
	// successor is created KeyActivationDelay + KeyCacheTTL before that
	// (by the first request that looks at the keys then), so that it is
	// published everywhere and signs when the old key expires; if no key is
	// live at all, a new one is made and signs at once. Keep it well above
	// KeyActivationDelay. Default 0: keys live until RotateKeys.
	KeyRotationInterval time.Duration
	// GracePeriod is how long an expired or rotated-out key stays in the
	// JWKS (so tokens it signed keep verifying). Default 30 days.
	GracePeriod time.Duration
	// DisableSettingJWTHeader stops the "set-auth-jwt" header on
	// GET /get-session.
	DisableSettingJWTHeader bool
	// Payload returns the claims of a token for a session. The plugin then
	// sets iat, exp, iss and aud (always) and sub (the user id, unless
	// Payload set a non-empty string sub).
	//
	// Default (nil): the minimal claims sub, email, role, sid (session id),
	// where role is the user's "role" field if it is a string, else "user".
	// Better Auth's default puts the whole user object in the token: use
	// BetterAuthPayload for that, or wrap it to add claims.
	Payload func(ctx context.Context, sd *plugin.SessionData) (map[string]any, error)
	// KeyCacheTTL bounds how long the instance answers from its snapshot
	// of the key table (the signing key, the keys Verify uses and the JWKS
	// document, built once) without reading the table: after half of it
	// one request rereads the table while the others are answered from
	// memory, and after three quarters of it requests wait for that
	// reread. So keys created, rotated out or deleted by other instances
	// (or by Better Auth sharing the database) are seen within
	// KeyCacheTTL; this instance's own changes at once. A reread that
	// fails is logged, and the last snapshot served meanwhile. Default 1
	// minute.
	KeyCacheTTL time.Duration
	// KeyActivationDelay is how long a new key is published before it
	// signs: a key created by RotateKeys or by KeyRotationInterval signs
	// from KeyActivationDelay after its creation, and the keys it replaces
	// sign until then. Default KeyCacheTTL + JWKSMaxAge (2 minutes): by
	// then every instance's JWKS lists the new key, and a JWKS fetched
	// before it existed has expired from every cache that honours max-age,
	// so no verifier meets a token whose key it cannot find. Negative: a
	// new key signs at once (Better Auth's behaviour); a verifier that
	// fetched the JWKS from another instance, or holds a cached copy, then
	// refuses its tokens until its copy lists the key.
	KeyActivationDelay time.Duration
	// JWKSPath is the JWKS route, relative to BasePath. Default "/jwks".
	JWKSPath string
	// JWKSMaxAge is the max-age of the JWKS response's Cache-Control
	// ("public, max-age=N"); negative sends "no-cache". The response also
	// carries an ETag, and a request whose If-None-Match names it is
	// answered 304. Default 1 minute. It is part of the default
	// KeyActivationDelay: a longer one delays the first signature of new
	// keys as much.
	JWKSMaxAge time.Duration
}

// Plugin is Better Auth's JWT plugin: GET /token, GET /jwks and the
// "set-auth-jwt" header, with Ed25519 keys stored (private keys encrypted)
// in the "jwks" table. Build it with New and pass it to auth.New.
type Plugin struct {
	opts     Options
	a        plugin.Host
	iss, aud string

	activation   time.Duration // resolved KeyActivationDelay (≥ 0)
	cacheControl string        // of the JWKS response

	mu       sync.Mutex // serializes reading the key table, key creation and rotation
	cache    atomic.Pointer[keyCache]
	failed   atomic.Pointer[loadFailure]
	verifier *verify.Verifier
}

var (
	_ plugin.Plugin         = (*Plugin)(nil)
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.SchemaSource   = (*Plugin)(nil)
	_ plugin.HookSource     = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
)

// New returns the plugin. Options are checked by auth.New (through Init).
func New(o Options) *Plugin {
	if o.Expiration == 0 {
		o.Expiration = DefaultExpiration
	}
	if o.GracePeriod == 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.KeyCacheTTL == 0 {
		o.KeyCacheTTL = DefaultKeyCacheTTL
	}
	if o.JWKSPath == "" {
		o.JWKSPath = DefaultJWKSPath
	}
	if o.JWKSMaxAge == 0 {
		o.JWKSMaxAge = DefaultJWKSMaxAge
	}
	p := &Plugin{opts: o, cacheControl: "no-cache"}
	if o.JWKSMaxAge >= 0 {
		p.cacheControl = "public, max-age=" + strconv.Itoa(int(o.JWKSMaxAge/time.Second))
	}
	switch {
	case o.KeyActivationDelay > 0:
		p.activation = o.KeyActivationDelay
	case o.KeyActivationDelay == 0:
		p.activation = max(o.KeyCacheTTL, 0) + max(o.JWKSMaxAge, 0)
	}
	return p
}

// ID returns "jwt".
func (p *Plugin) ID() string { return "jwt" }

// ErrorCodes implements plugin.ErrorSource: the plugin declares no error
// of its own. Its routes answer the core's and the plugin API's errors
// (UNAUTHORIZED, INTERNAL_SERVER_ERROR, …); Verify's errors are
// *verify.Error values, which no route answers.
func (p *Plugin) ErrorCodes() []*plugin.Error { return nil }

// Init checks the options and binds the plugin to a.
func (p *Plugin) Init(a plugin.Host) error {
	o := p.opts
	switch {
	case o.Expiration < time.Second:
		return errors.New("jwt: Options.Expiration must be at least 1s")
	case o.GracePeriod < 0 || o.KeyRotationInterval < 0 || o.KeyCacheTTL < 0:
		return errors.New("jwt: Options durations must not be negative")
	case !strings.HasPrefix(o.JWKSPath, "/") || strings.Contains(o.JWKSPath, ".."):
		return fmt.Errorf("jwt: Options.JWKSPath %q must start with / and not contain \"..\"", o.JWKSPath)
	}
	origin, err := Origin(a.Settings().BaseURL)
	if err != nil {
		return err
	}
	p.a = a
	p.iss, p.aud = o.Issuer, o.Audience
	if p.iss == "" {
		p.iss = origin
	}
	if p.aud == "" {
		p.aud = origin
	}
	p.verifier, err = verify.NewKeyFunc(p.publicKey,
		verify.WithIssuer(p.iss), verify.WithAudience(p.aud), verify.WithNow(a.Now))
	return err
}

// Origin returns the origin of a URL as JavaScript's URL.origin does:
// lower-case scheme://host, with the port unless it is the scheme's default.
func Origin(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("jwt: %q is not an absolute http(s) URL", rawURL)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host, nil
	}
	return scheme + "://" + host + ":" + port, nil
}

// Issuer returns the "iss" claim the plugin writes.
func (p *Plugin) Issuer() string { return p.iss }

// Audience returns the "aud" claim the plugin writes.
func (p *Plugin) Audience() string { return p.aud }

// Schema returns the "jwks" table, with Better Auth's columns.
func (p *Plugin) Schema() storage.Schema {
	S, D := storage.String, storage.Date
	return storage.Schema{Tables: []storage.Table{{
		Name: TableJWKS,
		Fields: []storage.Field{
			{Name: "publicKey", Type: S, Required: true},
			{Name: "privateKey", Type: S, Required: true},
			{Name: "createdAt", Type: D, Required: true},
			{Name: "expiresAt", Type: D},
			{Name: "alg", Type: S},
			{Name: "crv", Type: S},
		},
	}}}
}

// Endpoints returns GET /jwks (public) and GET /token (session required).
func (p *Plugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{Method: "GET", Path: p.opts.JWKSPath, Auth: plugin.Public, Handler: p.handleJWKS},
		{Method: "GET", Path: "/token", Auth: plugin.SessionRequired, Handler: p.handleToken},
	}
}

// Hooks returns the after-hook that sets "set-auth-jwt" on GET /get-session.
func (p *Plugin) Hooks() plugin.Hooks {
	if p.opts.DisableSettingJWTHeader {
		return plugin.Hooks{}
	}
	return plugin.Hooks{After: []plugin.Hook{{Match: plugin.PathIs("/get-session"), Handler: p.afterGetSession}}}
}

// handleToken answers {"token":"<JWT>"}, written as is: a compact JWS is
// base64url and dots, which JSON needs no escape for.
func (p *Plugin) handleToken(c *plugin.Context) (any, error) {
	tok, err := p.Mint(c.Context(), c.Session())
	if err != nil {
		return nil, err
	}
	c.Header().Set("Cache-Control", "no-store")
	b := make([]byte, 0, len(tok)+12)
	b = append(b, `{"token":"`...)
	b = append(b, tok...)
	return plugin.RawJSON(append(b, `"}`...)), nil
}

// handleJWKS serves the document from memory, with an ETag; 304 when
// If-None-Match names it.
func (p *Plugin) handleJWKS(c *plugin.Context) (any, error) {
	kc, err := p.document(c.Context())
	if err != nil {
		return nil, err
	}
	h := c.Header()
	h.Set("Cache-Control", p.cacheControl)
	h.Set("ETag", kc.etag)
	if inm := c.Request().Header["If-None-Match"]; len(inm) > 0 && etagMatch(inm, kc.etag) {
		c.SetStatus(http.StatusNotModified)
		return plugin.RawJSON{}, nil
	}
	return plugin.RawJSON(kc.doc), nil
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatch(values []string, etag string) bool {
	for _, v := range values {
		for v != "" {
			var tag string
			tag, v, _ = strings.Cut(v, ",")
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// afterGetSession adds the token of the resolved session, if any. A
// failure to mint is logged and does not fail get-session.
func (p *Plugin) afterGetSession(c *plugin.Context) error {
	if c.Request().Method != "GET" {
		return nil
	}
	sd := c.Session()
	if sd == nil || sd.Session == nil || sd.User == nil {
		return nil
	}
	tok, err := p.Mint(c.Context(), sd)
	if err != nil {
		p.a.Logger().ErrorContext(c.Context(), "jwt: minting set-auth-jwt failed", "err", err)
		return nil
	}
	c.Header().Set(HeaderSetAuthJWT, tok)
	plugin.AddExposedHeader(c.Header(), HeaderSetAuthJWT)
	return nil
}

var errNotInitialized = errors.New("jwt: plugin is not registered with an Auth (pass it to auth.New)")

// Mint returns a signed token for the session: the token GET /token and
// the set-auth-jwt header carry (they call Mint). The signing key comes
// from the instance's snapshot of the key table (see KeyCacheTTL); the
// first call reads the table, creating the first key if there is none.
func (p *Plugin) Mint(ctx context.Context, sd *plugin.SessionData) (string, error) {
	if p.a == nil {
		return "", errNotInitialized
	}
	if sd == nil || sd.User == nil || sd.Session == nil {
		return "", auth.ErrUnauthorized
	}
	now := p.a.Now()
	key, err := p.signer(ctx, now)
	if err != nil {
		return "", err
	}
	iat := now.Unix()
	exp := iat + int64(p.opts.Expiration/time.Second)
	var payload []byte
	if p.opts.Payload == nil {
		payload, err = json.Marshal(defaultClaims{
			Sub: sd.User.ID, Email: sd.User.Email, Role: userRole(sd.User), Sid: sd.Session.ID,
			Iat: iat, Exp: exp, Iss: p.iss, Aud: p.aud,
		})
	} else {
		payload, err = p.customPayload(ctx, sd, iat, exp)
	}
	if err != nil {
		return "", err
	}
	return key.memo.sign(key.priv, key.header, payload, iat), nil
}

func (p *Plugin) customPayload(ctx context.Context, sd *plugin.SessionData, iat, exp int64) ([]byte, error) {
	m, err := p.opts.Payload(ctx, sd)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m)+5)
	for k, v := range m {
		out[k] = v
	}
	if s, ok := out["sub"].(string); !ok || s == "" {
		out["sub"] = sd.User.ID
	}
	out["iat"], out["exp"], out["iss"], out["aud"] = iat, exp, p.iss, p.aud
	b, err := json.Marshal(out)
	if err != nil {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: payload: %w", err))
	}
	return b, nil
}

// Verify checks a token minted by this plugin (or by Better Auth sharing
// the key table) as a [verify.Verifier] does: signature against the
// current and still-published keys, exp/nbf with 30s leeway, iss and aud
// as the plugin writes them, kid and sub present. It reads keys from the
// plugin's cache, so in-process verification needs no HTTP round trip.
// Every error is a *verify.Error (a storage failure is
// verify.ErrKeySetUnavailable, with the cause).
func (p *Plugin) Verify(ctx context.Context, token string) (*verify.Claims, error) {
	if p.verifier == nil {
		return nil, &verify.Error{Code: verify.ErrKeySetUnavailable.Code, Message: verify.ErrKeySetUnavailable.Message, Err: errNotInitialized}
	}
	return p.verifier.Verify(ctx, token)
}
