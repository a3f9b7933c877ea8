package sqlbuild

import (
	"fmt"
	"strings"

	"github.com/managarten/mana-auth/internal/sqlident"
	"github.com/managarten/mana-auth/storage"
)

// MigrationsTable records the applied migration steps; a schema may not
// declare a table of that name.
const MigrationsTable = "mana_migrations"

// Schema is a validated [storage.Schema] bound to a [Dialect], with the
// lookups and SQL fragments of its tables computed once.
type Schema struct {
	d      *Dialect
	s      storage.Schema
	tables map[string]*Table // by logical name
}

// Table is a table of a bound [Schema].
type Table struct {
	d *Dialect
	// T is the table as declared.
	T storage.Table
	// Quoted is the quoted, qualified table name.
	Quoted string
	// All are the fields, "id" first: the order of the columns of every
	// SELECT and of the values [Table.Record] reads.
	All []storage.Field

	name       any               // d.Name, boxed once: the prefix of errors, formatted without allocating
	index      map[string]int    // logical field name -> index in All
	cols       []string          // quoted column names, in All order
	reads      []string          // the columns as read and compared: cols, cast to text where a DBType applies
	casts      []string          // what follows a value written to each column: "" or "::<DBType>"
	selectFrom string            // SELECT <columns> FROM <table>
	joins      map[string]*join  // by reference field name
	colsAs     map[string]string // "m" and "r" -> the columns qualified by that alias
}

// join is the SELECT … JOIN of a table with the one a reference field
// points to, up to its WHERE clause.
type join struct {
	sql string
	ref *Table
}

// Bind validates s for d (see [storage.Schema.Validate]; also reserved
// table names, check names and OnDelete actions) and computes the quoted
// names, column lists and joins of its tables. s is copied.
func Bind(d *Dialect, s storage.Schema) (*Schema, error) {
	s = s.Clone()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	bs := &Schema{d: d, s: s, tables: make(map[string]*Table, len(s.Tables))}
	for i := range s.Tables {
		t := &s.Tables[i]
		if d.key(t.TableName()) == MigrationsTable {
			return nil, fmt.Errorf("%s: table name %q is reserved", d.Name, t.TableName())
		}
		names := map[string]bool{}
		for _, c := range t.Checks {
			if !sqlident.Valid(c.Name) {
				return nil, fmt.Errorf("%s: table %s: invalid check name %q", d.Name, t.Name, c.Name)
			}
			if names[c.Name] {
				return nil, fmt.Errorf("%s: table %s: check %q declared twice", d.Name, t.Name, c.Name)
			}
			names[c.Name] = true
		}
		for _, f := range t.Fields {
			if r := f.References; r != nil && r.OnDelete != "" && onDelete(r.OnDelete) == "" {
				return nil, fmt.Errorf("%s: field %s.%s: unknown OnDelete action %q", d.Name, t.Name, f.Name, r.OnDelete)
			}
		}
		ti := &Table{d: d, T: *t, Quoted: d.Table(t.TableName()), All: t.AllFields(), name: d.Name}
		ti.index = make(map[string]int, len(ti.All))
		ti.cols = make([]string, len(ti.All))
		ti.reads = make([]string, len(ti.All))
		ti.casts = make([]string, len(ti.All))
		for j, f := range ti.All {
			ti.index[f.Name] = j
			ti.cols[j] = Quote(f.ColumnName())
			ti.reads[j] = ti.cols[j]
			if d.DBTypes && f.DBType != "" {
				ti.reads[j] += "::text"
				ti.casts[j] = "::" + QuoteType(f.DBType)
			}
		}
		ti.selectFrom = "SELECT " + strings.Join(ti.reads, ", ") + " FROM " + ti.Quoted
		ti.colsAs = map[string]string{}
		for _, alias := range []string{"m", "r"} {
			qualified := make([]string, len(ti.reads))
			for j, c := range ti.reads {
				qualified[j] = alias + "." + c
			}
			ti.colsAs[alias] = strings.Join(qualified, ", ")
		}
		bs.tables[t.Name] = ti
	}
	// Joins, now that every table is known (Validate checked the
	// references).
	for _, t := range bs.tables {
		for i, f := range t.All {
			r := f.References
			if r == nil {
				continue
			}
			rt := bs.tables[r.Table]
			ri := rt.index[r.Field]
			if t.joins == nil {
				t.joins = map[string]*join{}
			}
			t.joins[f.Name] = &join{ref: rt, sql: "SELECT " + t.colsAs["m"] + ", " + rt.colsAs["r"] +
				" FROM " + t.Quoted + " AS m JOIN " + rt.Quoted + " AS r ON r." + rt.cols[ri] + " = m." + t.cols[i]}
		}
	}
	return bs, nil
}

// QuoteType quotes a type name, and the schema that qualifies it
// ("auth.user_role" is "auth"."user_role").
func QuoteType(typ string) string {
	if schema, name, ok := strings.Cut(typ, "."); ok {
		return Quote(schema) + "." + Quote(name)
	}
	return Quote(typ)
}

// Table returns the table with the logical name name.
func (s *Schema) Table(name string) (*Table, error) {
	t := s.tables[name]
	if t == nil {
		return nil, fmt.Errorf("%s: unknown table %q", s.d.Name, name)
	}
	return t, nil
}

// Tables returns the tables as declared.
func (s *Schema) Tables() []storage.Table { return s.s.Tables }

// field returns the index in All of the field called name.
func (t *Table) field(name string) (int, error) {
	i, ok := t.index[name]
	if !ok {
		return 0, fmt.Errorf("%s: table %s has no field %q", t.d.Name, t.T.Name, name)
	}
	return i, nil
}

// checkKeys rejects fields the table does not have.
func (t *Table) checkKeys(rec storage.Record) error {
	for k := range rec {
		if _, err := t.field(k); err != nil {
			return err
		}
	}
	return nil
}

func (t *Table) missing(f *storage.Field) error {
	return fmt.Errorf("%s: %s.%s is required: %w", t.d.Name, t.T.Name, f.Name, storage.ErrConstraint)
}

// value normalizes v for field f (see [storage.Normalize]).
func (t *Table) value(f *storage.Field, v any) (any, error) {
	// Values already canonical are kept as they are (no new interface).
	switch f.Type {
	case storage.String:
		if _, ok := v.(string); ok {
			return v, nil
		}
	case storage.Bool:
		if _, ok := v.(bool); ok {
			return v, nil
		}
	case storage.Int:
		if _, ok := v.(int64); ok {
			return v, nil
		}
	}
	nv, err := storage.Normalize(f.Type, v)
	if err != nil {
		return nil, fmt.Errorf("%s: %s.%s: %w", t.d.Name, t.T.Name, f.Name, err)
	}
	return nv, nil
}

// setValues calls fn, in schema order (so that the SQL text is
// deterministic), with the index in All and the argument of each field rec
// sets (INSERT, UPDATE): its value normalized and encoded, or nil, which a
// required field refuses. A string that is not storable is refused
// ([storage.ErrInvalidValue]). With all set (INSERT), a required field missing
// from rec is refused too.
func (t *Table) setValues(rec storage.Record, all bool, fn func(i int, arg any)) error {
	for i := range t.All {
		f := &t.All[i]
		v, ok := rec[f.Name]
		if !ok {
			if all && f.Required {
				return t.missing(f)
			}
			continue
		}
		nv, err := t.value(f, v)
		switch {
		case err != nil:
			return err
		case nv != nil:
			if s, ok := nv.(string); ok && !storage.Storable(s) {
				return fmt.Errorf("%s: %s.%s: %w", t.d.Name, t.T.Name, f.Name, storage.ErrInvalidValue)
			}
			fn(i, t.d.encode(nv))
		case f.Required:
			return t.missing(f)
		default:
			fn(i, nil)
		}
	}
	return nil
}

// Record converts the values read for t's columns (in All order) with the
// dialect's Decode. An error names the table and field.
func (t *Table) Record(vals []any) (storage.Record, error) {
	rec := make(storage.Record, len(t.All))
	for i := range t.All {
		f := &t.All[i]
		v, err := t.d.Decode(*f, vals[i])
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.T.Name, f.Name, err)
		}
		rec[f.Name] = v
	}
	return rec, nil
}
