package sqlite

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// DateLayout is how dates are stored: ISO-8601 in UTC with millisecond
// precision, as Better Auth's Kysely adapter stores them in SQLite.
const DateLayout = "2006-01-02T15:04:05.000Z"

// migrationsTable records the applied migration steps.
const migrationsTable = "mana_migrations"

var checkNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// schemaInfo is a bound schema with lookup tables precomputed.
type schemaInfo struct {
	s      storage.Schema
	tables map[string]*tableInfo // by logical name
}

type tableInfo struct {
	t          storage.Table
	quoted     string                   // quoted table name
	all        []storage.Field          // id first
	fields     map[string]storage.Field // by logical name, id included
	selectList string                   // quoted columns of all, comma separated
}

func newSchemaInfo(s storage.Schema) (*schemaInfo, error) {
	s = s.Clone()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	si := &schemaInfo{s: s, tables: make(map[string]*tableInfo, len(s.Tables))}
	for i := range s.Tables {
		t := &s.Tables[i]
		if strings.EqualFold(t.TableName(), migrationsTable) {
			return nil, fmt.Errorf("sqlite: table name %q is reserved", t.TableName())
		}
		names := map[string]bool{}
		for _, c := range t.Checks {
			if !checkNameRE.MatchString(c.Name) {
				return nil, fmt.Errorf("sqlite: table %s: invalid check name %q", t.Name, c.Name)
			}
			if names[c.Name] {
				return nil, fmt.Errorf("sqlite: table %s: check %q declared twice", t.Name, c.Name)
			}
			names[c.Name] = true
		}
		for _, f := range t.Fields {
			if r := f.References; r != nil && r.OnDelete != "" && onDelete(r.OnDelete) == "" {
				return nil, fmt.Errorf("sqlite: field %s.%s: unknown OnDelete action %q", t.Name, f.Name, r.OnDelete)
			}
		}
		ti := &tableInfo{t: *t, quoted: quote(t.TableName()), all: t.AllFields(), fields: map[string]storage.Field{}}
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
			return fmt.Errorf("sqlite: table %s has no field %q", t.t.Name, k)
		}
	}
	return nil
}

func (t *tableInfo) missing(f storage.Field) error {
	return fmt.Errorf("sqlite: %s.%s is required: %w", t.t.Name, f.Name, storage.ErrConstraint)
}

// value normalizes v for field f.
func (t *tableInfo) value(f storage.Field, v any) (any, error) {
	nv, err := storage.Normalize(f.Type, v)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s.%s: %w", t.t.Name, f.Name, err)
	}
	return nv, nil
}

// toDB converts a normalized value to what is stored.
func toDB(v any) any {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return x.UTC().Format(DateLayout)
	}
	return v
}

// fromDB converts a scanned column value to the canonical Go type of f.
func fromDB(f storage.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch f.Type {
	case storage.String:
		switch x := v.(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64), nil
		case time.Time:
			return x.UTC().Format(DateLayout), nil
		}
	case storage.Bool:
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "1", "true", "t":
				return true, nil
			case "0", "false", "f", "":
				return false, nil
			}
		}
	case storage.Int:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt64 && x <= math.MaxInt64 {
				return int64(x), nil
			}
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case string:
			if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
				return n, nil
			}
		}
	case storage.Date:
		switch x := v.(type) {
		case time.Time:
			return x.UTC().Truncate(time.Millisecond), nil
		case int64:
			return epochTime(x), nil
		case float64:
			return epochTime(int64(x)), nil
		case string:
			if t, ok := parseTime(x); ok {
				return t, nil
			}
		}
	}
	return nil, fmt.Errorf("cannot read %T %v as a %s", v, v, f.Type)
}

// epochTime reads an integer epoch: seconds when it is below 1e11 (before
// the year 5138), milliseconds otherwise.
func epochTime(n int64) time.Time {
	if n > -1e11 && n < 1e11 {
		return time.Unix(n, 0).UTC()
	}
	return time.UnixMilli(n).UTC()
}

var timeLayouts = []string{
	DateLayout,
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999 -0700 MST", // time.Time.String, the driver's default
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime reads a date stored as text in any of the common forms.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Millisecond), true
		}
	}
	if i := strings.Index(s, " m="); i > 0 { // time.Time.String with a monotonic reading
		return parseTime(s[:i])
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return epochTime(n), true
	}
	return time.Time{}, false
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

// cond builds one condition.
func (t *tableInfo) cond(alias string, w storage.Where, args []any) (string, []any, error) {
	f, ok := t.fields[w.Field]
	if !ok {
		return "", nil, fmt.Errorf("sqlite: table %s has no field %q", t.t.Name, w.Field)
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
			return "", nil, fmt.Errorf("sqlite: %s.%s: operator %s needs a value", t.t.Name, f.Name, w.Op)
		}
		op := map[storage.Op]string{storage.Eq: "=", storage.Ne: "<>",
			storage.Lt: "<", storage.Lte: "<=", storage.Gt: ">", storage.Gte: ">="}[w.Op]
		return col + " " + op + " ?", append(args, toDB(v)), nil
	case storage.In, storage.NotIn:
		// SQL semantics: a NULL in the list never matches (and makes NOT IN
		// match nothing); NOT IN () matches every non-NULL value.
		list, err := storage.NormalizeList(f.Type, w.Value)
		if err != nil {
			return "", nil, fmt.Errorf("sqlite: %s.%s: %w", t.t.Name, f.Name, err)
		}
		var marks []string
		var vals []any
		hasNull := false
		for _, v := range list {
			if v == nil {
				hasNull = true
				continue
			}
			marks = append(marks, "?")
			vals = append(vals, toDB(v))
		}
		// Arguments are added only with their placeholders.
		switch {
		case w.Op == storage.In && len(marks) == 0:
			return "0 = 1", args, nil
		case w.Op == storage.In:
			return col + " IN (" + strings.Join(marks, ", ") + ")", append(args, vals...), nil
		case hasNull:
			return "0 = 1", args, nil
		case len(marks) == 0:
			return col + " IS NOT NULL", args, nil
		}
		return col + " NOT IN (" + strings.Join(marks, ", ") + ")", append(args, vals...), nil
	case storage.Contains, storage.StartsWith, storage.EndsWith:
		if f.Type != storage.String {
			return "", nil, fmt.Errorf("sqlite: %s.%s: operator %s needs a string field", t.t.Name, f.Name, w.Op)
		}
		v, err := t.value(f, w.Value)
		if err != nil {
			return "", nil, err
		}
		s, ok := v.(string)
		if !ok {
			return "", nil, fmt.Errorf("sqlite: %s.%s: operator %s needs a value", t.t.Name, f.Name, w.Op)
		}
		// GLOB is case-sensitive, unlike LIKE.
		p := globEscape(s)
		switch w.Op {
		case storage.Contains:
			p = "*" + p + "*"
		case storage.StartsWith:
			p += "*"
		case storage.EndsWith:
			p = "*" + p
		}
		return col + " GLOB ?", append(args, p), nil
	}
	return "", nil, fmt.Errorf("sqlite: unknown operator %q", w.Op)
}

// globEscape makes s match itself literally in a GLOB pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, "*?[") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[':
			b.WriteByte('[')
			b.WriteRune(r)
			b.WriteByte(']')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// orderBy builds " ORDER BY ..." for sorts (NULLs first ascending, last
// descending), with id as the final tie-breaker so that pages are stable.
func (t *tableInfo) orderBy(sorts []storage.Sort) (string, error) {
	if len(sorts) == 0 {
		return "", nil
	}
	parts := make([]string, 0, len(sorts)+1)
	byID := false
	for _, s := range sorts {
		f, ok := t.fields[s.Field]
		if !ok {
			return "", fmt.Errorf("sqlite: table %s has no field %q", t.t.Name, s.Field)
		}
		if f.Name == "id" {
			byID = true
		}
		dir := " ASC NULLS FIRST"
		if s.Desc {
			dir = " DESC NULLS LAST"
		}
		parts = append(parts, quote(f.ColumnName())+dir)
	}
	if !byID {
		parts = append(parts, `"id" ASC`)
	}
	return " ORDER BY " + strings.Join(parts, ", "), nil
}

// errNoSchema is returned by operations before Bind.
var errNoSchema = errors.New("sqlite: no schema bound (call Bind first)")
