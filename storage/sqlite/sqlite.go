package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlbuild"
)

// DefaultBusyTimeout is how long a connection waits for a lock held by
// another process before giving up, when [Options.BusyTimeout] is zero.
const DefaultBusyTimeout = 5 * time.Second

// MemoryPath is the [Options.Path] of a private in-memory database.
const MemoryPath = ":memory:"

// Options configures [Open].
type Options struct {
	// Path is the database file. It is created, with mode 0600, if it does
	// not exist (its directory must). A "file:" URI is accepted as is.
	// [MemoryPath] (or a "file:" URI naming an in-memory database) opens a
	// private in-memory database on a single connection, for tests and
	// examples; it vanishes on Close.
	Path string
	// BusyTimeout is how long to wait for a lock held by another process.
	// Zero means [DefaultBusyTimeout].
	BusyTimeout time.Duration
	// MaxReadConns caps the pool of read-only connections. Zero means
	// max(4, GOMAXPROCS).
	MaxReadConns int
	// Logger receives migration warnings (columns that could not be made
	// NOT NULL, CHECK constraints that could not be added). Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Adapter is the SQLite [storage.Adapter]. It also implements
// [storage.Migrator], [storage.MigrationPlanner], [storage.Pinger],
// [storage.Closer], [storage.Joiner] and [storage.SchemaChecker]. It is
// safe for concurrent use.
type Adapter struct {
	c  *core
	tx *txState // nil outside a transaction
}

// core is what an adapter and the transaction adapters derived from it share.
type core struct {
	w      *sql.DB    // the single write connection
	r      *sql.DB    // read-only pool (== w for an in-memory database)
	ws     *stmtCache // statements prepared on w
	rs     *stmtCache // statements prepared on r (== ws when r == w)
	log    *slog.Logger
	schema atomic.Pointer[sqlbuild.Schema]
}

// txState is the transaction a transaction adapter runs in.
type txState struct {
	tx *sql.Tx
	mu sync.Mutex // one statement at a time on the transaction's connection
	sp int        // savepoints created so far (guarded by mu)
	// stmts are the transaction's statements by SQL text, closed by
	// database/sql when the transaction ends (guarded by mu).
	stmts map[string]*sql.Stmt
	// pending are statements prepared for the transaction only, to add to
	// the write cache when it ends (guarded by mu).
	pending []string
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

// Open opens (creating if needed, with its directory) the database at
// opts.Path and checks that its recorded schema version is not newer than
// [SchemaVersion]. It does not create tables: call [Adapter.Bind] and then
// [Adapter.Migrate].
func Open(ctx context.Context, opts Options) (*Adapter, error) {
	if opts.Path == "" {
		return nil, errors.New("sqlite: Options.Path is required")
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	memory := opts.Path == MemoryPath || strings.Contains(opts.Path, ":memory:") ||
		strings.Contains(opts.Path, "mode=memory")
	if !memory && !strings.HasPrefix(opts.Path, "file:") {
		// A missing directory is created (private), as the server creates
		// DATA_DIR: "data/auth.db" works on a fresh checkout.
		if dir := filepath.Dir(opts.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("sqlite: creating the directory of %s: %w: %w", opts.Path, storage.ErrUnavailable, err)
			}
		}
		// The file holds sessions and keys: create it private. SQLite gives
		// its -wal and -shm files the same permissions.
		if f, err := os.OpenFile(opts.Path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			_ = f.Close()
		}
	}

	w, err := sql.Open("sqlite", dsn(opts.Path, busy, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", opts.Path, err)
	}
	// One write connection: writers in this process queue in database/sql
	// (honouring their contexts) instead of failing with SQLITE_BUSY.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL before readers open it.
	if err := w.PingContext(ctx); err != nil {
		_ = w.Close()
		err = mapErr(ctx, err)
		if !errors.Is(err, storage.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", opts.Path, err)
	}

	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err == nil && !memory && !strings.EqualFold(mode, "wal") {
		logger.WarnContext(ctx, "sqlite: WAL journal mode unavailable; readers may block writers", "path", opts.Path, "journal_mode", mode)
	}

	r := w
	if !memory {
		r, err = sql.Open("sqlite", dsn(opts.Path, busy, false))
		if err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", opts.Path, err)
		}
		n := opts.MaxReadConns
		if n <= 0 {
			n = max(4, runtime.GOMAXPROCS(0))
		}
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
	}
	c := &core{w: w, r: r, ws: newStmtCache(w), log: logger}
	c.rs = c.ws
	if r != w {
		c.rs = newStmtCache(r)
	}
	a := &Adapter{c: c}
	if err := a.checkVersion(ctx); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

// dsn builds the driver data source name. The pragmas are applied by the
// driver to every new connection of the pool.
func dsn(path string, busy time.Duration, writer bool) string {
	params := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busy.Milliseconds()),
		"_pragma=foreign_keys(1)",
		// A double-quoted name that is not a column is an error, not a
		// string literal (a typo in a Check.Expr must not pass silently).
		"_dqs=0",
	}
	if writer {
		params = append(params,
			"_pragma=journal_mode(WAL)",
			"_pragma=synchronous(NORMAL)",
			"_txlock=immediate",
		)
	} else {
		params = append(params, "_pragma=query_only(1)")
	}
	base := path
	if !strings.HasPrefix(path, "file:") {
		base = "file:" + escapePath(path)
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + strings.Join(params, "&")
}

// escapePath makes a file name safe inside a "file:" URI.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '%', '?', '#':
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Close closes the database and the prepared statements the adapter caches.
// Transactions in progress are rolled back.
func (a *Adapter) Close() error {
	err := a.c.ws.close()
	if a.c.rs != a.c.ws {
		err = errors.Join(err, a.c.rs.close())
	}
	err = errors.Join(err, a.c.w.Close())
	if a.c.r != a.c.w {
		err = errors.Join(err, a.c.r.Close())
	}
	return err
}

// Ping checks that the database can be read (a readiness probe); any
// failure wraps [storage.ErrUnavailable]. It does not wait for the write
// connection.
func (a *Adapter) Ping(ctx context.Context) error {
	var one int
	if err := a.c.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		err = mapErr(ctx, err)
		if !errors.Is(err, storage.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Bind sets the schema the adapter serves. It validates s and does not touch
// the database.
func (a *Adapter) Bind(s storage.Schema) error {
	si, err := sqlbuild.Bind(dialect, s)
	if err != nil {
		return err
	}
	a.c.schema.Store(si)
	return nil
}

func (a *Adapter) table(name string) (*sqlbuild.Table, error) {
	si := a.c.schema.Load()
	if si == nil {
		return nil, errNoSchema
	}
	return si.Table(name)
}

// exec runs a write statement on the transaction or the write connection.
// With cache set, the statement is prepared once and kept (see stmtCache);
// statements whose text varies beyond the shape of a call (savepoint names,
// long In lists) must not set it.
func (a *Adapter) exec(ctx context.Context, query string, args []any, cache bool) (sql.Result, error) {
	var res sql.Result
	var err error
	if a.tx != nil {
		a.tx.mu.Lock()
		defer a.tx.mu.Unlock()
		if s := a.txStmt(ctx, query, cache); s != nil {
			if res, err = s.ExecContext(ctx, args...); err != nil {
				a.forget(query)
			}
		} else {
			res, err = a.tx.tx.ExecContext(ctx, query, args...)
		}
		return res, mapErr(ctx, err)
	}
	var s *sql.Stmt
	if cache {
		s = a.c.ws.get(ctx, query)
	}
	if s != nil {
		res, err = s.ExecContext(ctx, args...)
	}
	if s == nil || isStmtClosed(err) {
		res, err = a.c.w.ExecContext(ctx, query, args...)
	}
	return res, mapErr(ctx, err)
}

// query runs a read statement on the transaction or the read pool and calls
// fn for each row. cache is as for exec.
func (a *Adapter) query(ctx context.Context, query string, args []any, cache bool, fn func(*sql.Rows) error) error {
	var rows *sql.Rows
	var err error
	if a.tx != nil {
		a.tx.mu.Lock()
		defer a.tx.mu.Unlock()
		if s := a.txStmt(ctx, query, cache); s != nil {
			if rows, err = s.QueryContext(ctx, args...); err != nil {
				a.forget(query)
			}
		} else {
			rows, err = a.tx.tx.QueryContext(ctx, query, args...)
		}
	} else {
		var s *sql.Stmt
		if cache {
			s = a.c.rs.get(ctx, query)
		}
		if s != nil {
			rows, err = s.QueryContext(ctx, args...)
		}
		if s == nil || isStmtClosed(err) {
			rows, err = a.c.r.QueryContext(ctx, query, args...)
		}
	}
	if err != nil {
		return mapErr(ctx, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return mapErr(ctx, err)
	}
	return mapErr(ctx, rows.Close())
}

// runner runs the statements of the operations shared with the PostgreSQL
// adapter ([sqlbuild.Runner]) on a's transaction, write connection or read
// pool.
type runner Adapter

// run returns a's [sqlbuild.Runner].
func (a *Adapter) run() *runner { return (*runner)(a) }

// Table returns the bound table called name.
func (r *runner) Table(name string) (*sqlbuild.Table, error) { return (*Adapter)(r).table(name) }

// Exec runs a write statement with exec and returns how many rows it
// changed.
func (r *runner) Exec(ctx context.Context, query string, args []any, cache bool) (int64, error) {
	res, err := (*Adapter)(r).exec(ctx, query, args, cache)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Query runs a read statement with query and hands rows the values of each
// row, scanned into one buffer cleared after each row. An error converting
// them is prefixed with "sqlite: ".
func (r *runner) Query(ctx context.Context, query string, args []any, cache bool, cols int, rows sqlbuild.RowReader) error {
	dest, ptrs := scanDest(cols)
	return (*Adapter)(r).query(ctx, query, args, cache, func(sr *sql.Rows) error {
		if err := sr.Scan(ptrs...); err != nil {
			return err
		}
		if err := rows.ReadRow(dest); err != nil {
			return fmt.Errorf("sqlite: %w", err)
		}
		clear(dest)
		return nil
	})
}

// scanDest returns n values to scan a row into and pointers to them, for
// rows.Scan, in one allocation.
func scanDest(n int) (dest, ptrs []any) {
	buf := make([]any, 2*n)
	dest, ptrs = buf[:n:n], buf[n:]
	for i := range dest {
		ptrs[i] = &dest[i]
	}
	return dest, ptrs
}

// Create inserts rec into table. rec must hold a non-empty "id"; a missing
// or nil required field is [storage.ErrConstraint], a duplicate id or unique
// value [storage.ErrConflict].
func (a *Adapter) Create(ctx context.Context, table string, rec storage.Record) error {
	return sqlbuild.Create(ctx, a.run(), table, rec, true)
}

// FindOne returns the first record of table matching where, or
// [storage.ErrNotFound].
func (a *Adapter) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	return sqlbuild.FindOne(ctx, a.run(), table, where, cacheable(where))
}

// FindOneJoined returns the first record of table matching where together
// with the record its field ref references ([storage.Joiner]), in one
// SELECT … JOIN statement on the read pool (or the transaction).
func (a *Adapter) FindOneJoined(ctx context.Context, table, ref string, where ...storage.Where) (storage.Record, storage.Record, error) {
	return sqlbuild.FindOneJoined(ctx, a.run(), table, ref, where, cacheable(where))
}

var _ storage.ManyJoiner = (*Adapter)(nil)

// FindManyJoined returns every record of table matching where together
// with the record its field ref references ([storage.ManyJoiner]), in one
// SELECT … JOIN statement on the read pool (or the transaction).
func (a *Adapter) FindManyJoined(ctx context.Context, table, ref string, where ...storage.Where) ([]storage.Record, []storage.Record, error) {
	return sqlbuild.FindManyJoined(ctx, a.run(), table, ref, where, cacheable(where))
}

// FindMany returns the records of table matching q, sorted by q.Sort (ties
// broken by id), after skipping q.Offset and at most q.Limit of them.
func (a *Adapter) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	return sqlbuild.Find(ctx, a.run(), table, q, cacheable(q.Where))
}

// Update sets the fields of set on every record of table matching where and
// returns how many records matched. An empty set is an error.
func (a *Adapter) Update(ctx context.Context, table string, set storage.Record, where ...storage.Where) (int64, error) {
	return sqlbuild.Update(ctx, a.run(), table, set, where, cacheable(where))
}

// Delete removes every record of table matching where and returns how many.
func (a *Adapter) Delete(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	return sqlbuild.Delete(ctx, a.run(), table, where, cacheable(where))
}

// Count returns how many records of table match where.
func (a *Adapter) Count(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	return sqlbuild.Count(ctx, a.run(), table, where, cacheable(where))
}

// Tx runs fn in a transaction (BEGIN IMMEDIATE on the write connection). If
// fn returns an error or panics, the transaction is rolled back; otherwise it
// is committed. A Tx call on the adapter passed to fn runs in the same
// transaction, inside a savepoint: if the inner fn fails, only its writes are
// undone.
func (a *Adapter) Tx(ctx context.Context, fn func(tx storage.Adapter) error) (err error) {
	if fn == nil {
		return errors.New("sqlite: Tx with a nil function")
	}
	if a.tx != nil {
		return a.savepoint(ctx, fn)
	}
	tx, err := a.c.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", mapErr(ctx, err))
	}
	ta := &Adapter{c: a.c, tx: &txState{tx: tx}}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback() // fn panicked
		}
	}()
	if err := fn(ta); err != nil {
		done = true
		_ = tx.Rollback()
		a.cachePending(ctx, ta.tx)
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", mapErr(ctx, err))
	}
	a.cachePending(ctx, ta.tx)
	return nil
}

func (a *Adapter) savepoint(ctx context.Context, fn func(tx storage.Adapter) error) error {
	a.tx.mu.Lock()
	a.tx.sp++
	name := fmt.Sprintf("mana_sp_%d", a.tx.sp)
	a.tx.mu.Unlock()
	if _, err := a.exec(ctx, "SAVEPOINT "+name, nil, false); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	done := false
	rollback := func() {
		// Cleanup must run even if ctx is done.
		bg := context.WithoutCancel(ctx)
		_, _ = a.exec(bg, "ROLLBACK TO SAVEPOINT "+name, nil, false)
		_, _ = a.exec(bg, "RELEASE SAVEPOINT "+name, nil, false)
	}
	defer func() {
		if !done {
			rollback() // fn panicked
		}
	}()
	if err := fn(a); err != nil {
		done = true
		rollback()
		return err
	}
	done = true
	if _, err := a.exec(ctx, "RELEASE SAVEPOINT "+name, nil, false); err != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return nil
}
