package sqlbuild

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/managarten/mana-auth/storage"
)

// noLimit is SQLite's LIMIT for none, boxed once.
var noLimit any = int64(-1)

// init readies b for a statement of about n bytes with about args
// arguments, kept in buf when it has room for them (nil: a new slice).
// (A builder lives on its caller's stack.)
func (b *builder) init(d *Dialect, n, args int, buf []any) {
	b.d = d
	if buf != nil && args <= cap(buf) {
		b.args = buf[:0]
	} else {
		b.args = make([]any, 0, args)
	}
	b.Grow(n)
}

// whereSize estimates the length of the WHERE clause of ws.
func whereSize(ws []storage.Where) int { return len(ws) * 40 }

// Insert is the INSERT of rec, which must hold every required field; the
// columns are in schema order.
func (t *Table) Insert(rec storage.Record) (string, []any, error) {
	if err := t.checkKeys(rec); err != nil {
		return "", nil, err
	}
	var b builder
	b.init(t.d, len(t.Quoted)+32+len(rec)*24, len(rec), nil)
	b.WriteString("INSERT INTO ")
	b.WriteString(t.Quoted)
	b.WriteString(" (")
	var castBuf [16]int
	casts := castBuf[:0] // the arguments cast (positions in args) and their columns, in pairs
	err := t.setValues(rec, true, func(i int, arg any) {
		if len(b.args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.cols[i])
		if t.casts[i] != "" {
			casts = append(casts, len(b.args), i)
		}
		b.args = append(b.args, arg)
	})
	if err != nil {
		return "", nil, err
	}
	b.WriteString(") VALUES (")
	for i := range b.args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.mark(i + 1)
		if len(casts) > 0 && casts[0] == i {
			b.WriteString(t.casts[casts[1]])
			casts = casts[2:]
		}
	}
	b.WriteByte(')')
	return b.String(), b.args, nil
}

// Select is the SELECT of q: every column, in All order. The arguments
// are kept in args (its first elements, overwritten) when it has room for
// them; args may be nil.
func (t *Table) Select(q storage.Query, args []any) (string, []any, error) {
	if q.Limit < 0 || q.Offset < 0 {
		return "", nil, errors.New(t.d.Name + ": negative limit or offset")
	}
	var b builder
	b.init(t.d, len(t.selectFrom)+whereSize(q.Where)+len(q.Sort)*32+24, len(q.Where)+2, args)
	b.WriteString(t.selectFrom)
	if err := b.where(t, "", q.Where); err != nil {
		return "", nil, err
	}
	if err := b.orderBy(t, q.Sort); err != nil {
		return "", nil, err
	}
	switch {
	case t.d.LimitWithOffset:
		if q.Limit > 0 || q.Offset > 0 {
			limit := noLimit
			if q.Limit > 0 {
				limit = int64(q.Limit)
			}
			b.WriteString(" LIMIT ")
			b.arg(limit)
			b.WriteString(" OFFSET ")
			b.arg(int64(q.Offset))
		}
	default:
		if q.Limit > 0 {
			b.WriteString(" LIMIT ")
			b.arg(int64(q.Limit))
		}
		if q.Offset > 0 {
			b.WriteString(" OFFSET ")
			b.arg(int64(q.Offset))
		}
	}
	return b.String(), b.args, nil
}

// Joined is the SELECT of the first record of t matching where joined with
// the record of table ref that t's field ref points to ([storage.Joiner]):
// t's columns then ref's, each in All order, and ref's table. args is as
// for [Table.Select].
func (t *Table) Joined(ref string, where []storage.Where, args []any) (string, []any, *Table, error) {
	return t.joined(ref, where, args, " LIMIT 1")
}

// JoinedAll is [Table.Joined] without the limit: every record of t
// matching where, each with the record its field ref points to
// ([storage.ManyJoiner]).
func (t *Table) JoinedAll(ref string, where []storage.Where, args []any) (string, []any, *Table, error) {
	return t.joined(ref, where, args, "")
}

func (t *Table) joined(ref string, where []storage.Where, args []any, tail string) (string, []any, *Table, error) {
	if _, err := t.field(ref); err != nil {
		return "", nil, nil, err
	}
	j := t.joins[ref]
	if j == nil {
		return "", nil, nil, fmt.Errorf("%s: field %s.%s is not a reference", t.d.Name, t.T.Name, ref)
	}
	var b builder
	b.init(t.d, len(j.sql)+whereSize(where)+8, len(where), args)
	b.WriteString(j.sql)
	if err := b.where(t, "m", where); err != nil {
		return "", nil, nil, err
	}
	b.WriteString(tail)
	return b.String(), b.args, j.ref, nil
}

// Update is the UPDATE setting the fields of set (in schema order) on the
// records matching where. An empty set is an error.
func (t *Table) Update(set storage.Record, where []storage.Where) (string, []any, error) {
	if err := t.checkKeys(set); err != nil {
		return "", nil, err
	}
	if len(set) == 0 {
		return "", nil, fmt.Errorf("%s: update of %s sets no fields", t.d.Name, t.T.Name)
	}
	var b builder
	b.init(t.d, len(t.Quoted)+16+len(set)*24+whereSize(where), len(set)+len(where), nil)
	b.WriteString("UPDATE ")
	b.WriteString(t.Quoted)
	b.WriteString(" SET ")
	err := t.setValues(set, false, func(i int, arg any) {
		if len(b.args) > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.cols[i])
		b.WriteString(" = ")
		b.arg(arg)
		b.WriteString(t.casts[i])
	})
	if err != nil {
		return "", nil, err
	}
	if err := b.where(t, "", where); err != nil {
		return "", nil, err
	}
	return b.String(), b.args, nil
}

// Delete is the DELETE of the records matching where.
func (t *Table) Delete(where []storage.Where) (string, []any, error) {
	return t.prefixed("DELETE FROM ", where, nil)
}

// Count is the SELECT COUNT(*) of the records matching where. args is as
// for [Table.Select].
func (t *Table) Count(where []storage.Where, args []any) (string, []any, error) {
	return t.prefixed("SELECT COUNT(*) FROM ", where, args)
}

// prefixed is prefix, the table and the WHERE clause of where, with the
// arguments in buf when it has room for them.
func (t *Table) prefixed(prefix string, where []storage.Where, buf []any) (string, []any, error) {
	var b builder
	b.init(t.d, len(prefix)+len(t.Quoted)+whereSize(where), len(where), buf)
	b.WriteString(prefix)
	b.WriteString(t.Quoted)
	if err := b.where(t, "", where); err != nil {
		return "", nil, err
	}
	return b.String(), b.args, nil
}

// where writes " WHERE ..." (nothing for no conditions), with every column
// qualified by alias (unqualified when alias is ""). A condition with Or
// starts a new group: AND binds tighter than OR.
func (b *builder) where(t *Table, alias string, ws []storage.Where) error {
	if len(ws) == 0 {
		return nil
	}
	groups := false
	for _, w := range ws[1:] {
		if w.Or {
			groups = true
			break
		}
	}
	b.WriteString(" WHERE ")
	if groups {
		b.WriteByte('(')
	}
	for i, w := range ws {
		switch {
		case i == 0:
		case w.Or:
			b.WriteString(") OR (")
		default:
			b.WriteString(" AND ")
		}
		if err := b.cond(t, alias, w); err != nil {
			return err
		}
	}
	if groups {
		b.WriteByte(')')
	}
	return nil
}

// compare is the SQL of the comparison operators.
func compare(op storage.Op) string {
	switch op {
	case storage.Eq:
		return "="
	case storage.Ne:
		return "<>"
	case storage.Lt:
		return "<"
	case storage.Lte:
		return "<="
	case storage.Gt:
		return ">"
	case storage.Gte:
		return ">="
	}
	return ""
}

// cond writes one condition.
func (b *builder) cond(t *Table, alias string, w storage.Where) error {
	i, err := t.field(w.Field)
	if err != nil {
		return err
	}
	f := &t.All[i]
	d := b.d
	switch w.Op {
	case storage.Eq, storage.Ne, storage.Lt, storage.Lte, storage.Gt, storage.Gte:
		v, err := t.value(f, w.Value)
		if err != nil {
			return err
		}
		if s, ok := v.(string); ok && !storage.Storable(s) {
			b.unstorable(t, alias, i, w.Op, s)
			return nil
		}
		if v == nil {
			switch w.Op {
			case storage.Eq:
				b.col(t, alias, i)
				b.WriteString(" IS NULL")
				return nil
			case storage.Ne:
				b.col(t, alias, i)
				b.WriteString(" IS NOT NULL")
				return nil
			}
			return fmt.Errorf("%s: %s.%s: operator %s needs a value", d.Name, t.T.Name, f.Name, w.Op)
		}
		b.col(t, alias, i)
		if f.Type == storage.String && w.Op != storage.Eq && w.Op != storage.Ne {
			b.WriteString(d.Collate)
		}
		b.WriteByte(' ')
		b.WriteString(compare(w.Op))
		b.WriteByte(' ')
		b.arg(d.encode(v))
		return nil
	case storage.In, storage.NotIn:
		// SQL semantics: a NULL in the list never matches (and makes NOT IN
		// match nothing); NOT IN () matches every non-NULL value.
		list, err := storage.NormalizeList(f.Type, w.Value)
		if err != nil {
			return fmt.Errorf("%s: %s.%s: %w", d.Name, t.T.Name, f.Name, err)
		}
		if f.Type == storage.String {
			list = storableOnly(list)
		}
		var arr any
		n, hasNull := 0, false
		if d.Array != nil {
			arr, n, hasNull = d.Array(f.Type, list)
		} else {
			for _, v := range list {
				if v == nil {
					hasNull = true
				} else {
					n++
				}
			}
		}
		switch {
		case w.Op == storage.In && n == 0, w.Op == storage.NotIn && hasNull:
			b.WriteString(d.False)
			return nil
		case n == 0: // NotIn
			b.col(t, alias, i)
			b.WriteString(" IS NOT NULL")
			return nil
		}
		b.col(t, alias, i)
		if d.Array != nil {
			if w.Op == storage.In {
				b.WriteString(" = ANY(")
			} else {
				b.WriteString(" <> ALL(")
			}
			b.arg(arr)
			b.WriteByte(')')
			return nil
		}
		if w.Op == storage.In {
			b.WriteString(" IN (")
		} else {
			b.WriteString(" NOT IN (")
		}
		first := true
		for _, v := range list {
			if v == nil {
				continue
			}
			if !first {
				b.WriteString(", ")
			}
			first = false
			b.arg(d.encode(v))
		}
		b.WriteByte(')')
		return nil
	case storage.Contains, storage.StartsWith, storage.EndsWith:
		if f.Type != storage.String {
			return fmt.Errorf("%s: %s.%s: operator %s needs a string field", d.Name, t.T.Name, f.Name, w.Op)
		}
		v, err := t.value(f, w.Value)
		if err != nil {
			return err
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %s.%s: operator %s needs a value", d.Name, t.T.Name, f.Name, w.Op)
		}
		if !storage.Storable(s) {
			b.WriteString(d.False) // no stored string holds it
			return nil
		}
		p := d.Escape(s)
		switch w.Op {
		case storage.Contains:
			p = d.Wildcard + p + d.Wildcard
		case storage.StartsWith:
			p += d.Wildcard
		case storage.EndsWith:
			p = d.Wildcard + p
		}
		b.col(t, alias, i)
		b.WriteByte(' ')
		b.WriteString(d.Match)
		b.WriteByte(' ')
		b.arg(p)
		b.WriteString(d.MatchSuffix)
		return nil
	}
	return fmt.Errorf("%s: unknown operator %q", d.Name, w.Op)
}

// unstorable writes the comparison op of column i with s, a string no
// database stores (see [storage.Where]), without s: no stored string
// equals it, and the strings less than it are those less than the least
// storable string above it.
func (b *builder) unstorable(t *Table, alias string, i int, op storage.Op, s string) {
	switch op {
	case storage.Eq:
		b.WriteString(b.d.False)
		return
	case storage.Ne:
		b.col(t, alias, i)
		b.WriteString(" IS NOT NULL")
		return
	}
	below := op == storage.Lt || op == storage.Lte
	u, ok := above(s)
	if !ok { // every storable string is less than s
		if below {
			b.col(t, alias, i)
			b.WriteString(" IS NOT NULL")
		} else {
			b.WriteString(b.d.False)
		}
		return
	}
	b.col(t, alias, i)
	b.WriteString(b.d.Collate)
	if below {
		b.WriteString(" < ")
	} else {
		b.WriteString(" >= ")
	}
	b.arg(b.d.encode(u))
}

// above returns the least storable string greater than s in byte order,
// for s not storable, or false when every storable string is less than s.
func above(s string) (string, bool) {
	i := 0 // s[:i] is storable, s[i:] starts with a NUL or invalid UTF-8
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && n == 1) {
			break
		}
		i += n
	}
	// UTF-8 keeps the order of code points: the least character whose
	// encoding is greater than s[i:] follows s[:i], if there is one.
	const surrogates = 0xE000 - 0xD800
	at := func(k int) rune { // the k-th character after NUL, surrogates skipped
		if k < 0xD800-1 {
			return rune(k + 1)
		}
		return rune(k + 1 + surrogates)
	}
	if k := sort.Search(utf8.MaxRune-surrogates, func(k int) bool { return string(at(k)) > s[i:] }); k < utf8.MaxRune-surrogates {
		return s[:i] + string(at(k)), true
	}
	// Every string starting with s[:i] is less than s: the least one
	// above them all ends with the next character after the last one that
	// has a next.
	p := s[:i]
	for p != "" {
		r, n := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-n]
		switch {
		case r == 0xD800-1:
			return p + string(rune(0xE000)), true
		case r < utf8.MaxRune:
			return p + string(r+1), true
		}
	}
	return "", false
}

// storableOnly returns list without the strings no database stores (they
// equal no stored value), copied only when it holds one.
func storableOnly(list []any) []any {
	for i, v := range list {
		if s, ok := v.(string); ok && !storage.Storable(s) {
			out := slices.Clone(list[:i])
			for _, v := range list[i+1:] {
				if s, ok := v.(string); !ok || storage.Storable(s) {
					out = append(out, v)
				}
			}
			return out
		}
	}
	return list
}

// orderBy writes " ORDER BY ..." for sorts (NULLs first ascending, last
// descending), with id as the final tie-breaker so that pages are stable.
// Strings sort with the dialect's Collate.
func (b *builder) orderBy(t *Table, sorts []storage.Sort) error {
	if len(sorts) == 0 {
		return nil
	}
	b.WriteString(" ORDER BY ")
	byID := false
	for k, s := range sorts {
		i, err := t.field(s.Field)
		if err != nil {
			return err
		}
		f := &t.All[i]
		if f.Name == "id" {
			byID = true
		}
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(t.reads[i])
		if f.Type == storage.String {
			b.WriteString(b.d.Collate)
		}
		if s.Desc {
			b.WriteString(" DESC NULLS LAST")
		} else {
			b.WriteString(" ASC NULLS FIRST")
		}
	}
	if !byID {
		b.WriteString(`, "id" ASC`)
	}
	return nil
}
