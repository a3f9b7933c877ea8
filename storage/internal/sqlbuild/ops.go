package sqlbuild

import (
	"context"
	"fmt"

	"github.com/managarten/mana-auth/storage"
)

// Runner runs statements on one database for the [storage.Adapter]
// operations of this file (Create, FindOne, FindOneJoined, Find, Update,
// Delete, Count), which build the statements, convert the rows read and
// name the operation and the table in errors (prefixed with the dialect's
// Name). Each adapter implements it over its driver, with its own
// connections, transactions, prepared statements and error mapping, on an
// unexported type so that its methods stay out of the adapter's API.
type Runner interface {
	// Table returns the bound table with the logical name name, or an
	// error (no schema bound, no such table) returned as it is.
	Table(name string) (*Table, error)
	// Exec runs a write statement and returns how many rows it changed.
	// cache says that the statement's text is one of the few that the
	// schema and the shapes of calls produce, so that it may be prepared
	// once and kept; a Runner without its own statement cache ignores it.
	Exec(ctx context.Context, query string, args []any, cache bool) (int64, error)
	// Query runs a read statement whose rows have cols columns and calls
	// rows.ReadRow with the values of each row in turn; it stops at the
	// first error and returns it. cache is as for Exec.
	Query(ctx context.Context, query string, args []any, cache bool, cols int, rows RowReader) error
}

// RowReader receives the rows a [Runner] reads.
type RowReader interface {
	// ReadRow is given the values of one row's columns, in order, as the
	// driver read them (ReadRow converts them with the dialect's Decode).
	// The Runner may reuse vals once ReadRow returns.
	ReadRow(vals []any) error
}

// argBuf is how many statement arguments the state of a read holds. A
// RowReader handed to a Runner (an interface) escapes to the heap: holding
// the arguments in the same allocation saves the one they would cost, so
// that a read allocates no more than a closure that stays on the stack.
const argBuf = 4

// Create inserts rec into the table called table ([storage.Adapter.Create]).
func Create(ctx context.Context, r Runner, table string, rec storage.Record, cache bool) error {
	t, err := r.Table(table)
	if err != nil {
		return err
	}
	q, args, err := t.Insert(rec)
	if err != nil {
		return err
	}
	_, err = exec(ctx, r, t, "create", q, args, cache)
	return err
}

// FindOne returns the first record of table matching where, or an error
// wrapping [storage.ErrNotFound] ([storage.Adapter.FindOne]).
func FindOne(ctx context.Context, r Runner, table string, where []storage.Where, cache bool) (storage.Record, error) {
	t, err := r.Table(table)
	if err != nil {
		return nil, err
	}
	recs, err := find(ctx, r, t, storage.Query{Where: where, Limit: 1}, cache)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: %s: %w", t.name, table, storage.ErrNotFound)
	}
	return recs[0], nil
}

// Find returns the records of table matching q ([storage.Adapter.FindMany]).
func Find(ctx context.Context, r Runner, table string, q storage.Query, cache bool) ([]storage.Record, error) {
	t, err := r.Table(table)
	if err != nil {
		return nil, err
	}
	return find(ctx, r, t, q, cache)
}

// records reads the rows of a SELECT of t as records.
type records struct {
	t    *Table
	out  []storage.Record
	one  [1]storage.Record // out's array until it holds two records
	args [argBuf]any
}

// ReadRow appends the record of vals.
func (s *records) ReadRow(vals []any) error {
	rec, err := s.t.Record(vals)
	if err != nil {
		return err
	}
	if s.out == nil {
		s.out = s.one[:0]
	}
	s.out = append(s.out, rec)
	return nil
}

func find(ctx context.Context, r Runner, t *Table, q storage.Query, cache bool) ([]storage.Record, error) {
	s := &records{t: t}
	query, args, err := t.Select(q, s.args[:])
	if err != nil {
		return nil, err
	}
	if err := r.Query(ctx, query, args, cache, len(t.All), s); err != nil {
		return nil, fmt.Errorf("%s: find %s: %w", t.name, t.T.Name, err)
	}
	return s.out, nil
}

// joined reads the row of a [Table.Joined] SELECT.
type joined struct {
	t, rt    *Table
	rec, ref storage.Record
	args     [argBuf]any
}

// ReadRow sets the records of vals: t's columns, then rt's.
func (s *joined) ReadRow(vals []any) error {
	n := len(s.t.All)
	var err error
	if s.rec, err = s.t.Record(vals[:n]); err != nil {
		return err
	}
	s.ref, err = s.rt.Record(vals[n:])
	return err
}

// FindOneJoined returns the first record of table matching where together
// with the record its field ref references, in one statement
// ([storage.Joiner]), or an error wrapping [storage.ErrNotFound].
func FindOneJoined(ctx context.Context, r Runner, table, ref string, where []storage.Where, cache bool) (storage.Record, storage.Record, error) {
	t, err := r.Table(table)
	if err != nil {
		return nil, nil, err
	}
	s := &joined{t: t}
	q, args, rt, err := t.Joined(ref, where, s.args[:])
	if err != nil {
		return nil, nil, err
	}
	s.rt = rt
	if err := r.Query(ctx, q, args, cache, len(t.All)+len(rt.All), s); err != nil {
		return nil, nil, fmt.Errorf("%s: find %s joined with %s: %w", t.name, t.T.Name, rt.T.Name, err)
	}
	if s.rec == nil {
		return nil, nil, fmt.Errorf("%s: %s joined with %s: %w", t.name, t.T.Name, rt.T.Name, storage.ErrNotFound)
	}
	return s.rec, s.ref, nil
}

// joinedAll reads the rows of a [Table.JoinedAll] SELECT.
type joinedAll struct {
	t, rt      *Table
	recs, refs []storage.Record
	args       [argBuf]any
}

// ReadRow appends the records of vals: t's columns, then rt's.
func (s *joinedAll) ReadRow(vals []any) error {
	n := len(s.t.All)
	rec, err := s.t.Record(vals[:n])
	if err != nil {
		return err
	}
	ref, err := s.rt.Record(vals[n:])
	if err != nil {
		return err
	}
	s.recs, s.refs = append(s.recs, rec), append(s.refs, ref)
	return nil
}

// FindManyJoined returns every record of table matching where together
// with the record its field ref references, in one statement
// ([storage.ManyJoiner]); none is not an error.
func FindManyJoined(ctx context.Context, r Runner, table, ref string, where []storage.Where, cache bool) ([]storage.Record, []storage.Record, error) {
	t, err := r.Table(table)
	if err != nil {
		return nil, nil, err
	}
	s := &joinedAll{t: t}
	q, args, rt, err := t.JoinedAll(ref, where, s.args[:])
	if err != nil {
		return nil, nil, err
	}
	s.rt = rt
	if err := r.Query(ctx, q, args, cache, len(t.All)+len(rt.All), s); err != nil {
		return nil, nil, fmt.Errorf("%s: find %s joined with %s: %w", t.name, t.T.Name, rt.T.Name, err)
	}
	return s.recs, s.refs, nil
}

// Update sets the fields of set on the records of table matching where and
// returns how many matched ([storage.Adapter.Update]).
func Update(ctx context.Context, r Runner, table string, set storage.Record, where []storage.Where, cache bool) (int64, error) {
	t, err := r.Table(table)
	if err != nil {
		return 0, err
	}
	q, args, err := t.Update(set, where)
	if err != nil {
		return 0, err
	}
	return exec(ctx, r, t, "update", q, args, cache)
}

// Delete removes the records of table matching where and returns how many
// ([storage.Adapter.Delete]).
func Delete(ctx context.Context, r Runner, table string, where []storage.Where, cache bool) (int64, error) {
	t, err := r.Table(table)
	if err != nil {
		return 0, err
	}
	q, args, err := t.Delete(where)
	if err != nil {
		return 0, err
	}
	return exec(ctx, r, t, "delete", q, args, cache)
}

// exec runs the write statement q on t and returns how many rows it
// changed. An error names op, the operation: a string constant, passed as
// an interface so that formatting it allocates nothing.
func exec(ctx context.Context, r Runner, t *Table, op any, q string, args []any, cache bool) (int64, error) {
	n, err := r.Exec(ctx, q, args, cache)
	if err != nil {
		return 0, fmt.Errorf("%s: %s %s: %w", t.name, op, t.T.Name, err)
	}
	return n, nil
}

// count reads the row of a [Table.Count] SELECT.
type count struct {
	n    int64
	args [argBuf]any
}

// ReadRow sets the count.
func (s *count) ReadRow(vals []any) error {
	n, ok := vals[0].(int64)
	if !ok {
		return fmt.Errorf("unexpected count %T", vals[0])
	}
	s.n = n
	return nil
}

// Count returns how many records of table match where
// ([storage.Adapter.Count]).
func Count(ctx context.Context, r Runner, table string, where []storage.Where, cache bool) (int64, error) {
	t, err := r.Table(table)
	if err != nil {
		return 0, err
	}
	s := &count{}
	q, args, err := t.Count(where, s.args[:])
	if err != nil {
		return 0, err
	}
	if err := r.Query(ctx, q, args, cache, 1, s); err != nil {
		return 0, fmt.Errorf("%s: count %s: %w", t.name, t.T.Name, err)
	}
	return s.n, nil
}
