package apikey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"
	"unicode/utf16"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// keyLetters is the alphabet of a key's random part, Better Auth's
// generateRandomString(length, "a-z", "A-Z").
const keyLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// defaultConfigID is the configId of every key (Better Auth's default
// configuration; this plugin has one).
const defaultConfigID = "default"

// sweepEvery is how often the routes delete expired keys at most, as
// Better Auth's deleteAllExpiredApiKeys (10 seconds).
const sweepEvery = 10 * time.Second

// CreateInput is what CreateKey is given. The server may set every
// property; the HTTP route lets a client set only Name, ExpiresIn,
// Prefix and Metadata.
type CreateInput struct {
	// UserID is the user the key belongs to (required).
	UserID string
	// Name names the key (nil: no name).
	Name *string
	// ExpiresIn is the key's lifetime, between Options.MinExpiresIn and
	// MaxExpiresIn (nil: Options.DefaultExpiresIn).
	ExpiresIn *time.Duration
	// Prefix starts the key instead of Options.DefaultPrefix (letters,
	// digits, "_" and "-").
	Prefix string
	// Metadata is a JSON object kept with the key (Options.EnableMetadata).
	Metadata json.RawMessage
	// Remaining is the number of uses the key has (nil: unlimited).
	Remaining *int64
	// RefillAmount and RefillInterval, set together, refill Remaining to
	// RefillAmount once RefillInterval has passed since the last refill
	// (or the creation).
	RefillAmount   *int64
	RefillInterval *time.Duration
	// RateLimitEnabled, RateLimitTimeWindow and RateLimitMax override the
	// options' rate limit for this key.
	RateLimitEnabled    *bool
	RateLimitTimeWindow *time.Duration
	RateLimitMax        *int64
	// Permissions are the key's permissions (nil: the options'
	// DefaultPermissions).
	Permissions Permissions
}

// CreateKey creates a key for in.UserID with the server-only properties
// Better Auth's server API allows. The key itself is in the result only.
func (p *Plugin) CreateKey(ctx context.Context, in CreateInput) (*NewKey, error) {
	if in.UserID == "" {
		return nil, ErrUnauthorizedSession
	}
	if _, err := p.h.FindUserByID(ctx, in.UserID); err != nil {
		return nil, err
	}
	if in.Remaining != nil && *in.Remaining < 0 {
		return nil, ErrInvalidRemaining
	}
	if in.RefillAmount != nil && *in.RefillAmount < 1 {
		return nil, ErrInvalidRemaining.WithMessage("refillAmount must be at least 1")
	}
	for _, d := range []*time.Duration{in.RefillInterval, in.RateLimitTimeWindow} {
		if d != nil && (*d < 0 || *d > maxDuration) {
			return nil, plugin.ErrValidation.WithMessage("refillInterval and rateLimitTimeWindow must be between 0 and 100 years")
		}
	}
	if in.RateLimitMax != nil && *in.RateLimitMax < 0 {
		return nil, plugin.ErrValidation.WithMessage("rateLimitMax must not be negative")
	}
	if in.Prefix != "" && !prefixPattern.MatchString(in.Prefix) {
		return nil, errPrefixFormat()
	}
	if in.ExpiresIn != nil && *in.ExpiresIn < time.Second {
		return nil, ErrExpiresInTooSmall
	}
	var meta json.RawMessage
	if len(in.Metadata) > 0 {
		if !json.Valid(in.Metadata) {
			return nil, ErrInvalidMetadataType
		}
		meta = in.Metadata
	}
	a := createArgs{userID: in.UserID, name: in.Name, expiresIn: in.ExpiresIn, prefix: in.Prefix, metadata: meta,
		remaining: in.Remaining, refillAmount: in.RefillAmount, refillInterval: in.RefillInterval,
		rateLimitEnabled: in.RateLimitEnabled, rateLimitMax: in.RateLimitMax, rateLimitWindow: in.RateLimitTimeWindow,
		permissions: in.Permissions}
	if err := checkPermissions(in.Permissions); err != nil {
		return nil, err
	}
	return p.create(ctx, a)
}

// createArgs are the checked inputs of create.
type createArgs struct {
	userID           string
	name             *string
	expiresIn        *time.Duration
	prefix           string
	metadata         json.RawMessage // the JSON value given, nil if none
	remaining        *int64
	refillAmount     *int64
	refillInterval   *time.Duration
	rateLimitEnabled *bool
	rateLimitMax     *int64
	rateLimitWindow  *time.Duration
	permissions      Permissions
}

// create is Better Auth's create-api-key after its authorization checks,
// in its order.
func (p *Plugin) create(ctx context.Context, a createArgs) (*NewKey, error) {
	o := &p.opts
	if jsTruthy(a.metadata) {
		if !o.EnableMetadata {
			return nil, ErrMetadataDisabled
		}
		if !jsObject(a.metadata) {
			return nil, ErrInvalidMetadataType
		}
	}
	amount := a.refillAmount != nil && *a.refillAmount != 0
	interval := a.refillInterval != nil && *a.refillInterval != 0
	if amount && !interval {
		return nil, ErrRefillAmountAndIntervalRequired
	}
	if interval && !amount {
		return nil, ErrRefillIntervalAndAmountRequired
	}
	if a.expiresIn != nil && *a.expiresIn != 0 {
		if err := p.checkExpiresIn(*a.expiresIn); err != nil {
			return nil, err
		}
	}
	if a.prefix != "" && (len(a.prefix) < o.MinPrefixLength || len(a.prefix) > o.MaxPrefixLength) {
		return nil, ErrInvalidPrefixLength
	}
	if a.name != nil && *a.name != "" {
		if n := jsLen(*a.name); n < o.MinNameLength || n > o.MaxNameLength {
			return nil, ErrInvalidNameLength
		}
	} else if o.RequireName {
		return nil, ErrNameRequired
	}
	if a.name != nil && !storage.Storable(*a.name) {
		return nil, plugin.ErrInvalidInput
	}
	if jsTruthy(a.metadata) && !storage.Storable(string(a.metadata)) {
		return nil, plugin.ErrInvalidInput
	}
	p.sweep(ctx)

	prefix := a.prefix
	if prefix == "" {
		prefix = o.DefaultPrefix
	}
	secret := prefix + plugin.RandomString(o.DefaultKeyLength, keyLetters)
	now := p.now()
	rec := storage.Record{
		"id": plugin.NewID(), "configId": defaultConfigID, "createdAt": now, "updatedAt": now,
		"name": nil, "prefix": nil, "start": nil, "key": hashKey(secret), "enabled": true, "expiresAt": nil,
		"referenceId": a.userID, "lastRefillAt": nil, "lastRequest": nil, "metadata": nil,
		"rateLimitMax": int64(o.RateLimitMax), "rateLimitTimeWindow": o.RateLimitWindow.Milliseconds(),
		"remaining": nil, "refillAmount": nil, "refillInterval": nil, "rateLimitEnabled": !o.RateLimitDisabled,
		"requestCount": int64(0), "permissions": nil,
	}
	if a.name != nil {
		rec["name"] = *a.name
	}
	if prefix != "" {
		rec["prefix"] = prefix
	}
	if !o.DisableStart {
		rec["start"] = secret[:min(o.StartLength, len(secret))]
	}
	switch {
	case a.expiresIn != nil && *a.expiresIn != 0:
		rec["expiresAt"] = now.Add(*a.expiresIn).Truncate(time.Millisecond)
	case o.DefaultExpiresIn > 0:
		rec["expiresAt"] = now.Add(o.DefaultExpiresIn).Truncate(time.Millisecond)
	}
	if jsTruthy(a.metadata) {
		rec["metadata"] = compact(a.metadata)
	}
	if a.rateLimitMax != nil {
		rec["rateLimitMax"] = *a.rateLimitMax
	}
	if a.rateLimitWindow != nil {
		rec["rateLimitTimeWindow"] = a.rateLimitWindow.Milliseconds()
	}
	if a.remaining != nil {
		rec["remaining"] = *a.remaining
	}
	if a.refillAmount != nil {
		rec["refillAmount"] = *a.refillAmount
	}
	if a.refillInterval != nil {
		rec["refillInterval"] = a.refillInterval.Milliseconds()
	}
	if a.rateLimitEnabled != nil {
		rec["rateLimitEnabled"] = *a.rateLimitEnabled
	}
	perms := a.permissions
	if perms == nil {
		perms = o.DefaultPermissions
	}
	if perms != nil { // {} too: it is truthy in JavaScript
		js, _ := json.Marshal(perms)
		rec["permissions"] = string(js)
	}
	if err := p.h.DB().Create(ctx, TableAPIKey, rec); err != nil {
		return nil, plugin.StorageError(err)
	}
	k := keyFromRecord(rec)
	k.Metadata = nil
	if len(a.metadata) > 0 && string(a.metadata) != "null" { // Better Auth answers the metadata given, stored or not
		k.Metadata = json.RawMessage(compact(a.metadata))
	}
	return &NewKey{Key: k, Secret: secret}, nil
}

// checkExpiresIn applies the options' bounds to an expiresIn.
func (p *Plugin) checkExpiresIn(d time.Duration) error {
	switch {
	case p.opts.DisableCustomExpiresIn:
		return ErrKeyDisabledExpiration
	case d < p.opts.MinExpiresIn:
		return ErrExpiresInTooSmall
	case d > p.opts.MaxExpiresIn:
		return ErrExpiresInTooLarge
	}
	return nil
}

// GetKey returns the user's key with the id; another user's, like an
// unknown id, is ErrKeyNotFound.
func (p *Plugin) GetKey(ctx context.Context, userID, id string) (*Key, error) {
	rec, err := p.h.DB().FindOne(ctx, TableAPIKey, storage.W("id", id), storage.W("referenceId", userID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	p.sweep(ctx)
	return keyFromRecord(rec), nil
}

// defaultConfig reports whether a row belongs to Better Auth's default
// configuration (its configIdMatches with "default"). The plugin has
// that one configuration: it serves every row as its own, and only a
// list asked for another configuration is filtered.
func defaultConfig(rec storage.Record) bool {
	c := rec.String("configId")
	return c == "" || c == defaultConfigID
}

// ListOptions are list's query: a page of the keys sorted by a field.
type ListOptions struct {
	// Limit and Offset select a page (nil: all, from the first).
	Limit, Offset *int
	// SortBy is the field to sort by (default createdAt), Desc the
	// direction.
	SortBy string
	Desc   bool
	// ConfigID keeps only the keys of that configuration ("" or
	// "default": this plugin's, which are all of them).
	ConfigID string
}

// KeyList is a page of keys, as list answers: {apiKeys, total, limit?,
// offset?}.
type KeyList struct {
	// Keys are the page's keys.
	Keys []*Key `json:"apiKeys"`
	// Total counts all the keys the query selects, before paging.
	Total int `json:"total"`
	// Limit and Offset echo the page asked for (omitted when not).
	Limit  *int `json:"limit,omitempty"`
	Offset *int `json:"offset,omitempty"`
}

// sortFields are the fields a list may be sorted by.
var sortFields = []string{"id", "configId", "name", "start", "referenceId", "prefix", "refillInterval",
	"refillAmount", "lastRefillAt", "enabled", "rateLimitEnabled", "rateLimitTimeWindow", "rateLimitMax",
	"requestCount", "remaining", "lastRequest", "expiresAt", "createdAt", "updatedAt"}

// ListKeys returns the user's keys: all of them (total) and the page
// opts selects.
func (p *Plugin) ListKeys(ctx context.Context, userID string, opts ListOptions) (*KeyList, error) {
	sortBy := opts.SortBy
	if sortBy == "" {
		sortBy = "createdAt"
	}
	if !slices.Contains(sortFields, sortBy) {
		return nil, plugin.ErrValidation.WithMessage("[query.sortBy] Invalid sort field")
	}
	out := &KeyList{Keys: []*Key{}, Limit: opts.Limit, Offset: opts.Offset}
	if opts.ConfigID != "" && opts.ConfigID != defaultConfigID {
		return out, nil
	}
	recs, err := p.h.DB().FindMany(ctx, TableAPIKey, storage.Query{
		Where: []storage.Where{storage.W("referenceId", userID)},
		Sort:  []storage.Sort{{Field: sortBy, Desc: opts.Desc}, {Field: "id", Desc: opts.Desc}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if opts.ConfigID != "" {
		recs = slices.DeleteFunc(recs, func(r storage.Record) bool { return !defaultConfig(r) })
	}
	out.Total = len(recs)
	if opts.Offset != nil {
		recs = recs[min(max(*opts.Offset, 0), len(recs)):]
	}
	if opts.Limit != nil {
		recs = recs[:min(max(*opts.Limit, 0), len(recs))]
	}
	p.sweep(ctx)
	for _, r := range recs {
		out.Keys = append(out.Keys, keyFromRecord(r))
	}
	return out, nil
}

// UpdateInput are the changes UpdateKey makes; nil fields are left as
// they are. The HTTP route lets a client change only Name, Enabled,
// ExpiresIn and Metadata.
type UpdateInput struct {
	// Name renames the key.
	Name *string
	// Enabled enables or disables the key.
	Enabled *bool
	// ExpiresIn sets the key to expire that long from now; 0 removes the
	// expiry.
	ExpiresIn *time.Duration
	// Metadata replaces the metadata with a JSON object, or removes it
	// with null (ignored unless Options.EnableMetadata).
	Metadata json.RawMessage
	// Remaining sets the uses left (at least 1).
	Remaining *int64
	// RefillAmount and RefillInterval, set together, change the refill.
	RefillAmount   *int64
	RefillInterval *time.Duration
	// RateLimitEnabled, RateLimitTimeWindow and RateLimitMax change the
	// key's rate limit.
	RateLimitEnabled    *bool
	RateLimitTimeWindow *time.Duration
	RateLimitMax        *int64
	// Permissions replaces the permissions; a pointer to nil removes
	// them.
	Permissions *Permissions
}

// UpdateKey changes the user's key with the id and returns it.
func (p *Plugin) UpdateKey(ctx context.Context, userID, id string, in UpdateInput) (*Key, error) {
	if in.Remaining != nil && *in.Remaining < 1 {
		return nil, ErrInvalidRemaining
	}
	for _, d := range []*time.Duration{in.RefillInterval, in.RateLimitTimeWindow} {
		if d != nil && (*d < 0 || *d > maxDuration) {
			return nil, plugin.ErrValidation.WithMessage("refillInterval and rateLimitTimeWindow must be between 0 and 100 years")
		}
	}
	if in.ExpiresIn != nil && *in.ExpiresIn != 0 && *in.ExpiresIn < time.Second {
		return nil, ErrExpiresInTooSmall
	}
	if len(in.Metadata) > 0 && !json.Valid(in.Metadata) {
		return nil, ErrInvalidMetadataType
	}
	if in.Permissions != nil && *in.Permissions != nil {
		if err := checkPermissions(*in.Permissions); err != nil {
			return nil, err
		}
	}
	return p.update(ctx, userID, id, in)
}

// update is Better Auth's update-api-key after its authorization
// checks, in its order. As there, the row's updatedAt is left alone (its
// schema has no onUpdate).
func (p *Plugin) update(ctx context.Context, userID, id string, in UpdateInput) (*Key, error) {
	o := &p.opts
	db := p.h.DB()
	_, err := db.FindOne(ctx, TableAPIKey, storage.W("id", id), storage.W("referenceId", userID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	set := storage.Record{}
	if in.Name != nil {
		if n := jsLen(*in.Name); n < o.MinNameLength || n > o.MaxNameLength {
			return nil, ErrInvalidNameLength
		}
		if !storage.Storable(*in.Name) {
			return nil, plugin.ErrInvalidInput
		}
		set["name"] = *in.Name
	}
	if in.Enabled != nil {
		set["enabled"] = *in.Enabled
	}
	if in.ExpiresIn != nil {
		if o.DisableCustomExpiresIn {
			return nil, ErrKeyDisabledExpiration
		}
		set["expiresAt"] = nil
		if *in.ExpiresIn != 0 {
			if err := p.checkExpiresIn(*in.ExpiresIn); err != nil {
				return nil, err
			}
			set["expiresAt"] = p.now().Add(*in.ExpiresIn).Truncate(time.Millisecond)
		}
	}
	if len(in.Metadata) > 0 && o.EnableMetadata {
		if !jsObject(in.Metadata) && string(in.Metadata) != "null" {
			return nil, ErrInvalidMetadataType
		}
		if !storage.Storable(string(in.Metadata)) {
			return nil, plugin.ErrInvalidInput
		}
		set["metadata"] = nil
		if string(in.Metadata) != "null" {
			set["metadata"] = compact(in.Metadata)
		}
	}
	if in.Remaining != nil {
		set["remaining"] = *in.Remaining
	}
	if in.RefillAmount != nil || in.RefillInterval != nil {
		switch {
		case in.RefillInterval == nil:
			return nil, ErrRefillAmountAndIntervalRequired
		case in.RefillAmount == nil:
			return nil, ErrRefillIntervalAndAmountRequired
		}
		set["refillAmount"] = *in.RefillAmount
		set["refillInterval"] = in.RefillInterval.Milliseconds()
	}
	if in.RateLimitEnabled != nil {
		set["rateLimitEnabled"] = *in.RateLimitEnabled
	}
	if in.RateLimitTimeWindow != nil {
		set["rateLimitTimeWindow"] = in.RateLimitTimeWindow.Milliseconds()
	}
	if in.RateLimitMax != nil {
		set["rateLimitMax"] = *in.RateLimitMax
	}
	if in.Permissions != nil {
		set["permissions"] = "null" // Better Auth stores JSON.stringify(null)
		if *in.Permissions != nil {
			js, _ := json.Marshal(*in.Permissions)
			set["permissions"] = string(js)
		}
	}
	if len(set) == 0 {
		return nil, ErrNoValuesToUpdate
	}
	n, err := db.Update(ctx, TableAPIKey, set, storage.W("id", id), storage.W("referenceId", userID))
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	if n == 0 { // deleted meanwhile
		return nil, ErrKeyNotFound
	}
	p.sweep(ctx)
	rec, err := db.FindOne(ctx, TableAPIKey, storage.W("id", id))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, ErrKeyNotFound
		}
		return nil, plugin.StorageError(err)
	}
	return keyFromRecord(rec), nil
}

// DeleteKey deletes the user's key with the id; another user's, like an
// unknown or already deleted one, is ErrKeyNotFound.
func (p *Plugin) DeleteKey(ctx context.Context, userID, id string) error {
	n, err := p.h.DB().Delete(ctx, TableAPIKey, storage.W("id", id), storage.W("referenceId", userID))
	if err != nil {
		return plugin.StorageError(err)
	}
	if n == 0 {
		return ErrKeyNotFound
	}
	p.sweep(ctx)
	return nil
}

// DeleteExpired deletes every key whose expiry has passed and returns
// how many (Better Auth's server-only delete-all-expired-api-keys).
func (p *Plugin) DeleteExpired(ctx context.Context) (int64, error) {
	n, err := p.h.DB().Delete(ctx, TableAPIKey, storage.Where{Field: "expiresAt", Op: storage.Lt, Value: p.now()},
		storage.Where{Field: "expiresAt", Op: storage.Ne, Value: nil})
	if err != nil {
		return 0, plugin.StorageError(err)
	}
	return n, nil
}

// sweep deletes expired keys at most once every 10 seconds of the
// host's clock, as the routes of Better Auth do; a failure is logged.
func (p *Plugin) sweep(ctx context.Context) {
	now := p.h.Now()
	p.sweepMu.Lock()
	if !p.lastSweep.IsZero() && now.Sub(p.lastSweep) < sweepEvery && !now.Before(p.lastSweep) {
		p.sweepMu.Unlock()
		return
	}
	p.lastSweep = now
	p.sweepMu.Unlock()
	if _, err := p.DeleteExpired(ctx); err != nil {
		p.h.Logger().ErrorContext(ctx, "apikey: deleting expired keys", "err", err)
	}
}

// ExportUser implements plugin.DataSource: the user's keys, without
// their hashes.
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	recs, err := p.h.DB().FindMany(ctx, TableAPIKey, storage.Query{Where: []storage.Where{storage.W("referenceId", userID)},
		Sort: []storage.Sort{{Field: "createdAt"}, {Field: "id"}}})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	keys := make([]*Key, 0, len(recs))
	for _, r := range recs {
		keys = append(keys, keyFromRecord(r))
	}
	return keys, nil
}

// DeleteUser implements plugin.DataSource: it deletes the user's keys.
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	return p.deleteUserKeys(ctx, userID)
}

// checkPermissions refuses permissions that cannot be stored.
func checkPermissions(perms Permissions) error {
	for res, acts := range perms {
		if !storage.Storable(res) {
			return plugin.ErrInvalidInput
		}
		for _, a := range acts {
			if !storage.Storable(a) {
				return plugin.ErrInvalidInput
			}
		}
	}
	return nil
}

// errPrefixFormat is Zod's answer to a prefix that is not
// [a-zA-Z0-9_-]+.
func errPrefixFormat() *plugin.Error {
	return plugin.ErrValidation.WithMessage("[body.prefix] Invalid prefix format, must be alphanumeric and contain only underscores and hyphens.")
}

// jsLen is the length of s in UTF-16 code units, as JavaScript counts.
func jsLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// jsTruthy reports whether a JSON value is truthy in JavaScript: not
// absent, null, false, 0 or "".
func jsTruthy(raw json.RawMessage) bool {
	v := bytes.TrimSpace(raw)
	switch {
	case len(v) == 0, string(v) == "null", string(v) == "false", string(v) == `""`:
		return false
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		var f float64
		return json.Unmarshal(v, &f) == nil && f != 0
	}
	return true
}

// jsObject reports whether a JSON value's JavaScript typeof is "object"
// and it is not null: an object or an array.
func jsObject(raw json.RawMessage) bool {
	v := bytes.TrimSpace(raw)
	return len(v) > 0 && (v[0] == '{' || v[0] == '[')
}

// compact returns the JSON value without insignificant space, as
// JSON.stringify writes it.
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}
