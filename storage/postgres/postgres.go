package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/internal/sqlident"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlbuild"
)

// cancelDeadline is how long a cancelled statement may take to stop before
// its connection is closed.
const cancelDeadline = 2 * time.Second

// DefaultSchema is the PostgreSQL schema used when [Options.Schema] is empty.
const DefaultSchema = "public"

// Options configures [Open] and [New].
type Options struct {
	// URL is the connection string, as a URL
	// (postgres://user:password@host:5432/db?sslmode=require) or in
	// key=value form. Empty means libpq's environment variables (PGHOST, …).
	// Ignored by [New].
	URL string
	// Schema is the PostgreSQL schema holding the tables (created by
	// Migrate if missing). Empty means [DefaultSchema].
	Schema string
	// MaxConns caps the pool size; zero keeps pgxpool's default
	// (max(4, number of CPUs)) or the URL's pool_max_conns. Ignored by [New].
	MaxConns int32
	// MinConns is the number of connections kept open; zero keeps pgxpool's
	// default or the URL's pool_min_conns. Ignored by [New].
	MinConns int32
	// Logger receives migration warnings (columns left nullable, CHECK
	// constraints added NOT VALID, type mismatches). Nil means slog.Default().
	Logger *slog.Logger
	// QueryTimeout bounds each operation (a transaction as a whole) whose
	// context has no earlier deadline, so a frozen or unreachable database
	// makes requests fail fast instead of hanging. Zero means
	// DefaultQueryTimeout; negative disables it. Migrations are not bound.
	QueryTimeout time.Duration
}

// DefaultQueryTimeout is the QueryTimeout used when Options leaves it zero.
const DefaultQueryTimeout = 10 * time.Second

// Adapter is the PostgreSQL [storage.Adapter]. It also implements
// [storage.Migrator], [storage.MigrationPlanner], [storage.Pinger],
// [storage.Closer], [storage.Joiner], [storage.ScopedTxer] and
// [storage.SchemaChecker]. It is safe for concurrent use.
type Adapter struct {
	c  *core
	tx *txState // nil outside a transaction
}

// core is what an adapter and the transaction adapters derived from it share.
type core struct {
	pool   *pgxpool.Pool
	owned  bool   // Close closes the pool
	schema string // PostgreSQL schema name
	d      *sqlbuild.Dialect
	log    *slog.Logger
	bound  atomic.Pointer[sqlbuild.Schema]
	limit  time.Duration // QueryTimeout; <= 0 means none
}

// deadline bounds an operation by the query timeout, outside transactions
// (a transaction is bound as a whole by Tx) and when ctx has no earlier
// deadline.
func (a *Adapter) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if a.tx != nil || a.c.limit <= 0 {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= a.c.limit {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, a.c.limit)
}

// txState is the transaction (or savepoint) a transaction adapter runs in.
type txState struct {
	tx pgx.Tx
	mu *sync.Mutex // one statement at a time on the connection; shared by nested savepoints
	// settings are the ScopedTx settings (name, value, …) not yet sent:
	// they go out with the first statement.
	settings []any
}

// Interface checks.
var (
	_ storage.Adapter          = (*Adapter)(nil)
	_ storage.Migrator         = (*Adapter)(nil)
	_ storage.MigrationPlanner = (*Adapter)(nil)
	_ storage.Pinger           = (*Adapter)(nil)
	_ storage.Closer           = (*Adapter)(nil)
	_ storage.Joiner           = (*Adapter)(nil)
	_ storage.SchemaChecker    = (*Adapter)(nil)
)

// Open creates a connection pool for opts.URL, checks that the server can be
// reached (an error wrapping [storage.ErrUnavailable] otherwise) and that the
// schema version recorded in the database is not newer than [SchemaVersion].
// It does not create tables: call [Adapter.Bind] and then [Adapter.Migrate].
// [Adapter.Close] closes the pool.
func Open(ctx context.Context, opts Options) (*Adapter, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = opts.MinConns
	}
	if cfg.MinConns > cfg.MaxConns {
		cfg.MinConns = cfg.MaxConns
	}
	// On a cancelled context, ask the server to cancel the statement (so
	// that, say, an UPDATE waiting for a lock is not applied later), and
	// drop the connection if the server does not answer within 2 s.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: cancelDeadline}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "mana-auth"
	}
	a, err := newAdapter(opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	a.c.pool, a.c.owned = pool, true
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", unavailable(ctx, err))
	}
	if err := a.checkVersion(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return a, nil
}

// New returns an adapter over a pool the caller owns (opts.URL, MaxConns
// and MinConns are ignored). It does not touch the database; Migrate checks
// the schema version. Close does not close the pool. It fails only for a
// nil pool or an invalid opts.Schema.
//
// Unlike [Open], New keeps the pool's context handling: pgx's default
// closes the connection when a context is cancelled, without cancelling
// the statement on the server. Set ConnConfig.BuildContextWatcherHandler
// to a [pgconn.CancelRequestContextWatcherHandler] to have it cancelled.
func New(pool *pgxpool.Pool, opts Options) (*Adapter, error) {
	if pool == nil {
		return nil, errors.New("postgres: New with a nil pool")
	}
	a, err := newAdapter(opts)
	if err != nil {
		return nil, err
	}
	a.c.pool = pool
	return a, nil
}

func newAdapter(opts Options) (*Adapter, error) {
	schema := opts.Schema
	if schema == "" {
		schema = DefaultSchema
	}
	if !sqlident.Valid(schema) {
		return nil, fmt.Errorf("postgres: invalid schema name %q", schema)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	limit := opts.QueryTimeout
	if limit == 0 {
		limit = DefaultQueryTimeout
	}
	return &Adapter{c: &core{schema: schema, d: newDialect(schema), log: logger, limit: limit}}, nil
}

// SchemaName returns the PostgreSQL schema the adapter's tables live in.
func (a *Adapter) SchemaName() string { return a.c.schema }

// Pool returns the underlying connection pool.
func (a *Adapter) Pool() *pgxpool.Pool { return a.c.pool }

// Close closes the pool if [Open] created it; an adapter from [New] leaves
// the caller's pool open.
func (a *Adapter) Close() error {
	if a.c.owned {
		a.c.pool.Close()
	}
	return nil
}

// Ping checks that the server answers (a readiness probe). Any failure,
// including ctx expiring first, wraps [storage.ErrUnavailable].
func (a *Adapter) Ping(ctx context.Context) error {
	if err := a.c.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", unavailable(ctx, err))
	}
	return nil
}

// unavailable maps a failed ping: whatever the cause (including a context
// that expired while connecting), the database is unavailable.
func unavailable(ctx context.Context, err error) error {
	err = MapError(ctx, err)
	if !errors.Is(err, storage.ErrUnavailable) {
		err = fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// Bind sets the schema the adapter serves. It validates s and does not touch
// the database.
func (a *Adapter) Bind(s storage.Schema) error {
	si, err := sqlbuild.Bind(a.c.d, s)
	if err != nil {
		return err
	}
	a.c.bound.Store(si)
	return nil
}

func (a *Adapter) table(name string) (*sqlbuild.Table, error) {
	si := a.c.bound.Load()
	if si == nil {
		return nil, errNoSchema
	}
	return si.Table(name)
}

// stmtSavepoint guards each write inside a transaction.
const stmtSavepoint = "mana_stmt"

// exec runs a write statement. Inside a transaction it is wrapped in a
// savepoint (one round trip) so that a failed statement leaves the
// transaction usable.
func (a *Adapter) exec(ctx context.Context, query string, args []any) (pgconn.CommandTag, error) {
	if a.tx == nil {
		tag, err := a.c.pool.Exec(ctx, query, args...)
		return tag, MapError(ctx, err)
	}
	a.tx.mu.Lock()
	defer a.tx.mu.Unlock()
	b := &pgx.Batch{}
	settings := a.tx.queueSettings(b)
	b.Queue("SAVEPOINT " + stmtSavepoint)
	b.Queue(query, args...)
	b.Queue("RELEASE SAVEPOINT " + stmtSavepoint)
	br := a.tx.tx.SendBatch(ctx, b)
	var err error
	for i := 0; i <= settings && err == nil; i++ { // the settings, the savepoint
		_, err = br.Exec()
	}
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
		if err == nil {
			_, err = br.Exec()
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && ctx.Err() == nil {
			// Undo the failed statement only; the transaction goes on.
			_, _ = a.tx.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+stmtSavepoint+"; RELEASE SAVEPOINT "+stmtSavepoint)
		}
		return tag, MapError(ctx, err)
	}
	return tag, nil
}

// query runs a read statement and calls fn for each row's values.
func (a *Adapter) query(ctx context.Context, query string, args []any, fn func([]any) error) error {
	var rows pgx.Rows
	var err error
	if a.tx != nil {
		a.tx.mu.Lock()
		defer a.tx.mu.Unlock()
		if len(a.tx.settings) > 0 {
			return a.tx.queryScoped(ctx, query, args, fn)
		}
		rows, err = a.tx.tx.Query(ctx, query, args...)
	} else {
		rows, err = a.c.pool.Query(ctx, query, args...)
	}
	if err != nil {
		return MapError(ctx, err)
	}
	return scanRows(ctx, rows, fn)
}

// scanRows calls fn for the values of each of rows, and closes rows.
func scanRows(ctx context.Context, rows pgx.Rows, fn func([]any) error) error {
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return MapError(ctx, err)
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	return MapError(ctx, rows.Err())
}

// runner runs the statements of the operations shared with the SQLite
// adapter ([sqlbuild.Runner]) on a's transaction or pool. pgx caches
// prepared statements itself: the cache flags are ignored.
type runner Adapter

// run returns a's [sqlbuild.Runner].
func (a *Adapter) run() *runner { return (*runner)(a) }

// Table returns the bound table called name.
func (r *runner) Table(name string) (*sqlbuild.Table, error) { return (*Adapter)(r).table(name) }

// Exec runs a write statement with exec and returns how many rows it
// changed.
func (r *runner) Exec(ctx context.Context, query string, args []any, _ bool) (int64, error) {
	tag, err := (*Adapter)(r).exec(ctx, query, args)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// Query runs a read statement with query and hands rows the values of each
// row.
func (r *runner) Query(ctx context.Context, query string, args []any, _ bool, _ int, rows sqlbuild.RowReader) error {
	return (*Adapter)(r).query(ctx, query, args, rows.ReadRow)
}

// Create inserts rec into table. rec must hold "id"; a missing or nil
// required field is [storage.ErrConstraint], a duplicate id or unique value
// [storage.ErrConflict].
func (a *Adapter) Create(ctx context.Context, table string, rec storage.Record) error {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.Create(ctx, a.run(), table, rec, false)
}

// FindOne returns the first record of table matching where, or
// [storage.ErrNotFound].
func (a *Adapter) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.FindOne(ctx, a.run(), table, where, false)
}

// FindOneJoined returns the first record of table matching where together
// with the record its field ref references ([storage.Joiner]), in one
// SELECT … JOIN statement (one round trip; its text depends only on the
// tables and the shape of where, so pgx's statement cache serves it).
func (a *Adapter) FindOneJoined(ctx context.Context, table, ref string, where ...storage.Where) (storage.Record, storage.Record, error) {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.FindOneJoined(ctx, a.run(), table, ref, where, false)
}

var _ storage.ManyJoiner = (*Adapter)(nil)

// FindManyJoined returns every record of table matching where together
// with the record its field ref references ([storage.ManyJoiner]), in one
// SELECT … JOIN statement; an In condition is one array parameter
// (= ANY($n)), so the statement's text does not depend on the list's
// length and pgx's statement cache serves it.
func (a *Adapter) FindManyJoined(ctx context.Context, table, ref string, where ...storage.Where) ([]storage.Record, []storage.Record, error) {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.FindManyJoined(ctx, a.run(), table, ref, where, false)
}

// FindMany returns the records of table matching q, sorted by q.Sort (ties
// broken by id), after skipping q.Offset and at most q.Limit of them.
func (a *Adapter) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.Find(ctx, a.run(), table, q, false)
}

// Update sets the fields of set on every record of table matching where and
// returns how many records matched. An empty set is an error.
func (a *Adapter) Update(ctx context.Context, table string, set storage.Record, where ...storage.Where) (int64, error) {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.Update(ctx, a.run(), table, set, where, false)
}

// Delete removes every record of table matching where and returns how many.
func (a *Adapter) Delete(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.Delete(ctx, a.run(), table, where, false)
}

// Count returns how many records of table match where.
func (a *Adapter) Count(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	return sqlbuild.Count(ctx, a.run(), table, where, false)
}

// Tx runs fn in a transaction. If fn returns an error or panics, the
// transaction is rolled back; otherwise it is committed. A Tx call on the
// adapter passed to fn runs in the same transaction, inside a savepoint: if
// the inner fn fails, only its writes are undone.
func (a *Adapter) Tx(ctx context.Context, fn func(tx storage.Adapter) error) error {
	return a.runTx(ctx, nil, fn)
}

// runTx is Tx, with the ScopedTx settings (name, value, …) of a new
// transaction.
func (a *Adapter) runTx(ctx context.Context, settings []any, fn func(tx storage.Adapter) error) error {
	ctx, cancel := a.deadline(ctx)
	defer cancel()
	if fn == nil {
		return errors.New("postgres: Tx with a nil function")
	}
	var tx pgx.Tx
	var err error
	var mu *sync.Mutex
	if a.tx != nil {
		a.tx.mu.Lock()
		if err = a.tx.sendSettings(ctx); err == nil {
			tx, err = a.tx.tx.Begin(ctx) // SAVEPOINT
		}
		a.tx.mu.Unlock()
		mu = a.tx.mu
	} else {
		tx, err = a.c.pool.BeginTx(ctx, pgx.TxOptions{})
		mu = new(sync.Mutex)
	}
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", MapError(ctx, err))
	}
	ta := &Adapter{c: a.c, tx: &txState{tx: tx, mu: mu, settings: settings}}
	rollback := func() {
		mu.Lock()
		defer mu.Unlock()
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}
	done := false
	defer func() {
		if !done {
			rollback() // fn panicked
		}
	}()
	if err := fn(ta); err != nil {
		done = true
		rollback()
		return err
	}
	done = true
	mu.Lock()
	err = tx.Commit(ctx)
	mu.Unlock()
	if err != nil {
		return fmt.Errorf("postgres: commit: %w", MapError(ctx, err))
	}
	return nil
}
