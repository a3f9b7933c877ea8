package postgres

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlbuild"
)

// errNoSchema is returned by operations before Bind.
var errNoSchema = errors.New("postgres: no schema bound (call Bind first)")

// newDialect describes PostgreSQL, with tables in the schema pgSchema, to
// the shared statement builders.
func newDialect(pgSchema string) *sqlbuild.Dialect {
	return &sqlbuild.Dialect{
		Name:        "postgres",
		Schema:      pgSchema,
		Numbered:    true,
		ColumnType:  sqlType,
		Decode:      fromDB,
		DBTypes:     true,
		Collate:     ` COLLATE "C"`, // byte order, whatever the database's collation
		False:       "FALSE",
		Array:       typedList,
		Match:       "LIKE",
		Wildcard:    "%",
		Escape:      likeEscape,
		MatchSuffix: " ESCAPE '!'",

		AppliedAt:            "timestamptz NOT NULL DEFAULT now()",
		AddColumnIfNotExists: true,
		AddNotNull:           true,
		NullableReason:       "the table has rows and the schema gives no default; backfill it, then SET NOT NULL (the adapter rejects missing values meanwhile)",
		AddCheck:             true,
		TypeMatches:          typeMatches,
	}
}

// quote quotes an SQL identifier.
func quote(id string) string { return sqlbuild.Quote(id) }

// fromDB converts a decoded column value to the canonical Go type of f.
func fromDB(f storage.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case storage.String:
		switch x := v.(type) {
		case string:
			return v, nil // as decoded: no new interface
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
			return v, nil
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

// typedList converts normalized values to a typed slice pgx encodes as an
// array of the column's type, dropping NULLs (reported by hasNull); n is
// the slice's length.
func typedList(t storage.FieldType, list []any) (arr any, n int, hasNull bool) {
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
		return out, len(out), hasNull
	case storage.Int:
		out := []int64{}
		for _, v := range list {
			if n, ok := v.(int64); ok {
				out = append(out, n)
			} else {
				hasNull = true
			}
		}
		return out, len(out), hasNull
	case storage.Date:
		out := []time.Time{}
		for _, v := range list {
			if d, ok := v.(time.Time); ok {
				out = append(out, d)
			} else {
				hasNull = true
			}
		}
		return out, len(out), hasNull
	}
	out := []string{}
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		} else {
			hasNull = true
		}
	}
	return out, len(out), hasNull
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
