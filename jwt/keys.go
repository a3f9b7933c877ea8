package jwt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
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
// crv. A key is live while expiresAt is null or ahead, and published (in
// the JWKS, and accepted by Plugin.Verify) until expiresAt + GracePeriod.
//
// Publish before signing. A key signs only once it has been published
// for the activation delay (Options.KeyActivationDelay, by default
// KeyCacheTTL + JWKSMaxAge): by then every instance's JWKS lists it (each
// rereads the table within KeyCacheTTL) and no JWKS fetched before it
// existed is still fresh in a cache that honours max-age. The signing key
// is the newest live key created at least the activation delay ago; when
// there is none, the oldest live key, the one published longest. Keys
// whose private key this instance cannot decrypt are passed over while
// another can sign. RotateKeys therefore sets the expiresAt of the keys it
// retires to now + the activation delay, so that they sign until the new
// key takes over; with KeyRotationInterval the successor of an expiring
// key is created early enough (activation delay + KeyCacheTTL before the
// expiry) to be active when the old key expires.
//
// A key signs before every instance lists it only when nothing else can
// sign: the first key of an empty table, a key made after every key had
// expired (KeyRotationInterval with no request in the last minutes of a
// key's life), or one RotateKeys made while the retired keys cannot be
// decrypted here. The instance that made it lists it at once, the others
// within KeyCacheTTL. Two instances racing on an empty table may each
// create a key (creation runs under the plugin's mutex and in a
// transaction that re-reads the table, so one process never creates two):
// both are published, each instance signs with the older one it has read
// until the newer is active, then all sign with the newer.
//
// Each instance keeps one snapshot of the table in memory (keyCache): the
// parsed public keys, the signing keys (decrypted once), and the JWKS
// document exactly as GET /jwks serves it, with its ETag. No request reads
// the table while the snapshot is fresh. After half of KeyCacheTTL the
// first request to get the plugin's mutex rereads the table while the
// others are answered from the snapshot; after three quarters of it (or
// when a published key reaches the end of its grace period, or a key must
// be created) requests wait for that one reread. So a key another instance
// created is listed here within KeyCacheTTL of its commit, the remaining
// quarter leaving room for clock skew and commit latency. This instance's
// own changes (RotateKeys, creating the first key or a successor) replace
// the snapshot at once. A reread that fails is logged and the last
// snapshot kept; the next try comes a second later.

type keyCache struct {
	loadedAt time.Time // when the table was read (taken before the read)
	softAt   time.Time // from then on, one request rereads the table
	hardAt   time.Time // from then on, requests wait for a reread
	rotateAt time.Time // when a new key is due (see rotateAt); zero: no live key

	signers []*signingKey // live EdDSA keys, oldest first
	public  map[string]publicKey

	// From loadedAt until stableUntil (the first of softAt, hardAt, a due
	// rotation and a key's activation or expiry) nothing is due and
	// signerAt is current: the hot path of Mint and GET /jwks.
	current     *signingKey
	stableUntil time.Time

	doc  []byte // the JWKS document GET /jwks serves
	etag string // strong ETag of doc, quoted
}

type signingKey struct {
	id        string
	priv      ed25519.PrivateKey // nil when err is set
	err       error              // why this instance cannot sign with the key
	header    string             // base64url protected header
	activeAt  time.Time          // createdAt + the activation delay
	expiresAt time.Time          // zero: no expiry
	memo      *tokenMemo         // this key's tokens of the current second
}

type publicKey struct {
	key   ed25519.PublicKey
	until time.Time // end of publication (expiresAt + grace); zero: none
}

func (k *signingKey) live(now time.Time) bool {
	return k.expiresAt.IsZero() || k.expiresAt.After(now)
}

// signerAt returns the key that signs at now: the newest live key that is
// active, else the oldest live one (the one published longest), preferring
// keys this instance can decrypt; nil if no key is live.
func (c *keyCache) signerAt(now time.Time) *signingKey {
	var pending, activeBroken, pendingBroken *signingKey
	for i := len(c.signers) - 1; i >= 0; i-- {
		k := c.signers[i]
		if !k.live(now) {
			continue
		}
		isActive := !k.activeAt.After(now)
		switch {
		case k.err == nil && isActive:
			return k
		case k.err == nil:
			pending = k
		case isActive:
			if activeBroken == nil {
				activeBroken = k
			}
		default:
			pendingBroken = k
		}
	}
	switch {
	case pending != nil:
		return pending
	case activeBroken != nil:
		return activeBroken
	}
	return pendingBroken
}

// want is what a caller of keys needs of the snapshot.
type want int

const (
	wantKeys   want = iota // the public keys (Plugin.Verify)
	wantDoc                // the JWKS document; creates the first key or a due successor
	wantSigner             // a signing key (Mint), created if none is live
)

// due reports whether the snapshot should be reread (soft: by one
// request, the others using it meanwhile) or must be (hard: the caller
// waits for it). For callers that create keys, no live key or a due
// successor makes a reread hard.
func (c *keyCache) due(now time.Time, w want) (soft, hard bool) {
	switch {
	case c.stable(now) && (w == wantKeys || c.current != nil):
		return false, false
	case c == nil || !now.Before(c.hardAt):
		return true, true
	case w != wantKeys && c.signerAt(now) == nil:
		return true, true
	case w != wantKeys && !now.Before(c.rotateAt) && c.loadedAt.Before(c.rotateAt):
		return true, true
	}
	return !now.Before(c.softAt), false
}

// stable reports whether now lies in [loadedAt, stableUntil).
func (c *keyCache) stable(now time.Time) bool {
	return c != nil && now.Before(c.stableUntil) && !now.Before(c.loadedAt)
}

// usable reports whether the snapshot can answer a caller when a reread
// failed: it exists and, for a caller that signs, has a signing key.
func (c *keyCache) usable(now time.Time, w want) bool {
	return c != nil && (w != wantSigner || c.signerAt(now) != nil)
}

// loadFailure is the last failed reread, which holds off the next one for
// retryAfterFailure.
type loadFailure struct {
	at  time.Time
	err error
}

const retryAfterFailure = time.Second

func (p *Plugin) recentFailure(now time.Time) *loadFailure {
	f := p.failed.Load()
	if f != nil && now.Sub(f.at) < retryAfterFailure && !now.Before(f.at) {
		return f
	}
	return nil
}

// keys returns the snapshot, rereading the table when it is due (see Key
// lifecycle).
func (p *Plugin) keys(ctx context.Context, now time.Time, w want) (*keyCache, error) {
	c := p.cache.Load()
	soft, hard := c.due(now, w)
	if !soft {
		return c, nil
	}
	if !hard {
		// One request rereads; the others are answered from the snapshot.
		if p.recentFailure(now) != nil || !p.mu.TryLock() {
			return c, nil
		}
		defer p.mu.Unlock()
		if c2 := p.cache.Load(); c2 != c {
			return c2, nil
		}
		_ = p.reload(ctx, c, now, w) // logged; a failure keeps c
		return p.cache.Load(), nil   // the new snapshot, or c if the table could not be read
	}
	if p.recentFailure(now) != nil && c.usable(now, w) {
		return c, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c2 := p.cache.Load(); c2 != c {
		c = c2
		if _, hard := c.due(now, w); !hard {
			return c, nil
		}
	}
	if f := p.recentFailure(now); f != nil {
		if c.usable(now, w) {
			return c, nil
		}
		return nil, f.err
	}
	if err := p.reload(ctx, c, now, w); err != nil {
		if c = p.cache.Load(); c.usable(now, w) {
			return c, nil
		}
		return nil, err
	}
	return p.cache.Load(), nil
}

// reload is load for a snapshot that is due: a failure is logged and
// holds off the next reread (unless the caller's context ended: that is
// not the table's fault). p.mu must be held.
func (p *Plugin) reload(ctx context.Context, prev *keyCache, now time.Time, w want) error {
	err := p.load(ctx, now, w != wantKeys)
	if err == nil {
		p.failed.Store(nil)
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	p.failed.Store(&loadFailure{at: now, err: err})
	if prev != nil {
		p.a.Logger().ErrorContext(ctx, "jwt: rereading the key table failed; serving the keys read before",
			"readAt", prev.loadedAt, "err", err)
	} else {
		p.a.Logger().ErrorContext(ctx, "jwt: reading the key table failed", "err", err)
	}
	return err
}

// signer returns the signing key at now.
func (p *Plugin) signer(ctx context.Context, now time.Time) (*signingKey, error) {
	c, err := p.keys(ctx, now, wantSigner)
	if err != nil {
		return nil, err
	}
	k := c.current
	if !c.stable(now) {
		k = c.signerAt(now)
	}
	if k == nil {
		return nil, plugin.ErrInternal.With(errors.New("jwt: no live signing key after creating one (clock skew?)"))
	}
	if k.err != nil {
		return nil, k.err
	}
	return k, nil
}

var byCreatedAt = storage.Query{Sort: []storage.Sort{{Field: "createdAt"}, {Field: "id"}}}

// load reads the key table into a new snapshot and stores it, creating a
// key when create is set and no key is live or a successor is due. If the
// table was read but the creation failed, the snapshot of what was read is
// stored and the error returned. p.mu must be held.
func (p *Plugin) load(ctx context.Context, now time.Time, create bool) error {
	db := p.a.DB()
	rows, err := db.FindMany(ctx, TableJWKS, byCreatedAt)
	if err != nil {
		return plugin.StorageError(err)
	}
	var createErr error
	if create && p.keyNeeded(rows, now) {
		createErr = db.Tx(ctx, func(tx storage.Adapter) error {
			rows, err := tx.FindMany(ctx, TableJWKS, byCreatedAt)
			if err != nil {
				return err
			}
			if !p.keyNeeded(rows, now) { // created meanwhile elsewhere
				return nil
			}
			return tx.Create(ctx, TableJWKS, p.newKeyRecord(now))
		})
		if createErr == nil {
			if rows, err = db.FindMany(ctx, TableJWKS, byCreatedAt); err != nil {
				return plugin.StorageError(err)
			}
		}
	}
	p.cache.Store(p.build(ctx, rows, now))
	if createErr != nil {
		return plugin.StorageError(createErr)
	}
	return nil
}

// keyNeeded reports whether a key must be created: no live key is left
// that is not due for a successor.
func (p *Plugin) keyNeeded(rows []storage.Record, now time.Time) bool {
	at := p.rotateAt(rows, now)
	return at.IsZero() || !now.Before(at)
}

// rotateAt returns when a new key is due: the latest successorDue of the
// live keys; the zero time if none is live, and far in the future
// (noRotation) if a live key does not expire.
func (p *Plugin) rotateAt(rows []storage.Record, now time.Time) time.Time {
	var at time.Time
	for _, r := range rows {
		if !isEdDSA(r) || !rowLive(r, now) {
			continue
		}
		due := p.successorDue(r)
		if due.IsZero() {
			return noRotation
		}
		if due.After(at) {
			at = due
		}
	}
	return at
}

// noRotation is rotateAt's answer when a live key does not expire.
var noRotation = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// successorDue returns when the successor of a key that expires must be
// created: the activation delay + KeyCacheTTL before its expiry (so that
// the successor signs by then even if the first chance to create it comes
// KeyCacheTTL late), but not before the middle of the key's life.
func (p *Plugin) successorDue(r storage.Record) time.Time {
	exp := r.TimePtr("expiresAt")
	if exp == nil {
		return time.Time{}
	}
	lead := p.activation + p.opts.KeyCacheTTL
	if half := exp.Sub(r.Time("createdAt")) / 2; lead > half {
		lead = max(half, 0)
	}
	return exp.Add(-lead)
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

// build makes the snapshot of rows read at now: the JWKS document, the
// public keys and the live signing keys. Private keys are decrypted only
// for keys the previous snapshot did not hold; a key that cannot be
// decrypted keeps its error (Mint reports it if no other key can sign).
func (p *Plugin) build(ctx context.Context, rows []storage.Record, now time.Time) *keyCache {
	ttl := p.opts.KeyCacheTTL
	c := &keyCache{
		loadedAt: now,
		softAt:   now.Add(ttl / 2),
		hardAt:   now.Add(ttl - ttl/4),
		public:   make(map[string]publicKey, len(rows)),
	}
	prev := map[string]*signingKey{}
	if old := p.cache.Load(); old != nil {
		for _, k := range old.signers {
			prev[k.id] = k
		}
	}
	var doc bytes.Buffer
	doc.WriteString(`{"keys":[`)
	n := 0
	for _, r := range rows {
		until, ok := p.publishedUntil(r, now)
		if !ok {
			continue
		}
		id := r.String("id")
		entry, err := jwkEntry(r)
		if err != nil {
			p.a.Logger().WarnContext(ctx, "jwt: skipping key with invalid publicKey", "kid", id, "err", err)
			continue
		}
		if n > 0 {
			doc.WriteByte(',')
		}
		n++
		doc.Write(entry)
		if !until.IsZero() && until.Before(c.hardAt) {
			c.hardAt = until // the key leaves the document on time
		}
		pub, err := verify.ParseJWK([]byte(r.String("publicKey")))
		if err == nil {
			c.public[id] = publicKey{key: pub, until: until}
		}
		if !isEdDSA(r) || !rowLive(r, now) {
			continue // a key of another algorithm (Better Auth's RSA or EC keys) is listed, not used
		}
		k := &signingKey{id: id, activeAt: r.Time("createdAt").Add(p.activation)}
		if e := r.TimePtr("expiresAt"); e != nil {
			k.expiresAt = *e
		}
		switch old := prev[id]; {
		case err != nil:
			k.err = plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: publicKey is not an Ed25519 JWK", id))
		case old != nil && old.err == nil:
			k.priv, k.header, k.memo = old.priv, old.header, old.memo
		default:
			if k.priv, k.err = p.openPrivate(r, pub); k.err == nil {
				k.header, k.memo = headerFor(id), new(tokenMemo)
			}
		}
		c.signers = append(c.signers, k)
	}
	doc.WriteString(`]}`)
	c.doc = doc.Bytes()
	sum := sha256.Sum256(c.doc)
	c.etag = `"` + rawB64.EncodeToString(sum[:18]) + `"`
	c.rotateAt = p.rotateAt(rows, now) // zero: no live key; signerAt is nil then
	c.current = c.signerAt(now)
	c.stableUntil = c.softAt
	times := []time.Time{c.hardAt, c.rotateAt}
	for _, k := range c.signers {
		times = append(times, k.activeAt, k.expiresAt)
	}
	for _, t := range times {
		if t.After(now) && t.Before(c.stableUntil) {
			c.stableUntil = t
		}
	}
	return c
}

// openPrivate decrypts and parses a row's private key and checks it
// against its public key.
func (p *Plugin) openPrivate(r storage.Record, pub ed25519.PublicKey) (ed25519.PrivateKey, error) {
	id := r.String("id")
	plain, err := OpenColumn(p.a.Keyring(), r.String("privateKey"))
	if err != nil {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: cannot decrypt the private key; is the secret the one that encrypted it? (%w)", id, err))
	}
	priv, err := parsePrivateJWK(plain)
	if err != nil {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: private key: %w", id, err))
	}
	if !pub.Equal(priv.Public()) {
		return nil, plugin.ErrInternal.With(fmt.Errorf("jwt: key %s: private and public key do not match", id))
	}
	return priv, nil
}

// jwkEntry renders a row as Better Auth's JWKS lists it:
// {alg, crv, ...publicKey, kid}.
func jwkEntry(r storage.Record) ([]byte, error) {
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
		return nil, err
	}
	o.set("kid", mustJSON(r.String("id")))
	return o.appendJSON(nil), nil
}

// RotateKeys creates a new signing key and retires the live ones. The new
// key is published at once (this instance's JWKS lists it on return, the
// others' within KeyCacheTTL) and signs from Options.KeyActivationDelay
// after its creation, on every instance; until then the retired keys keep
// signing: their expiresAt becomes now + the activation delay, and they
// stay published for GracePeriod after it, so the tokens they signed keep
// verifying. (If no retired key can sign — none was live, or this
// instance cannot decrypt them — the new key signs at once.) It returns
// the new key id.
func (p *Plugin) RotateKeys(ctx context.Context) (string, error) {
	if p.a == nil {
		return "", errNotInitialized
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.a.Now()
	retire := now.Add(p.activation)
	rec := p.newKeyRecord(now)
	err := p.a.DB().Tx(ctx, func(tx storage.Adapter) error {
		rows, err := tx.FindMany(ctx, TableJWKS, byCreatedAt)
		if err != nil {
			return err
		}
		var live []any
		for _, r := range rows {
			if exp := r.TimePtr("expiresAt"); isEdDSA(r) && rowLive(r, now) && (exp == nil || exp.After(retire)) {
				live = append(live, r.String("id"))
			}
		}
		if len(live) > 0 {
			if _, err := tx.Update(ctx, TableJWKS, storage.Record{"expiresAt": retire},
				storage.Where{Field: "id", Op: storage.In, Value: live}); err != nil {
				return err
			}
		}
		return tx.Create(ctx, TableJWKS, rec)
	})
	if err != nil {
		return "", plugin.StorageError(err)
	}
	if err := p.load(ctx, now, false); err != nil {
		return "", err
	}
	p.failed.Store(nil)
	return rec.String("id"), nil
}

// JWKS returns the JSON Web Key Set document GET /jwks serves:
// {"keys":[{"alg":"EdDSA","crv":"Ed25519","x":…,"kty":"OKP","kid":…}]},
// every key whose expiresAt + GracePeriod is still ahead, oldest first,
// each rendered as Better Auth renders it ({alg, crv, …publicKey, kid}).
// The document is built when the table is read and served from memory
// (see Options.KeyCacheTTL); the first call creates the first key if
// there is none. The caller owns the returned slice.
func (p *Plugin) JWKS(ctx context.Context) ([]byte, error) {
	c, err := p.document(ctx)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(c.doc), nil
}

// document returns the snapshot holding the JWKS document.
func (p *Plugin) document(ctx context.Context) (*keyCache, error) {
	if p.a == nil {
		return nil, errNotInitialized
	}
	return p.keys(ctx, p.a.Now(), wantDoc)
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// publicKey is the verify.KeyFunc of Plugin.Verify: the snapshot's keys;
// an unknown kid rereads the table, at most once a second. A failed
// reread for an unknown kid is returned as is (verify.ErrKeySetUnavailable
// to the caller of Verify); known kids are answered from the last
// snapshot meanwhile.
func (p *Plugin) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	now := p.a.Now()
	c, err := p.keys(ctx, now, wantKeys)
	if err != nil {
		return nil, err
	}
	if pub, ok := lookupPublic(c, kid, now); ok || now.Sub(c.loadedAt) < selfVerifyMinReload {
		return pub, nil // nil: verify.ErrUnknownKey
	}
	if f := p.recentFailure(now); f != nil {
		return nil, f.err
	}
	p.mu.Lock()
	if p.cache.Load() == c { // nobody reread it meanwhile
		if err := p.reload(ctx, c, now, wantKeys); err != nil {
			p.mu.Unlock()
			return nil, err
		}
	}
	c = p.cache.Load()
	p.mu.Unlock()
	pub, _ := lookupPublic(c, kid, now)
	return pub, nil
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
