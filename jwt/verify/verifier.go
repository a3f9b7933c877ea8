package verify

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the verifier options.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultRefreshInterval    = 10 * time.Minute
	DefaultFetchTimeout       = 10 * time.Second
	DefaultMaxJWKSSize        = 256 << 10
)

// Verifier verifies tokens: compact JWS, alg EdDSA (or its RFC 9864 name
// Ed25519; nothing else, never "none", HS* or RS*), a kid naming a known
// Ed25519 key, a valid signature, exp (required) and nbf within the leeway,
// sub present, and iss / aud when expected values are configured. Header
// parameters that carry keys (jku, x5u, jwk, x5c) are ignored.
//
// A Verifier is safe for concurrent use. Build one with New (keys from a
// JWKS URL), NewStatic (fixed keys) or NewKeyFunc (keys from a function;
// the jwt plugin's Plugin.Verify is one over its key table).
type Verifier struct {
	cfg    config
	keys   KeyFunc
	remote *remoteKeys // the key source of New; nil otherwise
	// hdr is the header of the last token that verified, so that the
	// next tokens with the same header skip decoding it.
	hdr atomic.Pointer[knownHeader]
}

// KeyFunc returns the Ed25519 public key a token's kid names. It returns
// an *Error for a verdict about the token (ErrUnknownKey when there is no
// such key); any other error means the keys could not be read and becomes
// ErrKeySetUnavailable with it as the cause. A nil key without an error is
// ErrUnknownKey.
type KeyFunc func(ctx context.Context, kid string) (ed25519.PublicKey, error)

type config struct {
	issuer       string
	audiences    []string
	leeway       time.Duration
	now          func() time.Time
	maxTokenSize int

	client       *http.Client
	minRefresh   time.Duration
	refreshEvery time.Duration
	fetchTimeout time.Duration
	maxJWKSSize  int64
}

// Option configures a Verifier.
type Option func(*config)

// WithIssuer requires the "iss" claim to equal iss.
func WithIssuer(iss string) Option { return func(c *config) { c.issuer = iss } }

// WithAudience requires the "aud" claim to contain one of auds.
func WithAudience(auds ...string) Option {
	return func(c *config) { c.audiences = append([]string(nil), auds...) }
}

// WithLeeway sets the clock skew tolerated for exp and nbf. Default 30s.
func WithLeeway(d time.Duration) Option { return func(c *config) { c.leeway = d } }

// WithNow sets the clock (default time.Now), for tests and for checking
// old tokens. It also drives the JWKS refresh intervals.
func WithNow(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithMaxTokenSize sets the longest token accepted, in bytes; longer ones
// fail with ErrTokenTooLarge before any parsing. Default 8 KiB.
func WithMaxTokenSize(n int) Option { return func(c *config) { c.maxTokenSize = n } }

// WithHTTPClient sets the client that fetches the JWKS. Default: a client
// with a 10s timeout. Every fetch is also bounded by the fetch timeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.client = hc } }

// WithMinRefreshInterval sets how often, at most, the JWKS is fetched
// (an unknown kid triggers a fetch only if the last one is older). Default
// 30s.
func WithMinRefreshInterval(d time.Duration) Option {
	return func(c *config) { c.minRefresh = d }
}

// WithRefreshInterval sets the age after which the cached JWKS is
// refreshed in the background (while still being used), so keys removed
// from the JWKS stop verifying. Default 10 minutes.
func WithRefreshInterval(d time.Duration) Option {
	return func(c *config) { c.refreshEvery = d }
}

// WithFetchTimeout bounds one JWKS fetch. Default 10s.
func WithFetchTimeout(d time.Duration) Option {
	return func(c *config) { c.fetchTimeout = d }
}

// WithMaxJWKSSize bounds the JWKS response body; a larger one is refused.
// Default 256 KiB.
func WithMaxJWKSSize(n int64) Option { return func(c *config) { c.maxJWKSSize = n } }

func newConfig(opts []Option) config {
	c := config{
		leeway: DefaultLeeway, now: time.Now, maxTokenSize: DefaultMaxTokenSize,
		minRefresh: DefaultMinRefreshInterval, refreshEvery: DefaultRefreshInterval,
		fetchTimeout: DefaultFetchTimeout, maxJWKSSize: DefaultMaxJWKSSize,
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.maxTokenSize <= 0 {
		c.maxTokenSize = DefaultMaxTokenSize
	}
	if c.client == nil {
		c.client = &http.Client{Timeout: DefaultFetchTimeout}
	}
	if c.fetchTimeout <= 0 {
		c.fetchTimeout = DefaultFetchTimeout
	}
	if c.maxJWKSSize <= 0 {
		c.maxJWKSSize = DefaultMaxJWKSSize
	}
	if c.refreshEvery <= 0 {
		c.refreshEvery = DefaultRefreshInterval
	}
	return c
}

// New returns a verifier whose keys come from the JWKS at jwksURL
// (e.g. "https://auth.example.com/api/auth/jwks"). Nothing is fetched until
// the first Verify (or Refresh). The JWKS is cached; a token with an
// unknown kid triggers a refetch at most once per MinRefreshInterval, and
// a cached JWKS older than RefreshInterval is refreshed in the background.
// A failed fetch keeps the keys already known.
func New(jwksURL string, opts ...Option) (*Verifier, error) {
	u, err := url.Parse(jwksURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("jwt: JWKS URL %q must be an absolute http(s) URL", jwksURL)
	}
	v := &Verifier{cfg: newConfig(opts)}
	v.remote = &remoteKeys{url: u.String(), cfg: &v.cfg}
	v.keys = v.remote.key
	return v, nil
}

// NewStatic returns a verifier over fixed keys (kid to Ed25519 public
// key), e.g. from ParseJWKS. It never fetches anything. Keys of the wrong
// size are an error.
func NewStatic(keys map[string]ed25519.PublicKey, opts ...Option) (*Verifier, error) {
	m := make(map[string]ed25519.PublicKey, len(keys))
	for kid, k := range keys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwt: key %q is not an Ed25519 public key", kid)
		}
		m[kid] = k
	}
	return NewKeyFunc(func(_ context.Context, kid string) (ed25519.PublicKey, error) {
		return m[kid], nil // nil: ErrUnknownKey
	}, opts...)
}

// NewKeyFunc returns a verifier whose keys come from keys, for key sources
// of your own (the jwt plugin verifies its tokens against its key table
// this way). The JWKS options (WithHTTPClient, WithFetchTimeout, …) do not
// apply.
func NewKeyFunc(keys KeyFunc, opts ...Option) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("jwt: NewKeyFunc needs a KeyFunc")
	}
	return &Verifier{cfg: newConfig(opts), keys: keys}, nil
}

// Verify checks token and returns its claims. Every failure is an *Error
// matching one of the Err* values (errors.Is); Verify never panics on any
// input.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if v == nil || v.keys == nil {
		return nil, ErrKeySetUnavailable.with("nil verifier", nil)
	}
	known := v.hdr.Load()
	t, err := parseJWS(token, v.cfg.maxTokenSize, known)
	if err != nil {
		return nil, err
	}
	key, err := v.keys(ctx, t.kid)
	if err != nil {
		return nil, asError(err)
	}
	switch len(key) {
	case ed25519.PublicKeySize:
	case 0:
		return nil, ErrUnknownKey
	default: // ed25519.Verify would panic
		return nil, ErrKeySetUnavailable.with("", fmt.Errorf("jwt: the key of kid %q is not an Ed25519 public key", t.kid))
	}
	if !t.verifySig(key) {
		return nil, ErrInvalidSignature
	}
	if known == nil || known.kid != t.kid {
		v.hdr.Store(t.header())
	}
	c, err := t.claims()
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (v *Verifier) checkClaims(c *Claims) error {
	now := v.cfg.now()
	if !now.Before(c.ExpiresAt.Add(v.cfg.leeway)) {
		return ErrTokenExpired
	}
	if !c.NotBefore.IsZero() && now.Add(v.cfg.leeway).Before(c.NotBefore) {
		return ErrTokenNotYetValid
	}
	if v.cfg.issuer != "" && c.Issuer != v.cfg.issuer {
		return ErrBadIssuer
	}
	if len(v.cfg.audiences) > 0 && !slices.ContainsFunc(c.Audience, func(a string) bool {
		return slices.Contains(v.cfg.audiences, a)
	}) {
		return ErrBadAudience
	}
	return nil
}

// Refresh fetches the JWKS now (for a remote verifier; a no-op otherwise),
// e.g. at startup to fail fast. It is subject to MinRefreshInterval like
// any fetch, except for the first one.
func (v *Verifier) Refresh(ctx context.Context) error {
	if v == nil || v.remote == nil {
		return nil
	}
	if err := v.remote.refresh(ctx, true); err != nil {
		return ErrKeySetUnavailable.with("", err)
	}
	return nil
}

// remoteKeys is the key source of a remote JWKS.
type remoteKeys struct {
	url string
	cfg *config

	keys atomic.Pointer[keySet]

	mu          sync.Mutex
	lastAttempt time.Time
	inflight    *fetchCall
}

type keySet struct {
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
}

type fetchCall struct {
	done chan struct{}
	err  error
}

var errRateLimited = errors.New("jwt: JWKS refresh rate-limited")

func (r *remoteKeys) key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	ks := r.keys.Load()
	if ks != nil {
		if k, ok := ks.keys[kid]; ok {
			if r.cfg.now().Sub(ks.fetchedAt) >= r.cfg.refreshEvery {
				r.refreshAsync()
			}
			return k, nil
		}
	}
	err := r.refresh(ctx, false)
	if ks = r.keys.Load(); ks != nil {
		if k, ok := ks.keys[kid]; ok {
			return k, nil
		}
	}
	if err == nil || (errors.Is(err, errRateLimited) && ks != nil) {
		return nil, ErrUnknownKey
	}
	return nil, ErrKeySetUnavailable.with("", err)
}

// refresh fetches the JWKS and waits for it (or for ctx). It refuses with
// errRateLimited when the last fetch started less than MinRefreshInterval
// ago, unless force is set and no key set was ever fetched. Concurrent
// callers share one fetch.
func (r *remoteKeys) refresh(ctx context.Context, force bool) error {
	r.mu.Lock()
	call := r.inflight
	if call == nil {
		now := r.cfg.now()
		if !r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.cfg.minRefresh && !(force && r.keys.Load() == nil) {
			r.mu.Unlock()
			return errRateLimited
		}
		r.lastAttempt = now
		call = r.start()
	}
	r.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refreshAsync starts a background fetch if none is running and the rate
// limit allows one.
func (r *remoteKeys) refreshAsync() {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.now()
	if r.inflight != nil || (!r.lastAttempt.IsZero() && now.Sub(r.lastAttempt) < r.cfg.minRefresh) {
		return
	}
	r.lastAttempt = now
	r.start()
}

// start launches a fetch in its own goroutine, detached from any caller's
// context (callers may give up waiting; the fetch is bounded by the fetch
// timeout). r.mu must be held.
func (r *remoteKeys) start() *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	r.inflight = call
	go func() {
		keys, err := r.fetch()
		if err == nil {
			r.keys.Store(&keySet{keys: keys, fetchedAt: r.cfg.now()})
		}
		r.mu.Lock()
		call.err = err
		r.inflight = nil
		r.mu.Unlock()
		close(call.done)
	}()
	return call
}

func (r *remoteKeys) fetch() (map[string]ed25519.PublicKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.cfg.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwt: fetching JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("jwt: fetching JWKS: HTTP status %d", resp.StatusCode)
	}
	if resp.ContentLength > r.cfg.maxJWKSSize {
		return nil, fmt.Errorf("jwt: JWKS too large (%d bytes)", resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.cfg.maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("jwt: reading JWKS: %w", err)
	}
	if int64(len(body)) > r.cfg.maxJWKSSize {
		return nil, fmt.Errorf("jwt: JWKS larger than %d bytes", r.cfg.maxJWKSSize)
	}
	return ParseJWKS(body)
}
