package jwt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/managarten/mana-auth/jwt/verify"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Key lifecycle.
//
// Rows of the "jwks" table are Better Auth's: id (the kid), publicKey (the
// public JWK as JSON text), privateKey (the private JWK sealed with the
// auth secret, JSON-quoted), createdAt, expiresAt (null: no expiry), alg,
// crv. Signing uses the newest live key (expiresAt null or in the future)
// whose alg is EdDSA (or null, Better Auth's legacy rows); when there is
// none, one is created. The JWKS publishes every key until expiresAt +
// GracePeriod.
//
// Each instance caches the parsed signing key and the public keys for
// KeyCacheTTL. Creation runs under the plugin's mutex and in a transaction
// that re-reads the table, so one process never creates two keys; two
// instances racing on an empty table may each create one, and both keys
// work (both are published; after KeyCacheTTL every instance signs with the
// newest).

type keyCache struct {
	loadedAt time.Time
	signer   *signingKey // newest live key at load time; nil if none
	public   map[string]publicKey
}

type signingKey struct {
	id        string
	priv      ed25519.PrivateKey
	header    string    // base64url protected header
	expiresAt time.Time // zero: no expiry
}

type publicKey struct {
	key   ed25519.PublicKey
	until time.Time // end of publication (expiresAt + grace); zero: none
}

func (k *signingKey) live(now time.Time) bool {
	return k != nil && (k.expiresAt.IsZero() || k.expiresAt.After(now))
}

func (c *keyCache) fresh(now time.Time, ttl time.Duration) bool {
	return c != nil && now.Sub(c.loadedAt) < ttl
}

// signer returns the signing key, from the cache when it is fresh and the
// key still live, else from the table (creating a key if none is live).
func (p *Plugin) signer(ctx context.Context, now time.Time) (*signingKey, error) {
	if c := p.cache.Load(); c.fresh(now, p.opts.KeyCacheTTL) && c.signer.live(now) {
		return c.signer, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.cache.Load(); c.fresh(now, p.opts.KeyCacheTTL) && c.signer.live(now) {
		return c.signer, nil
	}
	c, err := p.load(ctx, now, true)
	if err != nil {
		return nil, err
	}
	return c.signer, nil
}

var byCreatedAt = storage.Query{Sort: []storage.Sort{{Field: "createdAt"}, {Field: "id"}}}

// load reads the key table into a new cache, creating a signing key when
// none is live and create is set. p.mu must be held.
func (p *Plugin) load(ctx context.Context, now time.Time, create bool) (*keyCache, error) {
	db := p.a.DB()
	rows, err := db.FindMany(ctx, TableJWKS, byCreatedAt)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	c, err := p.build(rows, now)
	if err != nil {
		return nil, err
	}
	if c.signer == nil && create {
		err := db.Tx(ctx, func(tx storage.Adapter) error {
			rows, err := tx.FindMany(ctx, TableJWKS, byCreatedAt)
			if err != nil {
				return err
			}
			if newestLive(rows, now) != nil { // created meanwhile elsewhere
				return nil
			}
			return tx.Create(ctx, TableJWKS, p.newKeyRecord(now))
		})
		if err != nil {
			return nil, plugin.StorageError(err)
		}
		if rows, err = db.FindMany(ctx, TableJWKS, byCreatedAt); err != nil {
			return nil, plugin.StorageError(err)
		}
		if c, err = p.build(rows, now); err != nil {
			return nil, err
		}
		if c.signer == nil {
			return nil, plugin.ErrInternal.With(errors.New("jwt: no live signing key after creating one (clock skew?)"))
		}
	}
	p.cache.Store(c)
	return c, nil
}

// newKeyRecord generates an Ed25519 key pair and returns its row.
func (p *Plugin) newKeyRecord(now time.Time) storage.Record {
	pub, priv, _ := ed25519.GenerateKey(nil) // crypto/rand never fails
	var exp any
	if p.opts.KeyRotationInterval > 0 {
		exp = now.Add(p.opts.KeyRotationInterval)
	}
	return storage.Record{
		"id":         plugin.NewID(),
		"publicKey":  publicJWKJSON(pub),
		"privateKey": SealColumn(p.a.Keyring(), privateJWKJSON(priv)),
		"createdAt":  now,
		"expiresAt":  exp,
		"alg":        "EdDSA",
		"crv":        "Ed25519",
	}
}

// isEdDSA reports whether a row is a key of ours: alg EdDSA, or no alg
// (Better Auth's default for rows without one).
func isEdDSA(r storage.Record) bool {
	alg := r.StringPtr("alg")
	return alg == nil || *alg == "EdDSA" || *alg == "Ed25519"
}

func rowLive(r storage.Record, now time.Time) bool {
	exp := r.TimePtr("expiresAt")
	return exp == nil || exp.After(now)
}

// newestLive returns the newest live EdDSA row (rows sorted by createdAt).
func newestLive(rows []storage.Record, now time.Time) storage.Record {
	for i := len(rows) - 1; i >= 0; i-- {
		if isEdDSA(rows[i]) && rowLive(rows[i], now) {
			return rows[i]
		}
	}
	return nil
}

// publishedUntil returns the end of a row's publication (zero: forever)
// and whether it is still published at now.
func (p *Plugin) publishedUntil(r storage.Record, now time.Time) (time.Time, bool) {
	exp := r.TimePtr("expiresAt")
	if exp == nil {
		return time.Time{}, true
	}
	until := exp.Add(p.opts.GracePeriod)
	return until, until.After(now)
}

// build parses rows into a cache. The signing key is decrypted only when
// it changed since the previous cache.
func (p *Plugin) build(rows []storage.Record, now time.Time) (*keyCache, error) {
	c := &keyCache{loadedAt: now, public: make(map[string]publicKey, len(rows))}
	for _, r := range rows {
		until, ok := p.publishedUntil(r, now)
		if !ok {
			continue
		}
		if pub, err := verify.ParseJWK([]byte(r.String("publicKey"))); err == nil {
			c.public[r.String("id")] = publicKey{key: pub, until: until}
		}
	}
	r := newestLive(rows, now)
	if r == nil {
		return c, nil
	}
	id := r.String("id")
	pk, ok := c.public[id]
	if !ok {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: publicKey is not an Ed25519 JWK", id))
	}
	var exp time.Time
	if e := r.TimePtr("expiresAt"); e != nil {
		exp = *e
	}
	if prev := p.cache.Load(); prev != nil && prev.signer != nil && prev.signer.id == id {
		c.signer = &signingKey{id: id, priv: prev.signer.priv, header: prev.signer.header, expiresAt: exp}
		return c, nil
	}
	plain, err := OpenColumn(p.a.Keyring(), r.String("privateKey"))
	if err != nil {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: cannot decrypt the private key; is the secret the one that encrypted it? (%w)", id, err))
	}
	priv, err := parsePrivateJWK(plain)
	if err != nil {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: private key: %w", id, err))
	}
	if !pk.key.Equal(priv.Public()) {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: private and public key do not match", id))
	}
	c.signer = &signingKey{id: id, priv: priv, header: headerFor(id), expiresAt: exp}
	return c, nil
}

// RotateKeys retires every live signing key (its expiresAt becomes now, so
// it stays published for GracePeriod and tokens it signed keep verifying)
// and creates a new key, which signs from now on in this process (other
// instances switch within KeyCacheTTL). It returns the new key id.
func (p *Plugin) RotateKeys(ctx context.Context) (string, error) {
	if p.a == nil {
		return "", errNotInitialized
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.a.Now()
	rec := p.newKeyRecord(now)
	err := p.a.DB().Tx(ctx, func(tx storage.Adapter) error {
		rows, err := tx.FindMany(ctx, TableJWKS, byCreatedAt)
		if err != nil {
			return err
		}
		var live []any
		for _, r := range rows {
			if isEdDSA(r) && rowLive(r, now) {
				live = append(live, r.String("id"))
			}
		}
		if len(live) > 0 {
			if _, err := tx.Update(ctx, TableJWKS, storage.Record{"expiresAt": now},
				storage.Where{Field: "id", Op: storage.In, Value: live}); err != nil {
				return err
			}
		}
		return tx.Create(ctx, TableJWKS, rec)
	})
	if err != nil {
		return "", plugin.StorageError(err)
	}
	if _, err := p.load(ctx, now, true); err != nil {
		return "", err
	}
	return rec.String("id"), nil
}

// JWKS returns the JSON Web Key Set document GET /jwks serves:
// {"keys":[{"alg":"EdDSA","crv":"Ed25519","x":…,"kty":"OKP","kid":…}]},
// every key whose expiresAt + GracePeriod is still ahead, oldest first,
// each rendered as Better Auth renders it ({alg, crv, …publicKey, kid}).
// It reads the table on every call, so a key created by any instance is
// published at once; it creates the first key if there is none.
func (p *Plugin) JWKS(ctx context.Context) ([]byte, error) {
	if p.a == nil {
		return nil, errNotInitialized
	}
	now := p.a.Now()
	if _, err := p.signer(ctx, now); err != nil {
		// The JWKS can still be served; a storage failure shows below.
		p.a.Logger().ErrorContext(ctx, "jwt: loading the signing key", "err", err)
	}
	rows, err := p.a.DB().FindMany(ctx, TableJWKS, byCreatedAt)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	n := 0
	for _, r := range rows {
		if _, ok := p.publishedUntil(r, now); !ok {
			continue
		}
		var o orderedObject
		alg := "EdDSA"
		if a := r.StringPtr("alg"); a != nil {
			alg = *a
		}
		o.set("alg", mustJSON(alg))
		if c := r.StringPtr("crv"); c != nil {
			o.set("crv", mustJSON(*c))
		} else {
			o.set("crv", nil) // position kept for a crv from publicKey
		}
		if err := o.merge([]byte(r.String("publicKey"))); err != nil {
			p.a.Logger().WarnContext(ctx, "jwt: skipping key with invalid publicKey", "kid", r.String("id"), "err", err)
			continue
		}
		o.set("kid", mustJSON(r.String("id")))
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.Write(o.appendJSON(nil))
	}
	b.WriteString(`]}`)
	return b.Bytes(), nil
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// publicKey is the verify.KeyFunc of Plugin.Verify: the plugin's cache,
// reloaded when stale, or at most once per second for an unknown kid. A
// load failure is returned as is (verify.ErrKeySetUnavailable to the
// caller of Verify).
func (p *Plugin) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	now := p.a.Now()
	c := p.cache.Load()
	_, known := lookupPublic(c, kid, now)
	if !c.fresh(now, p.opts.KeyCacheTTL) || (!known && now.Sub(c.loadedAt) >= selfVerifyMinReload) {
		p.mu.Lock()
		if c2 := p.cache.Load(); c2 == c { // nobody reloaded meanwhile
			var err error
			if c, err = p.load(ctx, now, false); err != nil {
				p.mu.Unlock()
				return nil, err
			}
		} else {
			c = c2
		}
		p.mu.Unlock()
	}
	pub, _ := lookupPublic(c, kid, now)
	return pub, nil // nil: verify.ErrUnknownKey
}

func lookupPublic(c *keyCache, kid string, now time.Time) (ed25519.PublicKey, bool) {
	if c == nil {
		return nil, false
	}
	pk, ok := c.public[kid]
	if !ok || (!pk.until.IsZero() && !pk.until.After(now)) {
		return nil, false
	}
	return pk.key, true
}
