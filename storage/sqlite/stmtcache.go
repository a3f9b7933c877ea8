package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/managarten/mana-auth/storage"
)

// maxCachedStmts bounds each statement cache (one for the read pool, one for
// the write connection, and one per transaction). The adapter's SQL text
// depends only on the schema and the shape of a call (table, fields, operators,
// NULL tests, sort, whether there is a limit), never on values, so a server
// needs a few dozen statements; the bound only matters for an unusual
// workload, whose further statements are then prepared on each call, as
// without a cache.
const maxCachedStmts = 256

// maxCachedListLen is the longest In / NotIn list a cached statement may
// hold: each list length is a distinct SQL text, so statements with longer
// lists are prepared on each call instead of filling the cache.
const maxCachedListLen = 8

// errStmtClosed is database/sql's error for a closed *sql.Stmt (not
// exported by database/sql).
const errStmtClosed = "sql: statement is closed"

// stmtCache holds the statements prepared on one *sql.DB, by SQL text.
// database/sql prepares a statement again on each pool connection it runs on,
// and SQLite (sqlite3_prepare_v2) prepares it again by itself when the schema
// changed since (SQLITE_SCHEMA), so a cached statement stays valid across
// connections and migrations, including those of other processes.
type stmtCache struct {
	db     *sql.DB
	mu     sync.RWMutex
	m      map[string]*sql.Stmt // guarded by mu
	max    int                  // guarded by mu
	closed bool                 // guarded by mu
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, max: maxCachedStmts}
}

// lookup returns the cached statement for query, or nil.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[query]
}

// hasRoom reports whether a statement could be added.
func (c *stmtCache) hasRoom() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return !c.closed && len(c.m) < c.max
}

// get returns the statement for query, preparing and caching it on a miss.
// It returns nil when the statement is not cached and cannot be (the cache
// is full or closed, or preparing failed): the caller then runs the query
// unprepared, which also reports any error exactly as without a cache.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	s := c.m[query]
	room := !c.closed && len(c.m) < c.max
	c.mu.RUnlock()
	if s != nil || !room {
		return s
	}
	// Prepare without holding mu: it may wait for a connection.
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[query]; old != nil { // prepared concurrently
		_ = s.Close()
		return old
	}
	if c.closed || len(c.m) >= c.max {
		_ = s.Close()
		return nil
	}
	c.m[query] = s
	return s
}

// len returns how many statements are cached.
func (c *stmtCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// close closes the cached statements and stops caching. A statement in use
// is closed by database/sql when its use ends; a caller that took it from the
// cache before and runs it after gets errStmtClosed, and falls back to an
// unprepared query.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var err error
	for _, s := range c.m {
		err = errors.Join(err, s.Close())
	}
	c.m = map[string]*sql.Stmt{}
	return err
}

// isStmtClosed reports whether err says that a cached statement was closed
// (by [Adapter.Close]) before it ran: the statement did not run.
func isStmtClosed(err error) bool {
	return err != nil && err.Error() == errStmtClosed
}

// cacheable reports whether statements for where may be cached: none of its
// In / NotIn lists is longer than maxCachedListLen.
func cacheable(where []storage.Where) bool {
	for _, w := range where {
		if w.Op != storage.In && w.Op != storage.NotIn {
			continue
		}
		n := 0
		switch x := w.Value.(type) {
		case []any:
			n = len(x)
		case []string:
			n = len(x)
		case []int64:
			n = len(x)
		}
		if n > maxCachedListLen {
			return false
		}
	}
	return true
}

// txStmt returns the statement for query bound to the transaction, or nil to
// run the query unprepared. The caller holds a.tx.mu. A statement cached on
// the write connection is bound with Tx.StmtContext (no new prepare: the
// transaction runs on that connection); otherwise, if the write cache has
// room, the statement is prepared on the transaction only and queued to be
// added to the write cache when the transaction ends (the write connection's
// only connection is busy until then).
func (a *Adapter) txStmt(ctx context.Context, query string, cache bool) *sql.Stmt {
	t := a.tx
	if !cache {
		return nil
	}
	if s := t.stmts[query]; s != nil {
		return s
	}
	if len(t.stmts) >= maxCachedStmts {
		return nil
	}
	var s *sql.Stmt
	if ps := a.c.ws.lookup(query); ps != nil {
		s = t.tx.StmtContext(ctx, ps)
		if ctx.Err() != nil {
			// The statement may carry the context's error: use it
			// (it reports that error) but do not keep it.
			return s
		}
	} else if a.c.ws.hasRoom() {
		var err error
		if s, err = t.tx.PrepareContext(ctx, query); err != nil {
			return nil
		}
		t.pending = append(t.pending, query)
	} else {
		return nil
	}
	if t.stmts == nil {
		t.stmts = map[string]*sql.Stmt{}
	}
	t.stmts[query] = s
	return s
}

// forget drops the transaction's statement for query after it failed, so
// that a statement carrying a sticky error (from Tx.StmtContext) is not used
// again. The transaction closes its statements when it ends. The caller
// holds a.tx.mu.
func (a *Adapter) forget(query string) {
	delete(a.tx.stmts, query)
}

// cachePending adds the statements the transaction t prepared for itself to
// the write connection's cache, now that the connection is free.
func (a *Adapter) cachePending(ctx context.Context, t *txState) {
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	for _, q := range pending {
		if ctx.Err() != nil {
			return
		}
		_ = a.c.ws.get(ctx, q)
	}
}
