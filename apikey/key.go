package apikey

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Permissions are a key's permissions: resource → allowed actions, as
// Better Auth's access control statements.
type Permissions = map[string][]string

// Key is an API key as the routes answer it: every column of its row
// but the hash. Nullable columns are pointers (nil is null).
type Key struct {
	// ID is the key's id.
	ID string
	// ConfigID is Better Auth's configuration id, "default".
	ConfigID string
	// Name is the key's name.
	Name *string
	// Start holds the key's first characters (prefix included), to
	// recognise it.
	Start *string
	// ReferenceID is the id of the user the key belongs to.
	ReferenceID string
	// Prefix is the key's prefix.
	Prefix *string
	// RefillInterval is how often Remaining is refilled (to
	// RefillAmount).
	RefillInterval *time.Duration
	// RefillAmount is what Remaining is refilled to.
	RefillAmount *int64
	// LastRefillAt is the last refill.
	LastRefillAt *time.Time
	// Enabled is false for a disabled key (KEY_DISABLED).
	Enabled bool
	// RateLimitEnabled turns the key's rate limit on.
	RateLimitEnabled bool
	// RateLimitTimeWindow is the key's rate-limit window (nil: no limit).
	RateLimitTimeWindow *time.Duration
	// RateLimitMax is the number of requests a window allows (nil: no
	// limit).
	RateLimitMax *int64
	// RequestCount counts the requests of the current window.
	RequestCount int64
	// Remaining counts the uses left (nil: unlimited).
	Remaining *int64
	// LastRequest is the last accepted use.
	LastRequest *time.Time
	// ExpiresAt is when the key expires (nil: never).
	ExpiresAt *time.Time
	// CreatedAt and UpdatedAt are the row's dates.
	CreatedAt, UpdatedAt time.Time
	// Permissions are the key's permissions (nil: none).
	Permissions Permissions
	// Metadata is the key's metadata, a JSON value (nil: null).
	Metadata json.RawMessage
}

// NewKey is a key just created: the record and the key itself, which is
// shown this once and stored only as its hash.
type NewKey struct {
	*Key
	// Secret is the key to hand to its user.
	Secret string
}

// MarshalJSON writes the key as Better Auth answers it, durations in
// milliseconds and dates in plugin.TimeFormat.
func (k *Key) MarshalJSON() ([]byte, error) { return k.appendJSON(nil, nil), nil }

// MarshalJSON writes the record with the key itself under "key", as
// Better Auth's create answers.
func (n *NewKey) MarshalJSON() ([]byte, error) { return n.appendJSON(nil, &n.Secret), nil }

// appendJSON appends the key's JSON object, with "key" when secret is
// set, in the field order of Better Auth's create answer.
func (k *Key) appendJSON(b []byte, secret *string) []byte {
	w := jsonWriter{b: append(b, '{')}
	w.str("configId", &k.ConfigID)
	w.str("name", k.Name)
	w.str("start", k.Start)
	w.str("referenceId", &k.ReferenceID)
	w.str("prefix", k.Prefix)
	if secret != nil {
		w.str("key", secret)
	}
	w.dur("refillInterval", k.RefillInterval)
	w.int("refillAmount", k.RefillAmount)
	w.time("lastRefillAt", k.LastRefillAt)
	w.bool("enabled", k.Enabled)
	w.bool("rateLimitEnabled", k.RateLimitEnabled)
	w.dur("rateLimitTimeWindow", k.RateLimitTimeWindow)
	w.int("rateLimitMax", k.RateLimitMax)
	w.int("requestCount", &k.RequestCount)
	w.int("remaining", k.Remaining)
	w.time("lastRequest", k.LastRequest)
	w.time("expiresAt", k.ExpiresAt)
	w.time("createdAt", &k.CreatedAt)
	w.time("updatedAt", &k.UpdatedAt)
	w.key("permissions")
	if k.Permissions == nil {
		w.b = append(w.b, "null"...)
	} else {
		js, _ := json.Marshal(k.Permissions) // a map of string slices always marshals
		w.b = append(w.b, js...)
	}
	w.key("metadata")
	if len(k.Metadata) == 0 {
		w.b = append(w.b, "null"...)
	} else {
		w.b = append(w.b, k.Metadata...)
	}
	w.str("id", &k.ID)
	return append(w.b, '}')
}

// jsonWriter appends the members of a JSON object.
type jsonWriter struct {
	b    []byte
	more bool
}

func (w *jsonWriter) key(k string) {
	if w.more {
		w.b = append(w.b, ',')
	}
	w.more = true
	w.b = append(append(append(w.b, '"'), k...), '"', ':') // k is a plain ASCII name
}

func (w *jsonWriter) str(k string, v *string) {
	w.key(k)
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	js, _ := json.Marshal(*v) // a string always marshals
	w.b = append(w.b, js...)
}

func (w *jsonWriter) int(k string, v *int64) {
	w.key(k)
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = strconv.AppendInt(w.b, *v, 10)
}

func (w *jsonWriter) dur(k string, v *time.Duration) {
	w.key(k)
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = strconv.AppendInt(w.b, v.Milliseconds(), 10)
}

func (w *jsonWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonWriter) time(k string, v *time.Time) {
	w.key(k)
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '"')
	w.b = v.UTC().AppendFormat(w.b, plugin.TimeFormat)
	w.b = append(w.b, '"')
}

// hashKey is Better Auth's defaultKeyHasher: base64url(SHA-256(key))
// without padding.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// keyFromRecord reads a row of TableAPIKey (the hash is left out).
func keyFromRecord(r storage.Record) *Key {
	k := &Key{
		ID: r.String("id"), ConfigID: r.String("configId"), Name: r.StringPtr("name"), Start: r.StringPtr("start"),
		ReferenceID: r.String("referenceId"), Prefix: r.StringPtr("prefix"),
		RefillInterval: durPtr(r["refillInterval"]), RefillAmount: intPtr(r["refillAmount"]),
		LastRefillAt: r.TimePtr("lastRefillAt"), Enabled: r["enabled"] != false,
		RateLimitEnabled: r["rateLimitEnabled"] != false, RateLimitTimeWindow: durPtr(r["rateLimitTimeWindow"]),
		RateLimitMax: intPtr(r["rateLimitMax"]), RequestCount: r.Int("requestCount"), Remaining: intPtr(r["remaining"]),
		LastRequest: r.TimePtr("lastRequest"), ExpiresAt: r.TimePtr("expiresAt"),
		CreatedAt: r.Time("createdAt"), UpdatedAt: r.Time("updatedAt"),
		Permissions: parsePermissions(r.StringPtr("permissions")), Metadata: parseMetadata(r.StringPtr("metadata")),
	}
	return k
}

// intPtr reads a nullable Int column.
func intPtr(v any) *int64 {
	n, ok := v.(int64)
	if !ok {
		return nil
	}
	return &n
}

// durPtr reads a nullable Int column of milliseconds.
func durPtr(v any) *time.Duration {
	n, ok := v.(int64)
	if !ok {
		return nil
	}
	d := msDuration(n)
	return &d
}

// msDuration converts milliseconds to a Duration, saturating.
func msDuration(ms int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	switch {
	case ms > limit:
		return math.MaxInt64
	case ms < -limit:
		return math.MinInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// parsePermissions reads the permissions column (JSON) as Better Auth's
// safeJSONParse does: anything that is not an object of string arrays is
// no permissions.
func parsePermissions(s *string) Permissions {
	if s == nil || *s == "" {
		return nil
	}
	var p Permissions
	if json.Unmarshal([]byte(*s), &p) != nil {
		return nil
	}
	return p
}

// parseMetadata reads the metadata column (JSON text). Better Auth once
// stored metadata stringified twice: a JSON string holding JSON is read
// as that JSON, as its parseDoubleStringifiedMetadata does.
func parseMetadata(s *string) json.RawMessage {
	if s == nil || *s == "" || !json.Valid([]byte(*s)) {
		return nil
	}
	raw := []byte(*s)
	var inner string
	if json.Unmarshal(raw, &inner) == nil {
		if !json.Valid([]byte(inner)) {
			return nil
		}
		raw = []byte(inner)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil || buf.String() == "null" {
		return nil
	}
	return buf.Bytes()
}

// clonePermissions returns a deep copy of p (nil stays nil).
func clonePermissions(p Permissions) Permissions {
	if p == nil {
		return nil
	}
	out := make(Permissions, len(p))
	for k, v := range p {
		out[k] = slices.Clone(v)
	}
	return out
}

// authorize reports whether statements grant every action of request,
// as Better Auth's role(statements).authorize(request) does with its
// default connector AND: every requested resource must be granted with
// every action asked for (an empty action list grants nothing), and an
// empty request is refused.
func authorize(statements, request Permissions) bool {
	if len(request) == 0 {
		return false
	}
	for _, res := range slices.Sorted(maps.Keys(request)) {
		allowed, ok := statements[res]
		acts := request[res]
		if !ok || allowed == nil || len(acts) == 0 {
			return false
		}
		for _, a := range acts {
			if !slices.Contains(allowed, a) {
				return false
			}
		}
	}
	return true
}
