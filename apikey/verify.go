package apikey

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// maxAttempts bounds the compare-and-swap rounds of one use of a key:
// each round that fails lost to a use that succeeded, so it takes as
// many rounds as there are concurrent uses of the key.
const maxAttempts = 100

// VerifyResult is Verify's answer, Better Auth's {valid, error, key}.
type VerifyResult struct {
	// Valid reports that the key was accepted (and its use counted).
	Valid bool
	// Error says why it was not: ErrInvalidAPIKey, ErrKeyDisabled,
	// ErrKeyExpired, ErrUsageExceeded, ErrRateLimited (its RetryAfter is
	// Better Auth's tryAgainIn) or a 401 KEY_NOT_FOUND for missing
	// permissions.
	Error *plugin.Error
	// Key is the accepted key after the use was counted.
	Key *Key
}

// MarshalJSON writes Better Auth's verify answer: {"valid", "error":
// {message, code[, details: {tryAgainIn}]} or null, "key"}.
func (v *VerifyResult) MarshalJSON() ([]byte, error) {
	b := []byte(`{"valid":` + strconv.FormatBool(v.Valid) + `,"error":`)
	if v.Error == nil {
		b = append(b, "null"...)
	} else {
		b = appendErrorBody(b, v.Error)
	}
	b = append(b, `,"key":`...)
	if v.Key == nil {
		b = append(b, "null"...)
	} else {
		b = v.Key.appendJSON(b, nil)
	}
	return append(b, '}'), nil
}

// rateLimited is ErrRateLimited for a key that may be used again after
// d: Better Auth's answer carries details.tryAgainIn (milliseconds),
// which the host writes as the error answer's details.
func rateLimited(d time.Duration) *plugin.Error {
	return ErrRateLimited.WithRetryAfter(d).WithDetails(map[string]any{"tryAgainIn": d.Milliseconds()})
}

// appendErrorBody appends Better Auth's error body of e: {message, code},
// and its details (RATE_LIMITED's tryAgainIn) if it has any, as the host
// writes an error answer.
func appendErrorBody(b []byte, e *plugin.Error) []byte {
	w := jsonWriter{b: append(b, '{')}
	w.str("message", &e.Message)
	w.str("code", &e.Code)
	if len(e.Details) > 0 {
		if d, err := json.Marshal(e.Details); err == nil {
			w.key("details")
			w.b = append(w.b, d...)
		}
	}
	return append(w.b, '}')
}

// Verify checks a key as Better Auth's server-only verifyApiKey does and,
// if it is accepted, counts the use: requestCount and lastRequest
// (Better Auth's per-key rate limit) and remaining, refilled first when
// its interval has passed. permissions, if not nil, must all be granted
// by the key's. An expired key, and a used-up key that is never
// refilled, are deleted.
//
// A key that is refused is a result with Valid false and Error set; the
// error return is for a failure of the database only.
func (p *Plugin) Verify(ctx context.Context, key string, permissions map[string][]string) (*VerifyResult, error) {
	k, err := p.use(ctx, key, permissions)
	if err != nil {
		var e *plugin.Error
		if errors.As(err, &e) && e.Status < 500 {
			return &VerifyResult{Error: e}, nil
		}
		return nil, err
	}
	return &VerifyResult{Valid: true, Key: k}, nil
}

// use is Better Auth's validateApiKey: it finds the key by its hash,
// checks it and counts its use with one conditional update of the
// counters it read, retried on a lost race.
func (p *Plugin) use(ctx context.Context, key string, permissions Permissions) (*Key, error) {
	db := p.h.DB()
	hash := hashKey(key)
	for attempt := range maxAttempts {
		rec, err := db.FindOne(ctx, TableAPIKey, storage.W("key", hash))
		if errors.Is(err, storage.ErrNotFound) {
			return nil, ErrInvalidAPIKey
		}
		if err != nil {
			return nil, plugin.StorageError(err)
		}
		if !plugin.SecureEqual(rec.String("key"), hash) {
			return nil, ErrInvalidAPIKey
		}
		set, err := p.claim(ctx, rec, permissions, attempt > 0)
		if err != nil {
			return nil, err
		}
		// The counters as read: the update applies only if no other use
		// changed them meanwhile.
		where := []storage.Where{storage.W("id", rec["id"]), storage.W("enabled", rec["enabled"]),
			storage.W("remaining", rec["remaining"]), storage.W("requestCount", rec["requestCount"])}
		where = append(where, sameTime("lastRequest", rec["lastRequest"])...)
		where = append(where, sameTime("lastRefillAt", rec["lastRefillAt"])...)
		n, err := db.Update(ctx, TableAPIKey, set, where...)
		if err != nil {
			return nil, plugin.StorageError(err)
		}
		if n == 1 {
			for f, v := range set {
				rec[f] = v
			}
			return keyFromRecord(rec), nil
		}
	}
	return nil, plugin.ErrUnavailable.WithMessage("The API key is too busy, try again")
}

// sameTime matches a date column read as v: NULL, or the millisecond v
// stands for (a date written with a finer precision by another program
// reads back truncated, and must still match).
func sameTime(field string, v any) []storage.Where {
	t, ok := v.(time.Time)
	if !ok {
		return []storage.Where{storage.W(field, nil)}
	}
	return []storage.Where{{Field: field, Op: storage.Gte, Value: t}, {Field: field, Op: storage.Lt, Value: t.Add(time.Millisecond)}}
}

// claim checks the key of rec as Better Auth does, in its order, and
// returns the update that counts one use. A retry (after a lost race)
// that finds the key used up answers as Better Auth's failed conditional
// decrement does, without deleting it.
func (p *Plugin) claim(ctx context.Context, rec storage.Record, permissions Permissions, retry bool) (storage.Record, error) {
	now := p.now()
	if rec["enabled"] == false {
		return nil, ErrKeyDisabled
	}
	if exp := rec.TimePtr("expiresAt"); exp != nil && now.After(*exp) {
		if err := p.deleteRow(ctx, rec); err != nil {
			return nil, err
		}
		return nil, ErrKeyExpired
	}
	if permissions != nil && !authorize(parsePermissions(rec.StringPtr("permissions")), permissions) {
		return nil, errPermissionDenied()
	}
	remaining, refillAmount := intPtr(rec["remaining"]), intPtr(rec["refillAmount"])
	if remaining != nil && *remaining == 0 && refillAmount == nil && !retry {
		if err := p.deleteRow(ctx, rec); err != nil {
			return nil, err
		}
		return nil, ErrUsageExceeded
	}
	set := storage.Record{"updatedAt": now}
	if remaining != nil {
		interval, last := intPtr(rec["refillInterval"]), rec.TimePtr("lastRefillAt")
		if last == nil {
			created := rec.Time("createdAt")
			last = &created
		}
		switch {
		case interval != nil && *interval != 0 && refillAmount != nil && *refillAmount != 0 &&
			now.Sub(*last).Milliseconds() > *interval:
			set["remaining"], set["lastRefillAt"] = *refillAmount-1, now
		case *remaining > 0:
			set["remaining"] = *remaining - 1
		default:
			return nil, ErrUsageExceeded
		}
	}
	if err := p.rateLimit(rec, now, set); err != nil {
		return nil, err
	}
	return set, nil
}

// rateLimit is Better Auth's evaluateRateLimit: it adds to set what the
// use does to the key's rate-limit counters, or refuses it.
func (p *Plugin) rateLimit(rec storage.Record, now time.Time, set storage.Record) error {
	if p.opts.RateLimitDisabled || rec["rateLimitEnabled"] == false {
		set["lastRequest"] = now
		return nil
	}
	window, limit := intPtr(rec["rateLimitTimeWindow"]), intPtr(rec["rateLimitMax"])
	if window == nil || limit == nil {
		return nil // no rate limit for this key
	}
	last := rec.TimePtr("lastRequest")
	if last == nil {
		set["requestCount"], set["lastRequest"] = int64(1), now
		return nil
	}
	since := now.Sub(*last).Milliseconds()
	switch {
	case since > *window:
		set["requestCount"], set["lastRequest"] = int64(1), now
	case rec.Int("requestCount") >= *limit:
		return rateLimited(msDuration(*window - since))
	default:
		set["requestCount"], set["lastRequest"] = rec.Int("requestCount")+1, now
	}
	return nil
}

// deleteRow deletes the row of a key that is used up or expired.
func (p *Plugin) deleteRow(ctx context.Context, rec storage.Record) error {
	if _, err := p.h.DB().Delete(ctx, TableAPIKey, storage.W("id", rec["id"])); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}
