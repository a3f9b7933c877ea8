package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/internal/sqlident"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
	storagepg "github.com/managarten/mana-auth/storage/postgres"
)

// DefaultTable is the default table of [Store]: Better Auth's "rateLimit"
// (its storage: "database" option), with its columns id, key (unique),
// count and lastRequest (Unix milliseconds).
const DefaultTable = "rateLimit"

// DefaultCleanup is how often a [Store] deletes stale counters when
// [Options.CleanupInterval] is zero.
const DefaultCleanup = time.Minute

// DefaultMaxConns is the size of a [Store]'s own pool when
// [Options.MaxConns] is zero.
const DefaultMaxConns = 8

// DefaultRefusalCache is how many refused keys a [Store] remembers in
// process when [Options.RefusalCache] is zero.
const DefaultRefusalCache = 1 << 14

// maxRefusalKey is the longest key a refusalCache remembers (keys hold a
// request path, which a client chooses): a refusal of a longer key is
// not remembered, and the next Hit asks the database as usual.
const maxRefusalKey = 512

// Options configures [New] and [NewFromPool].
type Options struct {
	// Table is the table name. Default [DefaultTable].
	Table string
	// CleanupInterval is how often Hit starts a background deletion of
	// counters idle for longer than the retention. Default
	// [DefaultCleanup]; negative turns it off (call [Store.Cleanup]
	// yourself).
	CleanupInterval time.Duration
	// Retention is the minimum idle time after which a counter is deleted.
	// The store also never deletes a counter younger than the longest
	// window it has seen, so the default (0) is "the longest window" this
	// instance has seen. With several instances, set it above the longest
	// window of any rule: an instance that has only seen short windows
	// would otherwise delete another's counters of a longer rule early,
	// restarting that limit (the reference server uses 10 minutes).
	Retention time.Duration
	// MaxConns is the size of the store's own connection pool, derived
	// from the adapter's (or the caller's) pool configuration, so that
	// rate-limit checks neither wait for nor hold the adapter's
	// connections. Default [DefaultMaxConns]. Negative: no pool of its
	// own, Hit runs on the adapter's (the caller's) pool.
	MaxConns int32
	// Durable makes the counters survive a PostgreSQL crash: Hit commits
	// synchronously (as the server's synchronous_commit says), and the
	// table, when the store creates it, is an ordinary table. By default
	// Hit commits asynchronously and the store creates the table UNLOGGED
	// (see [Store]): a crash then forgets the last counts, which only
	// lets a few more requests through.
	Durable bool
	// Naming names the table and its columns as storage.Naming names the
	// tables of the schema (Better Auth's modelName, fields and
	// usePlural): its entries for the table "rateLimit" (Tables, and
	// Fields for the fields key, count and lastRequest) and Plural
	// ("rateLimits"). Entries for other tables are ignored, so that the
	// auth.Config.Naming of a deployment can be given as it is; an entry
	// for a field the table lacks, an invalid or duplicate name, or a
	// type in Types is refused. Table, when set, takes precedence over the
	// table name it gives.
	Naming storage.Naming
	// RefusalCache bounds how many refused keys (of at most 512 bytes)
	// are remembered in process, so that further requests refused within
	// the same window are answered without a round trip (see
	// [Store.Hit]). Default [DefaultRefusalCache]; negative turns it off.
	RefusalCache int
}

// Store is a [ratelimit.Store] in a PostgreSQL table, shared by every
// instance using the same database and schema, so that a limit holds
// across instances. Each Hit is one statement (an upsert whose
// conflict branch applies Better Auth's algorithm on the locked row), so
// concurrent requests on any number of instances never admit more than
// Max per window. Times are the callers' clocks (the now passed to Hit),
// so the instances' clocks should agree to well within a window.
//
// Counters need no durability, so by default the store writes them
// cheaply: the Hit statement sets synchronous_commit to off for its own
// transaction (set_config(..., true), in the statement itself: no extra
// round trip, no session setting, so it also works through PgBouncer), so
// its commit does not wait for the WAL to reach disk; and a table the
// store creates itself is UNLOGGED (no WAL at all; PostgreSQL empties it
// after a crash, and it is not copied to streaming replicas, so it starts
// empty after a failover). A table that already exists, such as one
// created by Better Auth's migrations, is used as it is (ALTER TABLE
// "rateLimit" SET UNLOGGED converts one). [Options.Durable] keeps
// synchronous commits and an ordinary table.
//
// The store runs its statements on a small pool of its own (see
// [Options.MaxConns]), which [Store.Close] closes.
//
// The table is created by [Store.Migrate], or on the first Hit that finds
// it missing. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	own    bool // pool is the store's own: Close closes it
	schema string
	table  string // qualified, quoted
	cols   columns
	opts   Options

	hit         string // the Hit statement
	refused     *refusalCache
	migrated    atomic.Bool
	maxWindowMS atomic.Int64 // longest window seen, for the cleanup
	nextSweep   atomic.Int64 // Unix ms of the next cleanup
	sweeping    atomic.Bool
	wg          sync.WaitGroup
}

var _ ratelimit.Store = (*Store)(nil)

// columns are the quoted column names of the store's table.
type columns struct{ key, count, last string }

// Schema is the store's table as a storage.Schema, with its logical
// names: Better Auth's "rateLimit" with the fields key (unique), count
// and lastRequest (Unix milliseconds), besides the id. The store creates
// the table itself (see [Store.Migrate]); the schema says what
// [Options.Naming] can name.
func Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{
		Name: DefaultTable,
		Fields: []storage.Field{
			{Name: "key", Type: storage.String, Required: true, Unique: true},
			{Name: "count", Type: storage.Int, Required: true},
			{Name: "lastRequest", Type: storage.Int, Required: true},
		},
	}}}
}

// names applies n to the store's table and returns the table's name and
// its columns.
func names(n storage.Naming) (string, columns, error) {
	n = n.Only(DefaultTable)
	if len(n.Types) > 0 {
		return "", columns{}, errors.New("postgres: rate-limit table: Naming.Types is not supported")
	}
	s := Schema()
	if err := n.Apply(&s); err != nil {
		return "", columns{}, fmt.Errorf("postgres: rate-limit table: %w", err)
	}
	t := &s.Tables[0]
	col := func(name string) string {
		f, _ := t.Field(name)
		return pgx.Identifier{f.ColumnName()}.Sanitize()
	}
	return t.TableName(), columns{key: col("key"), count: col("count"), last: col("lastRequest")}, nil
}

// New returns a rate-limit store in the adapter's database and schema, on
// a pool of its own derived from the adapter's (see [NewFromPool]). It
// does not touch the database; call [Store.Close] to release the store's
// pool (the adapter stays open). It panics if opts.Table is not a valid
// identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 characters) or
// opts.Naming is refused; [NewFromPool] over the adapter's Pool and
// SchemaName returns these as errors.
func New(a *storagepg.Adapter, opts Options) *Store {
	s, err := NewFromPool(a.Pool(), a.SchemaName(), opts)
	if err != nil { // the adapter's schema was validated by Open/New: a bad Table
		panic(err)
	}
	return s
}

// NewFromPool is [New] over a pool and a PostgreSQL schema (empty:
// storagepg.DefaultSchema). It fails for an invalid schema or table name.
//
// Unless opts.MaxConns is negative, the store does not run statements on
// pool: it creates its own pool from a copy of pool's configuration
// (pool.Config(): same server, credentials, hooks and tracer) with at most
// opts.MaxConns connections, opened on demand, and "/ratelimit" appended
// to a non-empty application_name. Close closes that pool; pool stays the
// caller's to close, before or after the store's Close. With a negative
// MaxConns, Hit runs on pool itself and Close leaves it open.
func NewFromPool(pool *pgxpool.Pool, schema string, opts Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: NewFromPool with a nil pool")
	}
	if schema == "" {
		schema = storagepg.DefaultSchema
	}
	table, cols, err := names(opts.Naming)
	if err != nil {
		return nil, err
	}
	if opts.Table == "" {
		opts.Table = table
	}
	if !sqlident.Valid(schema) || !sqlident.Valid(opts.Table) {
		return nil, fmt.Errorf("postgres: invalid rate-limit schema or table name %q.%q", schema, opts.Table)
	}
	if opts.CleanupInterval == 0 {
		opts.CleanupInterval = DefaultCleanup
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.RefusalCache == 0 {
		opts.RefusalCache = DefaultRefusalCache
	}
	s := &Store{pool: pool, schema: schema, table: pgx.Identifier{schema, opts.Table}.Sanitize(), cols: cols, opts: opts}
	if opts.RefusalCache > 0 {
		s.refused = newRefusalCache(opts.RefusalCache)
	}
	// $1 id of a new row, $2 key, $3 now (ms), $4 window (ms), $5 max.
	// The conflict branch runs on the latest version of the row, locked:
	// when the window since the last allowed request has passed the count
	// restarts at 1; else below max it grows; else (max reached) the WHERE
	// leaves the row as it is and RETURNING yields nothing: refused. The
	// second column reads lastRequest for the Retry-After hint (from the
	// statement's snapshot, so possibly older than the row just refused).
	// The third, unless Durable, turns synchronous_commit off for the
	// statement's own (implicit) transaction: its commit, at the end of
	// the statement, does not wait for the WAL flush.
	async := ""
	if !opts.Durable {
		async = `, set_config('synchronous_commit', 'off', true)`
	}
	key, cnt, last := cols.key, cols.count, cols.last
	s.hit = `WITH up AS (
INSERT INTO ` + s.table + ` AS r ("id", ` + key + `, ` + cnt + `, ` + last + `) VALUES ($1, $2, 1, $3)
ON CONFLICT (` + key + `) DO UPDATE SET
	` + cnt + ` = CASE WHEN $3 - r.` + last + ` >= $4 THEN 1 ELSE r.` + cnt + ` + 1 END,
	` + last + ` = $3
WHERE $3 - r.` + last + ` >= $4 OR r.` + cnt + ` < $5
RETURNING 1)
SELECT EXISTS (SELECT 1 FROM up), (SELECT ` + last + ` FROM ` + s.table + ` WHERE ` + key + ` = $2)` + async
	if opts.MaxConns > 0 {
		cfg := pool.Config() // a copy
		cfg.MaxConns, cfg.MinConns, cfg.MinIdleConns = opts.MaxConns, 0, 0
		if app := cfg.ConnConfig.RuntimeParams["application_name"]; app != "" {
			cfg.ConnConfig.RuntimeParams["application_name"] = app + "/ratelimit"
		}
		own, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects on demand
		if err != nil {
			return nil, fmt.Errorf("postgres: rate-limit pool: %w", err)
		}
		s.pool, s.own = own, true
	}
	return s, nil
}

// Pool returns the pool the store runs its statements on: its own (closed
// by [Store.Close]; do not close it yourself), or, with a negative
// [Options.MaxConns], the adapter's or caller's.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Migrate creates the schema and the table if they are missing (under the
// same advisory lock as storage/postgres's Adapter.Migrate:
// [storagepg.LockMigrations]), the table UNLOGGED unless
// [Options.Durable]. It does not alter an existing table. It is
// idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return fmt.Errorf("postgres: rate-limit table: %w", storagepg.MapError(ctx, err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	create := `CREATE UNLOGGED TABLE`
	if s.opts.Durable {
		create = `CREATE TABLE`
	}
	if err := storagepg.LockMigrations(ctx, tx, s.schema); err != nil {
		return fmt.Errorf("postgres: rate-limit table: %w", storagepg.MapError(ctx, err))
	}
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{s.schema}.Sanitize(),
		create + ` IF NOT EXISTS ` + s.table + ` ("id" text PRIMARY KEY, ` + s.cols.key + ` text NOT NULL UNIQUE, ` +
			s.cols.count + ` integer NOT NULL, ` + s.cols.last + ` bigint NOT NULL)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: rate-limit table: %w", storagepg.MapError(ctx, err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: rate-limit table: %w", storagepg.MapError(ctx, err))
	}
	s.migrated.Store(true)
	return nil
}

// Hit implements [ratelimit.Store] with Better Auth's algorithm, in one
// statement.
//
// A refusal is remembered in process (up to [Options.RefusalCache]
// keys), and a further Hit on the key under the same rule before
// lastRequest+window is refused from memory, with the remaining time as
// retryAfter, without a round trip. This answers exactly what the
// database would, on any instance: a refusal leaves the row as it is
// (count at Max, lastRequest of the last allowed request), and only an
// allowed request changes it, which takes a Hit at or after
// lastRequest+window; until then every Hit, from whichever instance, finds
// the same row and is refused. (Cleanup deletes a row only once it is
// idle for longer than the window, that is after lastRequest+window too.)
// The lastRequest remembered is the one the refusing statement read,
// which may be older than the locked row's, never newer: the cached
// refusal may end early (the database then decides), never late. A cached
// refusal is used only for the same Window and Max, and is dropped when
// the key is allowed again. As the store already assumes, this holds when
// the instances' clocks agree; times of concurrent requests may also
// interleave by a few milliseconds either way, as with the database alone.
//
// A key the server cannot store (invalid UTF-8 or a NUL byte, see
// [storage.Storable]) is counted under its SHA-256 digest.
func (s *Store) Hit(ctx context.Context, key string, rule ratelimit.Rule, now time.Time) (bool, time.Duration, error) {
	if !storage.Storable(key) {
		// Keys hold a request path, which a client chooses, and the
		// server refuses invalid UTF-8 and NUL: count such a key under
		// its digest.
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	nowMS, winMS := now.UnixMilli(), rule.Window.Milliseconds()
	if winMS > s.maxWindowMS.Load() {
		s.maxWindowMS.Store(winMS) // a lost race only delays a larger value to the next Hit
	}
	maxCount := min(int64(rule.Max), math.MaxInt32) // "count" is an integer column
	if s.refused != nil {
		if until, ok := s.refused.get(key, nowMS, winMS, maxCount); ok {
			s.maybeSweep(nowMS)
			// At most the window, as below (a clock behind lastRequest).
			return false, time.Duration(min(until-nowMS, winMS)) * time.Millisecond, nil
		}
	}
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
		if s.refused != nil {
			s.refused.forget(key)
		}
		return true, 0, nil
	}
	retry := time.Duration(winMS) * time.Millisecond
	if last != nil {
		if d := *last + winMS - nowMS; d > 0 && d <= winMS {
			retry = time.Duration(d) * time.Millisecond
			if s.refused != nil { // without lastRequest (a row inserted since the snapshot), nothing to remember
				s.refused.put(key, refusal{until: *last + winMS, winMS: winMS, max: maxCount}, nowMS)
			}
		}
	}
	return false, retry, nil
}

func (s *Store) hitOnce(ctx context.Context, key string, nowMS, winMS, maxCount int64) (allowed bool, last *int64, err error) {
	dest := []any{&allowed, &last}
	if !s.opts.Durable {
		dest = append(dest, nil) // set_config's result
	}
	err = s.pool.QueryRow(ctx, s.hit, rand.Text(), key, nowMS, winMS, maxCount).Scan(dest...)
	if err != nil {
		return false, nil, fmt.Errorf("postgres: rate limit: %w", storagepg.MapError(ctx, err))
	}
	return allowed, last, nil
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") // undefined_table, invalid_schema_name
}

// maybeSweep starts a background Cleanup at most once per CleanupInterval.
func (s *Store) maybeSweep(nowMS int64) {
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
// larger of Options.Retention and the longest window Hit has
// seen; nothing when neither is known) at now, and returns how many. It
// also forgets the refusals remembered in process that end by now.
func (s *Store) Cleanup(ctx context.Context, now time.Time) (int64, error) {
	return s.cleanup(ctx, now.UnixMilli())
}

func (s *Store) cleanup(ctx context.Context, nowMS int64) (int64, error) {
	if s.refused != nil {
		// Covers every row deleted below: a row idle for longer than its
		// window has a refusal, if any, that ended before now.
		s.refused.sweep(nowMS)
	}
	keep := max(s.opts.Retention.Milliseconds(), s.maxWindowMS.Load())
	if keep <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.table+` WHERE `+s.cols.last+` < $1`, nowMS-keep)
	if err != nil {
		return 0, fmt.Errorf("postgres: rate-limit cleanup: %w", storagepg.MapError(ctx, err))
	}
	return tag.RowsAffected(), nil
}

// Close waits for a background cleanup in progress, then closes the
// store's own pool (see [NewFromPool]); it never closes the adapter's or
// the caller's pool. Hit fails after Close. Close may be
// called more than once.
func (s *Store) Close() error {
	s.wg.Wait()
	if s.own {
		s.pool.Close()
	}
	return nil
}

// refusalShards is the number of independently locked parts of a
// refusalCache.
const refusalShards = 32

// refusalCache remembers, per key, until when Hit refuses it (see
// [Store.Hit]). It holds at most its size, rounded up to a
// multiple of refusalShards, in keys.
type refusalCache struct {
	seed   maphash.Seed
	per    int // entries per shard
	shards [refusalShards]refusalShard
}

type refusalShard struct {
	mu sync.Mutex
	m  map[string]refusal
	_  [40]byte // keeps shards' locks on different cache lines
}

// refusal is a remembered refusal: the key is refused under the rule
// (window and max) while now < until (Unix ms: lastRequest + window).
type refusal struct {
	until, winMS, max int64
}

func newRefusalCache(size int) *refusalCache {
	c := &refusalCache{seed: maphash.MakeSeed(), per: max(1, (size+refusalShards-1)/refusalShards)}
	for i := range c.shards {
		c.shards[i].m = map[string]refusal{}
	}
	return c
}

func (c *refusalCache) shard(key string) *refusalShard {
	return &c.shards[maphash.String(c.seed, key)%refusalShards]
}

// get returns until when key is refused at nowMS under the rule, if a
// refusal is remembered for that rule and has not ended.
func (c *refusalCache) get(key string, nowMS, winMS, maxCount int64) (until int64, ok bool) {
	sh := c.shard(key)
	sh.mu.Lock()
	r, found := sh.m[key]
	sh.mu.Unlock()
	if !found || r.winMS != winMS || r.max != maxCount || nowMS >= r.until {
		return 0, false
	}
	return r.until, true
}

// put remembers a refusal. A full shard first drops the refusals ended by
// nowMS and, if that frees less than an eighth of it, arbitrary ones (Go
// randomizes where a map's iteration starts), so that the next sweep is
// an eighth of the shard's inserts away.
func (c *refusalCache) put(key string, r refusal, nowMS int64) {
	if len(key) > maxRefusalKey {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, found := sh.m[key]; !found && len(sh.m) >= c.per {
		for k, e := range sh.m {
			if e.until <= nowMS {
				delete(sh.m, k)
			}
		}
		target := c.per - max(1, c.per/8)
		for k := range sh.m {
			if len(sh.m) <= target {
				break
			}
			delete(sh.m, k)
		}
	}
	sh.m[key] = r
}

// forget drops the refusal remembered for key, if any.
func (c *refusalCache) forget(key string) {
	sh := c.shard(key)
	sh.mu.Lock()
	delete(sh.m, key)
	sh.mu.Unlock()
}

// sweep drops the refusals ended by nowMS.
func (c *refusalCache) sweep(nowMS int64) {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if e.until <= nowMS {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}
