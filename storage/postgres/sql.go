package postgres

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/managarten/mana-auth/storage"
)

// migrationsTable records the applied migration steps.
const migrationsTable = "mana_migrations"

// identRE matches the identifiers this package accepts for schema and
// constraint names (PostgreSQL truncates identifiers past 63 bytes).
var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// errNoSchema is returned by operations before Bind.
var errNoSchema = errors.New("postgres: no schema bound (call Bind first)")

// schemaInfo is a bound schema with lookup tables precomputed.
type schemaInfo struct {
	s      storage.Schema
	pg     string                // PostgreSQL schema name
	tables map[string]*tableInfo // by logical name
}

type tableInfo struct {
	t          storage.Table
	quoted     string                   // "schema"."table"
	all        []storage.Field          // id first
	fields     map[string]storage.Field // by logical name, id included
	selectList string                   // quoted columns of all, comma separated
}

func newSchemaInfo(s storage.Schema, pgSchema string) (*schemaInfo, error) {
	s = s.Clone()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	si := &schemaInfo{s: s, pg: pgSchema, tables: make(map[string]*tableInfo, len(s.Tables))}
	for i := range s.Tables {
		t := &s.Tables[i]
		if t.TableName() == migrationsTable {
			return nil, fmt.Errorf("postgres: table name %q is reserved", t.TableName())
		}
		names := map[string]bool{}
		for _, c := range t.Checks {
			if !identRE.MatchString(c.Name) {
				return nil, fmt.Errorf("postgres: table %s: invalid check name %q", t.Name, c.Name)
			}
			if names[c.Name] {
				return nil, fmt.Errorf("postgres: table %s: check %q declared twice", t.Name, c.Name)
			}
			names[c.Name] = true
		}
		for _, f := range t.Fields {
			if r := f.References; r != nil && r.OnDelete != "" && onDelete(r.OnDelete) == "" {
				return nil, fmt.Errorf("postgres: field %s.%s: unknown OnDelete action %q", t.Name, f.Name, r.OnDelete)
			}
		}
		ti := &tableInfo{t: *t, quoted: si.qualified(t.TableName()), all: t.AllFields(), fields: map[string]storage.Field{}}
		cols := make([]string, len(ti.all))
		for j, f := range ti.all {
			ti.fields[f.Name] = f
			cols[j] = quote(f.ColumnName())
		}
		ti.selectList = strings.Join(cols, ", ")
		si.tables[t.Name] = ti
	}
	return si, nil
}

// qualified is the quoted, schema-qualified name of a table.
func (si *schemaInfo) qualified(table string) string { return quote(si.pg) + "." + quote(table) }

// quote quotes an SQL identifier.
func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

// qualify quotes a column name, prefixed with alias unless alias is "".
func qualify(alias, col string) string {
	if alias == "" {
		return quote(col)
	}
	return alias + "." + quote(col)
}

// columnsAs is the select list of t's columns qualified by alias.
func (t *tableInfo) columnsAs(alias string) string {
	cols := make([]string, len(t.all))
	for i, f := range t.all {
		cols[i] = qualify(alias, f.ColumnName())
	}
	return strings.Join(cols, ", ")
}

// checkKeys rejects fields the table does not have.
func (t *tableInfo) checkKeys(rec storage.Record) error {
	for k := range rec {
		if _, ok := t.fields[k]; !ok {
			return fmt.Errorf("postgres: table %s has no field %q", t.t.Name, k)
		}
	}
	return nil
}

func (t *tableInfo) missing(f storage.Field) error {
	return fmt.Errorf("postgres: %s.%s is required: %w", t.t.Name, f.Name, storage.ErrConstraint)
}

// value normalizes v for field f.
func (t *tableInfo) value(f storage.Field, v any) (any, error) {
	nv, err := storage.Normalize(f.Type, v)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s.%s: %w", t.t.Name, f.Name, err)
	}
	return nv, nil
}

// fromDB converts a decoded column value to the canonical Go type of f.
func fromDB(f storage.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case storage.String:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case [16]byte: // uuid
			return pgtype.UUID{Bytes: x, Valid: true}.String(), nil
		case int64, int32, int16:
			return fmt.Sprint(x), nil
		}
	case storage.Bool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int16:
			return x != 0, nil
		case int32:
			return x != 0, nil
		case int64:
			return x != 0, nil
		}
	case storage.Int:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt64 && x <= math.MaxInt64 {
				return int64(x), nil
			}
		case pgtype.Numeric:
			if n, err := x.Int64Value(); err == nil && n.Valid {
				return n.Int64, nil
			}
		}
	case storage.Date:
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Truncate(time.Millisecond), nil
		case string:
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC().Truncate(time.Millisecond), nil
			}
		case int64:
			return time.UnixMilli(x).UTC(), nil
		}
	}
	return nil, fmt.Errorf("cannot read %T %v as a %s", v, v, f.Type)
}

// where builds " WHERE ..." (or "") for ws, appending its arguments to args.
// AND binds tighter than OR.
func (t *tableInfo) where(ws []storage.Where, args []any) (string, []any, error) {
	return t.whereAs("", ws, args)
}

// whereAs is where with every column qualified by alias (unqualified when
// alias is "").
func (t *tableInfo) whereAs(alias string, ws []storage.Where, args []any) (string, []any, error) {
	if len(ws) == 0 {
		return "", args, nil
	}
	var groups []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			groups = append(groups, strings.Join(cur, " AND "))
			cur = nil
		}
	}
	for i, w := range ws {
		if i > 0 && w.Or {
			flush()
		}
		c, a, err := t.cond(alias, w, args)
		if err != nil {
			return "", nil, err
		}
		args = a
		cur = append(cur, c)
	}
	flush()
	if len(groups) == 1 {
		return " WHERE " + groups[0], args, nil
	}
	return " WHERE (" + strings.Join(groups, ") OR (") + ")", args, nil
}

// placeholder appends v to args and returns its placeholder.
func placeholder(args []any, v any) ([]any, string) {
	args = append(args, v)
	return args, "$" + strconv.Itoa(len(args))
}

// cond builds one condition.
func (t *tableInfo) cond(alias string, w storage.Where, args []any) (string, []any, error) {
	f, ok := t.fields[w.Field]
	if !ok {
		return "", nil, fmt.Errorf("postgres: table %s has no field %q", t.t.Name, w.Field)
	}
	col := qualify(alias, f.ColumnName())
	switch w.Op {
	case storage.Eq, storage.Ne, storage.Lt, storage.Lte, storage.Gt, storage.Gte:
		v, err := t.value(f, w.Value)
		if err != nil {
			return "", nil, err
		}
		if v == nil {
			switch w.Op {
			case storage.Eq:
				return col + " IS NULL", args, nil
			case storage.Ne:
				return col + " IS NOT NULL", args, nil
			}
			return "", nil, fmt.Errorf("postgres: %s.%s: operator %s needs a value", t.t.Name, f.Name, w.Op)
		}
		op := map[storage.Op]string{storage.Eq: "=", storage.Ne: "<>",
			storage.Lt: "<", storage.Lte: "<=", storage.Gt: ">", storage.Gte: ">="}[w.Op]
		if f.Type == storage.String && op != "=" && op != "<>" {
			col += ` COLLATE "C"` // byte order, whatever the database's collation
		}
		args, ph := placeholder(args, v)
		return col + " " + op + " " + ph, args, nil
	case storage.In, storage.NotIn:
		// SQL semantics: a NULL in the list never matches (and makes NOT IN
		// match nothing); NOT IN () matches every non-NULL value.
		list, err := storage.NormalizeList(f.Type, w.Value)
		if err != nil {
			return "", nil, fmt.Errorf("postgres: %s.%s: %w", t.t.Name, f.Name, err)
		}
		arr, hasNull := typedList(f.Type, list)
		n := listLen(arr)
		switch {
		case w.Op == storage.In && n == 0:
			return "FALSE", args, nil
		case w.Op == storage.In:
			args, ph := placeholder(args, arr)
			return col + " = ANY(" + ph + ")", args, nil
		case hasNull:
			return "FALSE", args, nil
		case n == 0:
			return col + " IS NOT NULL", args, nil
		}
		args, ph := placeholder(args, arr)
		return col + " <> ALL(" + ph + ")", args, nil
	case storage.Contains, storage.StartsWith, storage.EndsWith:
		if f.Type != storage.String {
			return "", nil, fmt.Errorf("postgres: %s.%s: operator %s needs a string field", t.t.Name, f.Name, w.Op)
		}
		v, err := t.value(f, w.Value)
		if err != nil {
			return "", nil, err
		}
		s, ok := v.(string)
		if !ok {
			return "", nil, fmt.Errorf("postgres: %s.%s: operator %s needs a value", t.t.Name, f.Name, w.Op)
		}
		p := likeEscape(s)
		switch w.Op {
		case storage.Contains:
			p = "%" + p + "%"
		case storage.StartsWith:
			p += "%"
		case storage.EndsWith:
			p = "%" + p
		}
		args, ph := placeholder(args, p)
		return col + " LIKE " + ph + " ESCAPE '!'", args, nil
	}
	return "", nil, fmt.Errorf("postgres: unknown operator %q", w.Op)
}

// typedList converts normalized values to a typed slice pgx encodes as an
// array of the column's type, dropping NULLs (reported by hasNull).
func typedList(t storage.FieldType, list []any) (arr any, hasNull bool) {
	switch t {
	case storage.Bool:
		out := []bool{}
		for _, v := range list {
			if b, ok := v.(bool); ok {
				out = append(out, b)
			} else {
				hasNull = true
			}
		}
		return out, hasNull
	case storage.Int:
		out := []int64{}
		for _, v := range list {
			if n, ok := v.(int64); ok {
				out = append(out, n)
			} else {
				hasNull = true
			}
		}
		return out, hasNull
	case storage.Date:
		out := []time.Time{}
		for _, v := range list {
			if d, ok := v.(time.Time); ok {
				out = append(out, d)
			} else {
				hasNull = true
			}
		}
		return out, hasNull
	}
	out := []string{}
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		} else {
			hasNull = true
		}
	}
	return out, hasNull
}

func listLen(arr any) int {
	switch x := arr.(type) {
	case []bool:
		return len(x)
	case []int64:
		return len(x)
	case []time.Time:
		return len(x)
	case []string:
		return len(x)
	}
	return 0
}

// likeEscape makes s match itself literally in a LIKE pattern with
// ESCAPE '!'.
func likeEscape(s string) string {
	if !strings.ContainsAny(s, "!%_") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == '!' || r == '%' || r == '_' {
			b.WriteByte('!')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// orderBy builds " ORDER BY ..." for sorts (NULLs first ascending, last
// descending, as in SQLite), with id as the final tie-breaker so that pages
// are stable. Strings sort in byte order.
func (t *tableInfo) orderBy(sorts []storage.Sort) (string, error) {
	if len(sorts) == 0 {
		return "", nil
	}
	parts := make([]string, 0, len(sorts)+1)
	byID := false
	for _, s := range sorts {
		f, ok := t.fields[s.Field]
		if !ok {
			return "", fmt.Errorf("postgres: table %s has no field %q", t.t.Name, s.Field)
		}
		if f.Name == "id" {
			byID = true
		}
		col := quote(f.ColumnName())
		if f.Type == storage.String {
			col += ` COLLATE "C"`
		}
		if s.Desc {
			col += " DESC NULLS LAST"
		} else {
			col += " ASC NULLS FIRST"
		}
		parts = append(parts, col)
	}
	if !byID {
		parts = append(parts, `"id" ASC`)
	}
	return " ORDER BY " + strings.Join(parts, ", "), nil
}
