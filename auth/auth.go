package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/managarten/mana-auth/keyring"
	"github.com/managarten/mana-auth/plugin"

	"github.com/managarten/mana-auth/internal/cookiecodec"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
)

// Auth is an authentication service: the Go methods of every operation and
// the http.Handler that serves them under Config.BasePath. Build one with
// New; it is safe for concurrent use.
type Auth struct {
	// endpoints are the mounted endpoints with their plugin ("" for the
	// core); errorsOf the declared error codes by plugin.
	endpoints      []plugin.MountedEndpoint
	errorsOf       map[string][]*Error
	sessionSources []plugin.SessionSource

	cfg     Config
	db      storage.Adapter
	schema  storage.Schema
	plugins []Plugin
	log     *slog.Logger
	now     func() time.Time
	secret  []byte                      // the current secret (keys.Current())
	keys    *keyring.Ring               // every secret, for data at rest
	jweKeys func() []cookiecodec.JWEKey // the cookie cache's JWE keys, derived once

	hasher    Hasher
	hashGate  *hashGate
	dummyHash string

	mail      *mailQueue
	sessions  *sessionLoader // nil: one read per session lookup
	hooks     []plugin.Hooks
	data      []plugin.DataSource
	router    *router
	limiter   *ratelimit.Limiter // nil when disabled
	origins   *originMatcher
	proxies   []netip.Prefix
	cookieSec bool

	// sessionLookups and sessionReads count the session lookups in the
	// database and the reads that answered them (Stats).
	sessionLookups, sessionReads atomic.Uint64
}

// New builds an Auth from cfg over the storage adapter db, with plugins.
// It validates the configuration, assembles the schema (core tables plus
// every plugin's) and binds it to db, and calls each plugin's Init. It does
// not touch the database: call Migrate to create the tables.
func New(cfg Config, db storage.Adapter, plugins ...Plugin) (*Auth, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	keys, err := keyring.New(cfg.Secret, cfg.Secrets)
	if err != nil {
		return nil, err
	}
	if db == nil {
		return nil, errors.New("auth: a storage adapter is required")
	}
	a := &Auth{
		cfg: cfg, db: db, plugins: plugins, log: cfg.Logger, now: cfg.Now,
		keys: keys, secret: []byte(keys.Current()), hasher: cfg.Hasher,
		hashGate:  newHashGate(cfg),
		cookieSec: *cfg.Cookies.Secure,
		mail:      newMailQueue(cfg),
	}
	if !cfg.Session.DisableLookupBatching {
		a.sessions = newSessionLoader(db, &a.sessionReads)
	}
	a.jweKeys = sync.OnceValue(a.deriveJWEKeys)
	if a.origins, err = newOriginMatcher(cfg.BaseURL, cfg.TrustedOrigins); err != nil {
		return nil, err
	}
	for _, p := range cfg.TrustedProxies {
		pfx, _ := parsePrefix(p)
		a.proxies = append(a.proxies, pfx)
	}

	a.schema = CoreSchema()
	seen := map[string]bool{}
	codes := errorCodes{}
	if err := codes.add("the core", coreErrors()); err != nil {
		return nil, err
	}
	a.errorsOf = map[string][]*Error{"": coreErrors()}
	for _, p := range plugins {
		if p == nil || p.ID() == "" {
			return nil, errors.New("auth: plugin with empty ID")
		}
		if seen[p.ID()] {
			return nil, fmt.Errorf("auth: plugin %q registered twice", p.ID())
		}
		seen[p.ID()] = true
		if s, ok := p.(plugin.SchemaSource); ok {
			if err := a.schema.Merge(s.Schema()); err != nil {
				return nil, fmt.Errorf("auth: plugin %q: %w", p.ID(), err)
			}
		}
		if h, ok := p.(plugin.HookSource); ok {
			a.hooks = append(a.hooks, h.Hooks())
		}
		if e, ok := p.(plugin.ErrorSource); ok {
			if err := codes.add(fmt.Sprintf("plugin %q", p.ID()), e.ErrorCodes()); err != nil {
				return nil, err
			}
			a.errorsOf[p.ID()] = e.ErrorCodes()
		}
		if d, ok := p.(plugin.DataSource); ok {
			a.data = append(a.data, d)
		}
		if ss, ok := p.(plugin.SessionSource); ok {
			a.sessionSources = append(a.sessionSources, ss)
		}
	}
	if err := applyNaming(&a.schema, cfg); err != nil {
		return nil, err
	}
	if err := a.schema.Validate(); err != nil {
		return nil, err
	}
	if err := db.Bind(a.schema.Clone()); err != nil {
		return nil, fmt.Errorf("auth: binding schema: %w", err)
	}

	if a.dummyHash, err = a.hasher.Hash("dummy-password-for-timing"); err != nil {
		return nil, fmt.Errorf("auth: hasher: %w", err)
	}

	a.limiter = newLimiter(cfg.RateLimit, plugins, a.now)

	a.router = newRouter()
	for _, e := range a.coreEndpoints() {
		if err := a.router.add(cfg.BasePath, e, a.serveEndpoint); err != nil {
			return nil, err
		}
		a.endpoints = append(a.endpoints, plugin.MountedEndpoint{Endpoint: e})
	}
	for _, p := range plugins {
		if es, ok := p.(plugin.EndpointSource); ok {
			for _, e := range es.Endpoints() {
				if err := a.router.add(cfg.BasePath, e, a.serveEndpoint); err != nil {
					return nil, fmt.Errorf("auth: plugin %q: %w", p.ID(), err)
				}
				a.endpoints = append(a.endpoints, plugin.MountedEndpoint{Endpoint: e, PluginID: p.ID()})
			}
		}
	}
	for _, p := range plugins {
		if in, ok := p.(plugin.Initializer); ok {
			if err := in.Init(host{a}); err != nil {
				return nil, fmt.Errorf("auth: plugin %q: %w", p.ID(), err)
			}
		}
	}
	return a, nil
}

// Config returns the configuration in force, defaults filled in.
func (a *Auth) Config() Config { return a.cfg }

// Schema returns a copy of the assembled schema (core and plugin tables).
func (a *Auth) Schema() storage.Schema { return a.schema.Clone() }

// clockNow returns the current time as the Auth sees it (UTC, milliseconds).
func (a *Auth) clockNow() time.Time { return ms(a.now()) }

// currentSecret returns the current secret (the first of Config.Secrets, else
// Config.Secret): the one that signs cookies and tokens, for plugins that
// derive HMAC keys from it. To seal or open data at rest use Keyring,
// which also reads what older secrets sealed.
func (a *Auth) currentSecret() string { return a.keys.Current() }

// pluginByID returns the plugin with the given ID, or nil.
func (a *Auth) pluginByID(id string) Plugin {
	for _, p := range a.plugins {
		if p.ID() == id {
			return p
		}
	}
	return nil
}

// Migrate creates or upgrades the tables of the schema, if the adapter can
// (storage.Migrator); otherwise it does nothing.
func (a *Auth) Migrate(ctx context.Context) error {
	if m, ok := a.db.(storage.Migrator); ok {
		return m.Migrate(ctx, a.schema.Clone())
	}
	return nil
}

// Handler returns the http.Handler serving every route under BasePath.
// Requests outside BasePath answer 404, so it can be mounted at "/" or at
// BasePath + "/" of a larger mux.
func (a *Auth) Handler() http.Handler { return http.HandlerFunc(a.serveHTTP) }
