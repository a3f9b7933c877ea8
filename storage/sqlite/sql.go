package sqlite

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/internal/sqlbuild"
)

// DateLayout is how dates are stored: ISO-8601 in UTC with millisecond
// precision, as Better Auth's Kysely adapter stores them in SQLite.
const DateLayout = "2006-01-02T15:04:05.000Z"

// dialect describes SQLite to the shared statement builders.
var dialect = &sqlbuild.Dialect{
	Name:            "sqlite",
	FoldCase:        true,
	ColumnType:      sqlType,
	Encode:          toDB,
	Decode:          fromDB,
	False:           "0 = 1",
	Match:           "GLOB", // case-sensitive, unlike LIKE
	Wildcard:        "*",
	Escape:          globEscape,
	LimitWithOffset: true,

	AppliedAt:      "text NOT NULL",
	NullableReason: "SQLite cannot add a NOT NULL column without a default to an existing table (the adapter still rejects missing values)",
	CheckReason:    "SQLite cannot add a CHECK constraint to an existing table",
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
			return v, nil // as read: no new interface
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
			return v, nil
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

// errNoSchema is returned by operations before Bind.
var errNoSchema = errors.New("sqlite: no schema bound (call Bind first)")
