package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/auth"
)

// RateLimitTable is the default table of [RateLimitStore]: Better Auth's
// "rateLimit" (its storage: "database" option), with its columns id, key
// (unique), count and lastRequest (Unix milliseconds).
const RateLimitTable = "rateLimit"

// DefaultRateLimitCleanup is how often a [RateLimitStore] deletes stale
// counters when [RateLimitOptions.CleanupInterval] is zero.
const DefaultRateLimitCleanup = time.Minute

// RateLimitOptions configures [NewRateLimitStore].
type RateLimitOptions struct {
	// Table is the table name. Default [RateLimitTable].
	Table string
	// CleanupInterval is how often Hit starts a background deletion of
	// counters idle for longer than the retention. Default
	// [DefaultRateLimitCleanup]; negative turns it off (call
	// [RateLimitStore.Cleanup] yourself).
	CleanupInterval time.Duration
	// Retention is the minimum idle time after which a counter is deleted.
	// The store also never deletes a counter younger than the longest
	// window it has seen, so the default (0) is "the longest window".
	Retention time.Duration
}

// RateLimitStore is an [auth.RateLimitStore] in a PostgreSQL table, shared
// by every instance using the same database and schema, so that a limit
// holds across instances. Each Hit is one statement (an upsert whose
// conflict branch applies Better Auth's algorithm on the locked row), so
// concurrent requests on any number of instances never admit more than
// Max per window. Times are the callers' clocks (the now passed to Hit),
// so the instances' clocks should agree to well within a window.
//
// The table is created by [RateLimitStore.Migrate], or on the first Hit
// that finds it missing. It is safe for concurrent use.
type RateLimitStore struct {
	pool   *pgxpool.Pool
	schema string
	table  string // qualified, quoted
	opts   RateLimitOptions

	hit         string // the Hit statement
	migrated    atomic.Bool
	maxWindowMS atomic.Int64 // longest window seen, for the cleanup
	nextSweep   atomic.Int64 // Unix ms of the next cleanup
	sweeping    atomic.Bool
	wg          sync.WaitGroup
}

var _ auth.RateLimitStore = (*RateLimitStore)(nil)

// NewRateLimitStore returns a rate-limit store in the adapter's database
// and schema. opts may be omitted. It does not touch the database. It
// panics if opts.Table is not a valid identifier
// ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters).
func NewRateLimitStore(a *Adapter, opts ...RateLimitOptions) *RateLimitStore {
	var o RateLimitOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := NewRateLimitStoreFromPool(a.c.pool, a.c.schema, o)
	if err != nil { // the adapter's schema was validated by Open/New: a bad Table
		panic(err)
	}
	return s
}

// NewRateLimitStoreFromPool is [NewRateLimitStore] over a pool and schema
// (empty: [DefaultSchema]). It fails for an invalid schema or table name.
func NewRateLimitStoreFromPool(pool *pgxpool.Pool, schema string, opts RateLimitOptions) (*RateLimitStore, error) {
	if pool == nil {
		return nil, errors.New("postgres: NewRateLimitStore with a nil pool")
	}
	if schema == "" {
		schema = DefaultSchema
	}
	if opts.Table == "" {
		opts.Table = RateLimitTable
	}
	if !identRE.MatchString(schema) || !identRE.MatchString(opts.Table) {
		return nil, fmt.Errorf("postgres: invalid rate-limit schema or table name %q.%q", schema, opts.Table)
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = DefaultRateLimitCleanup
	}
	s := &RateLimitStore{pool: pool, schema: schema, table: quote(schema) + "." + quote(opts.Table), opts: opts}
	// $1 id of a new row, $2 key, $3 now (ms), $4 window (ms), $5 max.
	// The conflict branch runs on the latest version of the row, locked:
	// when the window since the last allowed request has passed the count
	// restarts at 1; else below max it grows; else (max reached) the WHERE
	// leaves the row as it is and RETURNING yields nothing: refused. The
	// second column reads lastRequest for the Retry-After hint (from the
	// statement's snapshot, so possibly older than the row just refused).
	s.hit = `WITH up AS (
INSERT INTO ` + s.table + ` AS r ("id", "key", "count", "lastRequest") VALUES ($1, $2, 1, $3)
ON CONFLICT ("key") DO UPDATE SET
	"count" = CASE WHEN $3 - r."lastRequest" >= $4 THEN 1 ELSE r."count" + 1 END,
	"lastRequest" = $3
WHERE $3 - r."lastRequest" >= $4 OR r."count" < $5
RETURNING 1)
SELECT EXISTS (SELECT 1 FROM up), (SELECT "lastRequest" FROM ` + s.table + ` WHERE "key" = $2)`
	return s, nil
}

// Migrate creates the schema and the table if they are missing (under the
// same advisory lock as [Adapter.Migrate]). It is idempotent.
func (s *RateLimitStore) Migrate(ctx context.Context) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: rate-limit table: %w", mapErr(ctx, err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	stmts := []string{
		`SELECT pg_advisory_xact_lock(` + fmt.Sprint(lockKey(s.schema)) + `)`,
		`CREATE SCHEMA IF NOT EXISTS ` + quote(s.schema),
		`CREATE TABLE IF NOT EXISTS ` + s.table + ` ("id" text PRIMARY KEY, "key" text NOT NULL UNIQUE, "count" integer NOT NULL, "lastRequest" bigint NOT NULL)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: rate-limit table: %w", mapErr(ctx, err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: rate-limit table: %w", mapErr(ctx, err))
	}
	s.migrated.Store(true)
	return nil
}

// Hit implements [auth.RateLimitStore] with Better Auth's algorithm, in
// one statement.
func (s *RateLimitStore) Hit(ctx context.Context, key string, rule auth.RateRule, now time.Time) (bool, time.Duration, error) {
	nowMS, winMS := now.UnixMilli(), rule.Window.Milliseconds()
	if winMS > s.maxWindowMS.Load() {
		s.maxWindowMS.Store(winMS) // a lost race only delays a larger value to the next Hit
	}
	maxCount := min(int64(rule.Max), math.MaxInt32) // "count" is an integer column
	allowed, last, err := s.hitOnce(ctx, key, nowMS, winMS, maxCount)
	if err != nil && !s.migrated.Load() && isUndefinedTable(err) {
		if err = s.Migrate(ctx); err == nil {
			allowed, last, err = s.hitOnce(ctx, key, nowMS, winMS, maxCount)
		}
	}
	if err != nil {
		return false, 0, err
	}
	s.maybeSweep(nowMS)
	if allowed {
		return true, 0, nil
	}
	retry := time.Duration(winMS) * time.Millisecond
	if last != nil {
		if d := time.Duration(*last+winMS-nowMS) * time.Millisecond; d > 0 && d <= retry {
			retry = d
		}
	}
	return false, retry, nil
}

func (s *RateLimitStore) hitOnce(ctx context.Context, key string, nowMS, winMS, maxCount int64) (allowed bool, last *int64, err error) {
	err = s.pool.QueryRow(ctx, s.hit, auth.NewID(), key, nowMS, winMS, maxCount).Scan(&allowed, &last)
	if err != nil {
		return false, nil, fmt.Errorf("postgres: rate limit: %w", mapErr(ctx, err))
	}
	return allowed, last, nil
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") // undefined_table, invalid_schema_name
}

// maybeSweep starts a background Cleanup at most once per CleanupInterval.
func (s *RateLimitStore) maybeSweep(nowMS int64) {
	if s.opts.CleanupInterval < 0 {
		return
	}
	next := s.nextSweep.Load()
	if nowMS < next || !s.nextSweep.CompareAndSwap(next, nowMS+s.opts.CleanupInterval.Milliseconds()) {
		return
	}
	if next == 0 { // first Hit: the first sweep is one interval away
		return
	}
	if !s.sweeping.CompareAndSwap(false, true) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.sweeping.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.cleanup(ctx, nowMS)
	}()
}

// Cleanup deletes the counters idle for longer than the retention (the
// larger of RateLimitOptions.Retention and the longest window Hit has
// seen; nothing when neither is known) at now, and returns how many.
func (s *RateLimitStore) Cleanup(ctx context.Context, now time.Time) (int64, error) {
	return s.cleanup(ctx, now.UnixMilli())
}

func (s *RateLimitStore) cleanup(ctx context.Context, nowMS int64) (int64, error) {
	keep := max(s.opts.Retention.Milliseconds(), s.maxWindowMS.Load())
	if keep <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE "lastRequest" < $1`, nowMS-keep)
	if err != nil {
		return 0, fmt.Errorf("postgres: rate-limit cleanup: %w", mapErr(ctx, err))
	}
	return tag.RowsAffected(), nil
}

// Close waits for a background cleanup in progress. It does not close the
// pool.
func (s *RateLimitStore) Close() error {
	s.wg.Wait()
	return nil
}
