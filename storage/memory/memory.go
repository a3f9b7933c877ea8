// Package memory is an in-memory [storage.Adapter], for tests, examples and
// single-process development servers. Nothing survives the process.
//
// It enforces what a SQL database would: the primary key "id" and Unique
// fields are unique (NULLs never conflict) – [storage.ErrConflict];
// Required fields are NOT NULL, Check.Func must hold, and References are
// foreign keys (a missing parent, a changed parent key that is still
// referenced, or a delete blocked by Restrict) – [storage.ErrConstraint].
// On delete, Cascade deletes children recursively and SetNull nulls them; an
// empty OnDelete behaves like Restrict (SQL's NO ACTION). Every write is
// atomic: a statement that fails changes nothing.
//
// Comparisons follow SQL: a NULL value never matches a condition except
// Eq nil / Ne nil (so Ne, NotIn, Lt, … never match NULLs). Strings compare
// byte-wise; Contains, StartsWith and EndsWith are case-sensitive; times
// compare by instant. When sorting, NULL sorts before every value; ties keep
// insertion order. Referenced fields are assumed to be unique, as SQL
// requires.
//
// Usage:
//
//	db := memory.New()
//	if err := db.Bind(schema); err != nil { … }
//	err := db.Create(ctx, "user", storage.Record{"id": "u1", …})
package memory

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/managarten/mana-auth/storage"
)

var (
	errNotBound = errors.New("memory: adapter is not bound to a schema (call Bind first)")
	errTxDone   = errors.New("memory: transaction has already been committed or rolled back")
)

// Adapter is an in-memory [storage.Adapter]. It is safe for concurrent use:
// reads share a read lock and every write takes the write lock. Create one
// with [New].
type Adapter struct {
	mu   sync.RWMutex
	c    *compiled
	data *store
}

var (
	_ storage.Adapter = (*Adapter)(nil)
	_ storage.Joiner  = (*Adapter)(nil)
)

// New returns an empty adapter. Call Bind before using it.
func New() *Adapter { return &Adapter{data: newStore()} }

// Bind validates s and serves it from now on. Binding again with another
// schema keeps the stored rows of the tables both schemas share.
func (a *Adapter) Bind(s storage.Schema) error {
	s = s.Clone()
	if err := s.Validate(); err != nil {
		return err
	}
	for _, t := range s.Tables {
		for _, f := range t.Fields {
			if r := f.References; r != nil {
				switch r.OnDelete {
				case "", storage.Cascade, storage.SetNull, storage.Restrict:
				default:
					return fmt.Errorf("memory: field %s.%s: unknown OnDelete action %q", t.Name, f.Name, r.OnDelete)
				}
			}
		}
	}
	c := compile(s)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.c = c
	if a.data == nil {
		a.data = newStore()
	}
	return nil
}

// Create inserts rec into table.
func (a *Adapter) Create(ctx context.Context, table string, rec storage.Record) error {
	return create(ctx, a, table, rec)
}

// FindOne returns the first record of table, in insertion order, that
// matches where, or an error wrapping [storage.ErrNotFound].
func (a *Adapter) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	return findOne(ctx, a, table, where)
}

// FindOneJoined returns the first record of table, in insertion order, that
// matches where and whose field ref references an existing record, with
// that record ([storage.Joiner]); an error wrapping [storage.ErrNotFound]
// if there is none.
func (a *Adapter) FindOneJoined(ctx context.Context, table, ref string, where ...storage.Where) (rec, refRec storage.Record, err error) {
	return findOneJoined(ctx, a, table, ref, where)
}

// FindMany returns the records of table matching q.
func (a *Adapter) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	return findMany(ctx, a, table, q)
}

// Update sets the fields of set on every record of table matching where and
// returns how many matched.
func (a *Adapter) Update(ctx context.Context, table string, set storage.Record, where ...storage.Where) (int64, error) {
	return update(ctx, a, table, set, where)
}

// Delete removes every record of table matching where (applying the
// foreign keys' OnDelete actions) and returns how many records of table
// it removed.
func (a *Adapter) Delete(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	return remove(ctx, a, table, where)
}

// Count returns how many records of table match where.
func (a *Adapter) Count(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	return count(ctx, a, table, where)
}

// Tx runs fn in a transaction. It holds the adapter's write lock until fn
// returns, so transactions are serialized and see no concurrent writes; fn
// works on a snapshot that replaces the adapter's data only if fn returns
// nil (and ctx is still alive). If fn panics, nothing is kept and the panic
// propagates.
//
// fn must do all its work through the adapter it is given: calling the outer
// Adapter from inside fn deadlocks. A Tx call on the transaction's adapter
// simply runs its fn in the same transaction (there are no savepoints: an
// error it returns, when propagated, rolls back the whole transaction).
func (a *Adapter) Tx(ctx context.Context, fn func(tx storage.Adapter) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if fn == nil {
		return errors.New("memory: Tx with a nil function")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.c == nil {
		return errNotBound
	}
	tx := &txAdapter{ctx: ctx, c: a.c, s: a.data.clone()}
	defer tx.finish()
	if err := fn(tx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := tx.commit()
	if err != nil {
		return err
	}
	a.data = s
	return nil
}

func (a *Adapter) read(ctx context.Context, fn func(*compiled, *store) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.c == nil {
		return errNotBound
	}
	return fn(a.c, a.data)
}

func (a *Adapter) write(ctx context.Context, fn func(*compiled, *store) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.c == nil {
		return errNotBound
	}
	w := a.data.clone()
	if err := fn(a.c, w); err != nil {
		return err
	}
	a.data = w
	return nil
}

// txAdapter is the adapter a transaction function receives. It works on a
// private snapshot; its own mutex makes it safe for concurrent use too.
type txAdapter struct {
	ctx  context.Context // the context Tx was called with
	c    *compiled
	mu   sync.Mutex
	s    *store
	done bool
}

var (
	_ storage.Adapter = (*txAdapter)(nil)
	_ storage.Joiner  = (*txAdapter)(nil)
)

func (tx *txAdapter) finish() {
	tx.mu.Lock()
	tx.done = true
	tx.mu.Unlock()
}

func (tx *txAdapter) commit() (*store, error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.done {
		return nil, errTxDone
	}
	tx.done = true
	return tx.s, nil
}

func (tx *txAdapter) check(ctx context.Context) error {
	if tx.done {
		return errTxDone
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return tx.ctx.Err()
}

func (tx *txAdapter) read(ctx context.Context, fn func(*compiled, *store) error) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.check(ctx); err != nil {
		return err
	}
	return fn(tx.c, tx.s)
}

func (tx *txAdapter) write(ctx context.Context, fn func(*compiled, *store) error) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.check(ctx); err != nil {
		return err
	}
	w := tx.s.clone()
	if err := fn(tx.c, w); err != nil {
		return err
	}
	tx.s = w
	return nil
}

func (tx *txAdapter) Bind(storage.Schema) error {
	return errors.New("memory: Bind inside a transaction")
}

func (tx *txAdapter) Create(ctx context.Context, table string, rec storage.Record) error {
	return create(ctx, tx, table, rec)
}

func (tx *txAdapter) FindOne(ctx context.Context, table string, where ...storage.Where) (storage.Record, error) {
	return findOne(ctx, tx, table, where)
}

func (tx *txAdapter) FindOneJoined(ctx context.Context, table, ref string, where ...storage.Where) (rec, refRec storage.Record, err error) {
	return findOneJoined(ctx, tx, table, ref, where)
}

func (tx *txAdapter) FindMany(ctx context.Context, table string, q storage.Query) ([]storage.Record, error) {
	return findMany(ctx, tx, table, q)
}

func (tx *txAdapter) Update(ctx context.Context, table string, set storage.Record, where ...storage.Where) (int64, error) {
	return update(ctx, tx, table, set, where)
}

func (tx *txAdapter) Delete(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	return remove(ctx, tx, table, where)
}

func (tx *txAdapter) Count(ctx context.Context, table string, where ...storage.Where) (int64, error) {
	return count(ctx, tx, table, where)
}

// Tx runs fn within the enclosing transaction.
func (tx *txAdapter) Tx(ctx context.Context, fn func(storage.Adapter) error) error {
	tx.mu.Lock()
	err := tx.check(ctx)
	tx.mu.Unlock()
	if err != nil {
		return err
	}
	if fn == nil {
		return errors.New("memory: Tx with a nil function")
	}
	return fn(tx)
}

// access is what the operations below need of the adapter or of a
// transaction: a consistent snapshot to read, and a copy to write that
// replaces the snapshot only if fn succeeds.
type access interface {
	read(ctx context.Context, fn func(*compiled, *store) error) error
	write(ctx context.Context, fn func(*compiled, *store) error) error
}

func create(ctx context.Context, acc access, table string, rec storage.Record) error {
	return acc.write(ctx, func(c *compiled, s *store) error { return c.create(s, table, rec) })
}

func findOne(ctx context.Context, acc access, table string, where []storage.Where) (rec storage.Record, err error) {
	err = acc.read(ctx, func(c *compiled, s *store) error {
		rec, err = c.findOne(s, table, where)
		return err
	})
	return rec, err
}

func findOneJoined(ctx context.Context, acc access, table, ref string, where []storage.Where) (rec, refRec storage.Record, err error) {
	err = acc.read(ctx, func(c *compiled, s *store) error {
		rec, refRec, err = c.findOneJoined(s, table, ref, where)
		return err
	})
	return rec, refRec, err
}

func findMany(ctx context.Context, acc access, table string, q storage.Query) (recs []storage.Record, err error) {
	err = acc.read(ctx, func(c *compiled, s *store) error {
		recs, err = c.findMany(s, table, q)
		return err
	})
	return recs, err
}

func update(ctx context.Context, acc access, table string, set storage.Record, where []storage.Where) (n int64, err error) {
	err = acc.write(ctx, func(c *compiled, s *store) error {
		n, err = c.update(s, table, set, where)
		return err
	})
	return n, err
}

func remove(ctx context.Context, acc access, table string, where []storage.Where) (n int64, err error) {
	err = acc.write(ctx, func(c *compiled, s *store) error {
		n, err = c.delete(s, table, where)
		return err
	})
	return n, err
}

func count(ctx context.Context, acc access, table string, where []storage.Where) (n int64, err error) {
	err = acc.read(ctx, func(c *compiled, s *store) error {
		n, err = c.count(s, table, where)
		return err
	})
	return n, err
}

// store holds the rows of every table, each table's rows in insertion
// order. Stored records are never modified: an update replaces the record.
// Slices are copy-on-write: clone shares them, and a table's slice is copied
// before the first write after a clone (see own).
type store struct {
	tables map[string][]storage.Record
	owned  map[string]bool // slices this store may modify in place
}

func newStore() *store {
	return &store{tables: map[string][]storage.Record{}, owned: map[string]bool{}}
}

// clone returns a store sharing s's rows. Afterwards neither store owns any
// slice, so each copies a table before writing to it.
func (s *store) clone() *store {
	clear(s.owned)
	return &store{tables: maps.Clone(s.tables), owned: map[string]bool{}}
}

// own returns the rows of table, copied first unless s already owns them.
func (s *store) own(table string) []storage.Record {
	if !s.owned[table] {
		s.tables[table] = slices.Clone(s.tables[table])
		s.owned[table] = true
	}
	return s.tables[table]
}

// compiled is a bound schema with the lookups the adapter needs.
type compiled struct {
	tables map[string]*tableInfo
}

type tableInfo struct {
	name     string
	fields   []storage.Field // "id" first
	byName   map[string]storage.Field
	checks   []storage.Check
	children []childRef // foreign keys (in any table) that point at this table
}

type childRef struct {
	table string // child table
	field string // child field
	ref   storage.Reference
}

func compile(s storage.Schema) *compiled {
	c := &compiled{tables: map[string]*tableInfo{}}
	for i := range s.Tables {
		t := &s.Tables[i]
		ti := &tableInfo{name: t.Name, fields: t.AllFields(), byName: map[string]storage.Field{}, checks: t.Checks}
		for _, f := range ti.fields {
			ti.byName[f.Name] = f
		}
		c.tables[t.Name] = ti
	}
	for _, t := range s.Tables {
		for _, f := range t.Fields {
			if r := f.References; r != nil {
				p := c.tables[r.Table]
				p.children = append(p.children, childRef{table: t.Name, field: f.Name, ref: *r})
			}
		}
	}
	return c
}

func (c *compiled) table(name string) (*tableInfo, error) {
	ti, ok := c.tables[name]
	if !ok {
		return nil, fmt.Errorf("memory: unknown table %q", name)
	}
	return ti, nil
}

// normalize checks the fields of rec and converts their values to canonical
// form. It refuses strings that are not storable, as a database does.
func (ti *tableInfo) normalize(rec storage.Record) (storage.Record, error) {
	out := make(storage.Record, len(rec))
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		f, ok := ti.byName[k]
		if !ok {
			return nil, fmt.Errorf("memory: table %s has no field %q", ti.name, k)
		}
		v, err := storage.Normalize(f.Type, rec[k])
		if err != nil {
			return nil, fmt.Errorf("memory: %s.%s: %w", ti.name, k, err)
		}
		if s, ok := v.(string); ok && !storage.Storable(s) {
			return nil, fmt.Errorf("memory: %s.%s: %w", ti.name, k, storage.ErrInvalidValue)
		}
		out[k] = v
	}
	return out, nil
}

// export returns a copy of a stored row with exactly the schema's fields.
func (ti *tableInfo) export(r storage.Record) storage.Record {
	out := make(storage.Record, len(ti.fields))
	for _, f := range ti.fields {
		out[f.Name] = r[f.Name]
	}
	return out
}

// validate enforces NOT NULL and the checks on a complete row.
func (ti *tableInfo) validate(row storage.Record) error {
	for _, f := range ti.fields {
		if f.Required && row[f.Name] == nil {
			return fmt.Errorf("memory: %s.%s must not be null: %w", ti.name, f.Name, storage.ErrConstraint)
		}
	}
	for _, ch := range ti.checks {
		if ch.Func != nil && !ch.Func(ti.export(row)) {
			return fmt.Errorf("memory: %s: check %q failed: %w", ti.name, ch.Name, storage.ErrConstraint)
		}
	}
	return nil
}

// unique reports ErrConflict if two rows share a non-NULL value of field.
func (ti *tableInfo) unique(rows []storage.Record, field string) error {
	seen := make(map[any]bool, len(rows))
	for _, r := range rows {
		v := r[field]
		if v == nil {
			continue
		}
		k := key(v)
		if seen[k] {
			return fmt.Errorf("memory: duplicate value of %s.%s: %w", ti.name, field, storage.ErrConflict)
		}
		seen[k] = true
	}
	return nil
}

// exists reports whether some row of table has value v in field.
func exists(s *store, table, field string, v any) bool {
	for _, r := range s.tables[table] {
		if equal(r[field], v) {
			return true
		}
	}
	return false
}

func (c *compiled) checkParent(s *store, ti *tableInfo, f storage.Field, v any) error {
	if r := f.References; r != nil && v != nil && !exists(s, r.Table, r.Field, v) {
		return fmt.Errorf("memory: %s.%s: no %s with %s %v: %w", ti.name, f.Name, r.Table, r.Field, v, storage.ErrConstraint)
	}
	return nil
}

func (c *compiled) create(s *store, table string, rec storage.Record) error {
	ti, err := c.table(table)
	if err != nil {
		return err
	}
	vals, err := ti.normalize(rec)
	if err != nil {
		return err
	}
	row := ti.export(vals)
	if err := ti.validate(row); err != nil {
		return err
	}
	for _, f := range ti.fields {
		if v := row[f.Name]; f.Unique && v != nil && exists(s, table, f.Name, v) {
			return fmt.Errorf("memory: duplicate value of %s.%s: %w", ti.name, f.Name, storage.ErrConflict)
		}
	}
	s.tables[table] = append(s.own(table), row)
	for _, f := range ti.fields {
		if err := c.checkParent(s, ti, f, row[f.Name]); err != nil {
			return err
		}
	}
	return nil
}

func (c *compiled) findOne(s *store, table string, where []storage.Where) (storage.Record, error) {
	ti, err := c.table(table)
	if err != nil {
		return nil, err
	}
	f, err := ti.filter(where)
	if err != nil {
		return nil, err
	}
	for _, r := range s.tables[table] {
		if f.match(r) {
			return ti.export(r), nil
		}
	}
	return nil, fmt.Errorf("memory: %s: %w", table, storage.ErrNotFound)
}

func (c *compiled) findOneJoined(s *store, table, ref string, where []storage.Where) (storage.Record, storage.Record, error) {
	ti, err := c.table(table)
	if err != nil {
		return nil, nil, err
	}
	f, ok := ti.byName[ref]
	if !ok {
		return nil, nil, fmt.Errorf("memory: table %s has no field %q", table, ref)
	}
	r := f.References
	if r == nil {
		return nil, nil, fmt.Errorf("memory: field %s.%s is not a reference", table, ref)
	}
	rti, err := c.table(r.Table)
	if err != nil {
		return nil, nil, err
	}
	flt, err := ti.filter(where)
	if err != nil {
		return nil, nil, err
	}
	for _, row := range s.tables[table] {
		if !flt.match(row) || row[ref] == nil {
			continue
		}
		for _, p := range s.tables[r.Table] {
			if equal(p[r.Field], row[ref]) {
				return ti.export(row), rti.export(p), nil
			}
		}
	}
	return nil, nil, fmt.Errorf("memory: %s joined with %s: %w", table, r.Table, storage.ErrNotFound)
}

func (c *compiled) findMany(s *store, table string, q storage.Query) ([]storage.Record, error) {
	ti, err := c.table(table)
	if err != nil {
		return nil, err
	}
	f, err := ti.filter(q.Where)
	if err != nil {
		return nil, err
	}
	for _, so := range q.Sort {
		if _, ok := ti.byName[so.Field]; !ok {
			return nil, fmt.Errorf("memory: cannot sort by unknown field %s.%s", table, so.Field)
		}
	}
	if q.Limit < 0 || q.Offset < 0 {
		return nil, fmt.Errorf("memory: negative limit or offset")
	}
	var out []storage.Record
	for _, r := range s.tables[table] {
		if f.match(r) {
			out = append(out, r)
		}
	}
	if len(q.Sort) > 0 {
		slices.SortStableFunc(out, func(a, b storage.Record) int {
			for _, so := range q.Sort {
				c := compare(a[so.Field], b[so.Field])
				if so.Desc {
					c = -c
				}
				if c != 0 {
					return c
				}
			}
			return 0
		})
	}
	out = out[min(q.Offset, len(out)):]
	if q.Limit > 0 && q.Limit < len(out) {
		out = out[:q.Limit]
	}
	res := make([]storage.Record, len(out))
	for i, r := range out {
		res[i] = ti.export(r)
	}
	return res, nil
}

func (c *compiled) count(s *store, table string, where []storage.Where) (int64, error) {
	ti, err := c.table(table)
	if err != nil {
		return 0, err
	}
	f, err := ti.filter(where)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range s.tables[table] {
		if f.match(r) {
			n++
		}
	}
	return n, nil
}

func (c *compiled) update(s *store, table string, set storage.Record, where []storage.Where) (int64, error) {
	ti, err := c.table(table)
	if err != nil {
		return 0, err
	}
	vals, err := ti.normalize(set)
	if err != nil {
		return 0, err
	}
	if len(vals) == 0 {
		return 0, fmt.Errorf("memory: update of %s sets no fields", table)
	}
	f, err := ti.filter(where)
	if err != nil {
		return 0, err
	}
	var idx []int
	var prev []storage.Record
	for i, r := range s.tables[table] {
		if f.match(r) {
			idx = append(idx, i)
			prev = append(prev, r)
		}
	}
	if len(idx) == 0 {
		return 0, nil
	}
	rows := s.own(table)
	for _, i := range idx {
		nr := maps.Clone(rows[i])
		maps.Copy(nr, vals)
		if err := ti.validate(nr); err != nil {
			return 0, err
		}
		rows[i] = nr
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if ti.byName[k].Unique {
			if err := ti.unique(rows, k); err != nil {
				return 0, err
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if err := c.checkParent(s, ti, ti.byName[k], vals[k]); err != nil {
			return 0, err
		}
	}
	// A referenced key that changed must not leave children behind
	// (ON UPDATE NO ACTION).
	for _, ch := range ti.children {
		if _, ok := vals[ch.ref.Field]; !ok {
			continue
		}
		for j, i := range idx {
			old := prev[j][ch.ref.Field]
			if old == nil || equal(old, rows[i][ch.ref.Field]) || exists(s, table, ch.ref.Field, old) {
				continue
			}
			if exists(s, ch.table, ch.field, old) {
				return 0, fmt.Errorf("memory: %s.%s %v is still referenced by %s.%s: %w",
					table, ch.ref.Field, old, ch.table, ch.field, storage.ErrConstraint)
			}
		}
	}
	return int64(len(idx)), nil
}

func (c *compiled) delete(s *store, table string, where []storage.Where) (int64, error) {
	ti, err := c.table(table)
	if err != nil {
		return 0, err
	}
	f, err := ti.filter(where)
	if err != nil {
		return 0, err
	}
	type pos struct {
		table string
		i     int
	}
	doomed := map[string]map[int]bool{}
	var queue []pos
	mark := func(table string, i int) {
		if doomed[table] == nil {
			doomed[table] = map[int]bool{}
		}
		doomed[table][i] = true
		queue = append(queue, pos{table, i})
	}
	for i, r := range s.tables[table] {
		if f.match(r) {
			mark(table, i)
		}
	}
	n := int64(len(queue))
	if n == 0 {
		return 0, nil
	}
	// Cascade, recursively.
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		r := s.tables[p.table][p.i]
		for _, ch := range c.tables[p.table].children {
			v := r[ch.ref.Field]
			if ch.ref.OnDelete != storage.Cascade || v == nil {
				continue
			}
			for j, cr := range s.tables[ch.table] {
				if !doomed[ch.table][j] && equal(cr[ch.field], v) {
					mark(ch.table, j)
				}
			}
		}
	}
	// Surviving children of deleted rows: set null or refuse.
	nulls := map[string]map[int][]string{}
	for _, tbl := range slices.Sorted(maps.Keys(doomed)) {
		for _, i := range slices.Sorted(maps.Keys(doomed[tbl])) {
			r := s.tables[tbl][i]
			for _, ch := range c.tables[tbl].children {
				v := r[ch.ref.Field]
				if ch.ref.OnDelete == storage.Cascade || v == nil {
					continue
				}
				for j, cr := range s.tables[ch.table] {
					if doomed[ch.table][j] || !equal(cr[ch.field], v) {
						continue
					}
					if ch.ref.OnDelete != storage.SetNull {
						return 0, fmt.Errorf("memory: cannot delete from %s: %s.%s %v is still referenced by %s.%s: %w",
							table, tbl, ch.ref.Field, v, ch.table, ch.field, storage.ErrConstraint)
					}
					if nulls[ch.table] == nil {
						nulls[ch.table] = map[int][]string{}
					}
					nulls[ch.table][j] = append(nulls[ch.table][j], ch.field)
				}
			}
		}
	}
	for tbl, m := range nulls {
		cti := c.tables[tbl]
		rows := s.own(tbl)
		for j, fields := range m {
			nr := maps.Clone(rows[j])
			for _, fld := range fields {
				nr[fld] = nil
			}
			if err := cti.validate(nr); err != nil {
				return 0, err
			}
			rows[j] = nr
		}
	}
	for tbl, set := range doomed {
		rows := s.tables[tbl]
		kept := make([]storage.Record, 0, len(rows)-len(set))
		for i, r := range rows {
			if !set[i] {
				kept = append(kept, r)
			}
		}
		s.tables[tbl] = kept
		s.owned[tbl] = true
	}
	return n, nil
}

// cond is one compiled condition.
type cond struct {
	field string
	op    storage.Op
	val   any
	list  []any
	none  bool // matches nothing
}

// filter is a compiled where-clause: an OR of AND-groups.
type filter [][]cond

func (ti *tableInfo) filter(ws []storage.Where) (filter, error) {
	var f filter
	for _, w := range ws {
		fd, ok := ti.byName[w.Field]
		if !ok {
			return nil, fmt.Errorf("memory: table %s has no field %q", ti.name, w.Field)
		}
		c := cond{field: w.Field, op: w.Op}
		var err error
		switch w.Op {
		case storage.Eq, storage.Ne:
			c.val, err = storage.Normalize(fd.Type, w.Value)
		case storage.Lt, storage.Lte, storage.Gt, storage.Gte:
			c.val, err = storage.Normalize(fd.Type, w.Value)
			if err == nil && c.val == nil {
				err = fmt.Errorf("operator %s needs a value", w.Op)
			}
		case storage.In, storage.NotIn:
			c.list, err = storage.NormalizeList(fd.Type, w.Value)
		case storage.Contains, storage.StartsWith, storage.EndsWith:
			if fd.Type != storage.String {
				err = fmt.Errorf("operator %s needs a string field, not %s", w.Op, fd.Type)
				break
			}
			c.val, err = storage.Normalize(fd.Type, w.Value)
			if err == nil && c.val == nil {
				err = fmt.Errorf("operator %s needs a value", w.Op)
			}
			// No stored string holds a NUL or a part of a character
			// (byte-wise, "é" holds "\xa9").
			c.none = err == nil && !storage.Storable(c.val.(string))
		default:
			err = fmt.Errorf("unknown operator %q", w.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("memory: where %s.%s: %w", ti.name, w.Field, err)
		}
		if len(f) == 0 || w.Or {
			f = append(f, nil)
		}
		f[len(f)-1] = append(f[len(f)-1], c)
	}
	return f, nil
}

func (f filter) match(r storage.Record) bool {
	if len(f) == 0 {
		return true
	}
	for _, group := range f {
		if slices.IndexFunc(group, func(c cond) bool { return !c.match(r) }) < 0 {
			return true
		}
	}
	return false
}

func (c cond) match(r storage.Record) bool {
	if c.none {
		return false
	}
	v := r[c.field]
	if c.val == nil && (c.op == storage.Eq || c.op == storage.Ne) {
		return (v == nil) == (c.op == storage.Eq)
	}
	if v == nil {
		return false // SQL: comparing NULL is never true
	}
	switch c.op {
	case storage.Eq:
		return compare(v, c.val) == 0
	case storage.Ne:
		return compare(v, c.val) != 0
	case storage.Lt:
		return compare(v, c.val) < 0
	case storage.Lte:
		return compare(v, c.val) <= 0
	case storage.Gt:
		return compare(v, c.val) > 0
	case storage.Gte:
		return compare(v, c.val) >= 0
	case storage.In:
		return slices.ContainsFunc(c.list, func(e any) bool { return equal(v, e) })
	case storage.NotIn:
		// SQL: x NOT IN (…, NULL, …) is never true.
		return !slices.ContainsFunc(c.list, func(e any) bool { return e == nil || equal(v, e) })
	case storage.Contains:
		return strings.Contains(v.(string), c.val.(string))
	case storage.StartsWith:
		return strings.HasPrefix(v.(string), c.val.(string))
	case storage.EndsWith:
		return strings.HasSuffix(v.(string), c.val.(string))
	}
	return false
}

// equal reports whether two canonical values are non-NULL and equal.
func equal(a, b any) bool { return a != nil && b != nil && compare(a, b) == 0 }

// compare orders canonical values: NULL first, then by value. Values of
// different types (possible only after rebinding a field to another type)
// are ordered by type.
func compare(a, b any) int {
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case y:
				return -1
			}
			return 1
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	}
	return cmp.Compare(rank(a), rank(b))
}

func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64:
		return 2
	case string:
		return 3
	case time.Time:
		return 4
	}
	return 5
}

// key maps a canonical value to a comparable map key with the same equality.
func key(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UnixMilli()
	}
	return v
}
