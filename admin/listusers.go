package admin

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// ListUsersQuery selects the users of ListUsers, as the query of GET
// /admin/list-users does.
type ListUsersQuery struct {
	// SearchValue, if not empty, keeps the users whose SearchField
	// matches it by SearchOperator (case-sensitive).
	SearchValue string
	// SearchField is "email" (default) or "name".
	SearchField string
	// SearchOperator is storage.Contains (default), StartsWith or
	// EndsWith.
	SearchOperator storage.Op
	// Limit and Offset page the list (0: no limit, no offset). A negative
	// one selects nothing, as Better Auth's database refuses it.
	Limit, Offset int
	// SortBy, if set, is the field to sort by, descending with SortDesc.
	// Without it users come in creation order.
	SortBy   string
	SortDesc bool
	// FilterField is the field FilterValue is compared with (default
	// "email") by FilterOperator (default storage.Eq; In and NotIn take
	// a list). A nil FilterValue filters nothing. Strings are converted
	// to the field's type ("true" for a boolean field, an ISO 8601 date).
	FilterField    string
	FilterValue    any
	FilterOperator storage.Op
}

// UserList is the answer of ListUsers: a page of users and how many match
// in all. Limit and Offset echo the query's when not zero.
type UserList struct {
	Users  []*plugin.User `json:"users"`
	Total  int64          `json:"total"`
	Limit  int            `json:"limit,omitempty"`
	Offset int            `json:"offset,omitempty"`
}

// ListUsers returns the users q selects (GET /admin/list-users), with
// their total. A query naming an unknown field, or a value of the wrong
// type for its field, selects nothing, as Better Auth answers it. by is
// the acting user, whose permissions are checked (user:list); nil is a
// trusted caller.
func (p *Plugin) ListUsers(ctx context.Context, by *plugin.User, q ListUsersQuery) (*UserList, error) {
	if err := p.can(by, "user", "list", ErrNotAllowedToListUsers); err != nil {
		return nil, err
	}
	none := &UserList{Users: []*plugin.User{}}
	fields := p.userFields()
	var where []storage.Where
	if q.SearchValue != "" {
		field, op := q.SearchField, q.SearchOperator
		if field == "" {
			field = "email"
		}
		if op == "" {
			op = storage.Contains
		}
		if (field != "email" && field != "name") || (op != storage.Contains && op != storage.StartsWith && op != storage.EndsWith) {
			return none, nil
		}
		where = append(where, storage.Where{Field: field, Op: op, Value: q.SearchValue})
	}
	if q.FilterValue != nil {
		field, op := q.FilterField, q.FilterOperator
		if field == "" {
			field = "email"
		}
		if op == "" {
			op = storage.Eq
		}
		f, ok := fields[field]
		if !ok {
			return none, nil
		}
		v, ok := filterValue(f, op, q.FilterValue)
		if !ok {
			return none, nil
		}
		where = append(where, storage.Where{Field: field, Op: op, Value: v})
	}
	if q.Limit < 0 || q.Offset < 0 {
		return none, nil
	}
	sort := []storage.Sort{{Field: "createdAt"}, {Field: "id"}}
	if q.SortBy != "" {
		if _, ok := fields[q.SortBy]; !ok {
			return none, nil
		}
		sort = []storage.Sort{{Field: q.SortBy, Desc: q.SortDesc}}
		if q.SortBy != "id" {
			sort = append(sort, storage.Sort{Field: "id"})
		}
	}
	db := p.h.DB()
	recs, err := db.FindMany(ctx, plugin.TableUser, storage.Query{Where: where, Sort: sort, Limit: q.Limit, Offset: q.Offset})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	total, err := db.Count(ctx, plugin.TableUser, where...)
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := &UserList{Users: make([]*plugin.User, len(recs)), Total: total, Limit: q.Limit, Offset: q.Offset}
	for i, r := range recs {
		out.Users[i] = userFromRecord(r)
	}
	return out, nil
}

// filterValue converts a filter value to the type of field f for op, or
// reports false when it cannot be one.
func filterValue(f storage.Field, op storage.Op, v any) (any, bool) {
	switch op {
	case storage.Eq, storage.Ne, storage.Lt, storage.Lte, storage.Gt, storage.Gte:
		return scalarValue(f, v)
	case storage.Contains, storage.StartsWith, storage.EndsWith:
		s, ok := v.(string)
		return s, ok && f.Type == storage.String
	case storage.In, storage.NotIn:
		var list []any
		switch x := v.(type) {
		case []any:
			list = x
		case []string:
			for _, s := range x {
				list = append(list, s)
			}
		default:
			list = []any{v}
		}
		out := make([]any, 0, len(list))
		for _, e := range list {
			c, ok := scalarValue(f, e)
			if !ok {
				return nil, false
			}
			out = append(out, c)
		}
		return out, true
	}
	return nil, false
}

// scalarValue converts one value to the type of field f: strings from a
// query string become the field's type.
func scalarValue(f storage.Field, v any) (any, bool) {
	switch f.Type {
	case storage.String:
		switch x := v.(type) {
		case string:
			return x, true
		case json.Number:
			return x.String(), true
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true
		case int:
			return strconv.Itoa(x), true
		case int64:
			return strconv.FormatInt(x, 10), true
		case bool:
			return strconv.FormatBool(x), true
		}
	case storage.Bool:
		switch x := v.(type) {
		case bool:
			return x, true
		case string:
			if b, err := strconv.ParseBool(x); err == nil && (x == "true" || x == "false") {
				return b, true
			}
		}
	case storage.Int:
		if s, ok := v.(string); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			return n, err == nil
		}
		return toInt(v)
	case storage.Date:
		return toTime(v)
	}
	return nil, false
}

// The enumerations of list-users' query, in Better Auth's order.
var (
	searchFields    = []string{"email", "name"}
	searchOperators = []string{"contains", "starts_with", "ends_with"}
	sortDirections  = []string{"asc", "desc"}
	whereOperators  = []string{"eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "starts_with", "ends_with"}
)

// parseListQuery reads list-users' query string as Better Auth validates
// it: a repeated key is a list, which only filterValue may be; enums are
// checked; limit and offset are read as JavaScript's Number does (NaN and
// 0 mean none; a negative or fractional one selects nothing, as the
// database refuses it).
func parseListQuery(vals url.Values) (ListUsersQuery, error) {
	var q ListUsersQuery
	var issues []string
	str := func(key string) (string, bool) {
		vs, ok := vals[key]
		switch {
		case !ok:
			return "", false
		case len(vs) > 1:
			issues = append(issues, "[query."+key+"] Invalid input: expected string, received array")
			return "", false
		}
		return vs[0], true
	}
	enum := func(key string, allowed []string) string {
		s, ok := str(key)
		if !ok {
			return ""
		}
		for _, a := range allowed {
			if s == a {
				return s
			}
		}
		issues = append(issues, "[query."+key+"] Invalid option: expected one of "+quoteAll(allowed))
		return ""
	}
	number := func(key string) int {
		vs, ok := vals[key]
		if !ok {
			return 0
		}
		if len(vs) > 1 {
			issues = append(issues, "[query."+key+"] Invalid input")
			return 0
		}
		f := jsNumber(vs[0])
		switch {
		case math.IsNaN(f) || f == 0:
			return 0
		case f < 0 || f != math.Trunc(f):
			return -1
		case f > math.MaxInt32: // past every page: as good as no limit
			return math.MaxInt32
		}
		return int(f)
	}
	q.SearchValue, _ = str("searchValue")
	q.SearchField = enum("searchField", searchFields)
	q.SearchOperator = storage.Op(enum("searchOperator", searchOperators))
	q.Limit = number("limit")
	q.Offset = number("offset")
	q.SortBy, _ = str("sortBy")
	q.SortDesc = enum("sortDirection", sortDirections) == "desc"
	q.FilterField, _ = str("filterField")
	if vs, ok := vals["filterValue"]; ok {
		if len(vs) == 1 {
			q.FilterValue = vs[0]
		} else {
			q.FilterValue = vs
		}
	}
	q.FilterOperator = storage.Op(enum("filterOperator", whereOperators))
	if len(issues) > 0 {
		return q, plugin.ErrValidation.WithMessage(strings.Join(issues, "; "))
	}
	return q, nil
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, "|")
}
