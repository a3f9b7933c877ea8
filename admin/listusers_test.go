package admin_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/admin"
)

// page is what a list-users test compares: the emails in order, the
// total and the echoed limit and offset (nil when absent).
type page struct {
	Emails        []string
	Total         float64
	Limit, Offset any
}

// TestListUsers checks list-users' search operators, filters, sorting and
// paging (order compared with go-cmp), over SQLite and PostgreSQL.
func TestListUsers(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind})
		root := e.admin("root@example.net")
		ctx := context.Background()
		for _, u := range []admin.CreateUserInput{
			{Email: "alice@example.com", Name: "Alice"},
			{Email: "bob@example.org", Name: "Bob", Role: []string{"admin"}},
			{Email: "carol@example.com", Name: "Carol"},
			{Email: "dave@test.net", Name: "Dave"},
			{Email: "eve@example.com", Name: "Eve 100%"},
			{Email: "fay@test.net", Name: "Fay_x"},
		} {
			if _, err := e.p.CreateUser(ctx, nil, u); err != nil {
				t.Fatal(err)
			}
		}
		bob, _ := e.a.Host().FindUserByEmail(ctx, "bob@example.org")
		if _, err := e.p.BanUser(ctx, nil, bob.ID, admin.BanInput{}); err != nil {
			t.Fatal(err)
		}
		all := []string{"root@example.net", "alice@example.com", "bob@example.org", "carol@example.com", "dave@test.net", "eve@example.com", "fay@test.net"}
		cases := []struct {
			name string
			q    url.Values
			want page
		}{
			{"all, in creation order", nil, page{all, 7, nil, nil}},
			{"email contains", url.Values{"searchValue": {"example.com"}}, page{[]string{"alice@example.com", "carol@example.com", "eve@example.com"}, 3, nil, nil}},
			{"case-sensitive", url.Values{"searchValue": {"EXAMPLE"}}, page{[]string{}, 0, nil, nil}},
			{"name starts_with", url.Values{"searchField": {"name"}, "searchOperator": {"starts_with"}, "searchValue": {"Ca"}}, page{[]string{"carol@example.com"}, 1, nil, nil}},
			{"name case-sensitive", url.Values{"searchField": {"name"}, "searchValue": {"carol"}}, page{[]string{}, 0, nil, nil}},
			{"ends_with", url.Values{"searchOperator": {"ends_with"}, "searchValue": {".org"}}, page{[]string{"bob@example.org"}, 1, nil, nil}},
			{"% is no wildcard", url.Values{"searchField": {"name"}, "searchValue": {"%"}}, page{[]string{"eve@example.com"}, 1, nil, nil}},
			{"_ is no wildcard", url.Values{"searchField": {"name"}, "searchValue": {"_"}}, page{[]string{"fay@test.net"}, 1, nil, nil}},
			{"empty search is none", url.Values{"searchValue": {""}}, page{all, 7, nil, nil}},
			{"sort by name desc", url.Values{"sortBy": {"name"}, "sortDirection": {"desc"}},
				page{[]string{"root@example.net", "fay@test.net", "eve@example.com", "dave@test.net", "carol@example.com", "bob@example.org", "alice@example.com"}, 7, nil, nil}},
			{"sort by email", url.Values{"sortBy": {"email"}},
				page{[]string{"alice@example.com", "bob@example.org", "carol@example.com", "dave@test.net", "eve@example.com", "fay@test.net", "root@example.net"}, 7, nil, nil}},
			{"page 2 of 3", url.Values{"sortBy": {"email"}, "limit": {"3"}, "offset": {"3"}},
				page{[]string{"dave@test.net", "eve@example.com", "fay@test.net"}, 7, 3.0, 3.0}},
			{"last page", url.Values{"sortBy": {"email"}, "limit": {"3"}, "offset": {"6"}}, page{[]string{"root@example.net"}, 7, 3.0, 6.0}},
			{"past the end", url.Values{"limit": {"3"}, "offset": {"60"}}, page{[]string{}, 7, 3.0, 60.0}},
			{"search with paging total", url.Values{"searchValue": {"test.net"}, "limit": {"1"}}, page{[]string{"dave@test.net"}, 2, 1.0, nil}},
			{"huge limit", url.Values{"limit": {"1e12"}, "searchValue": {".net"}}, page{[]string{"root@example.net", "dave@test.net", "fay@test.net"}, 3, float64(1<<31 - 1), nil}},
			{"limit 0 and NaN ignored", url.Values{"limit": {"0"}, "offset": {"abc"}}, page{all, 7, nil, nil}},
			{"filter role", url.Values{"filterField": {"role"}, "filterValue": {"admin"}}, page{[]string{"root@example.net", "bob@example.org"}, 2, nil, nil}},
			{"filter bool", url.Values{"filterField": {"banned"}, "filterValue": {"true"}}, page{[]string{"bob@example.org"}, 1, nil, nil}},
			{"filter ne", url.Values{"filterField": {"banned"}, "filterOperator": {"ne"}, "filterValue": {"true"}}, page{[]string{"root@example.net", "alice@example.com", "carol@example.com", "dave@test.net", "eve@example.com", "fay@test.net"}, 6, nil, nil}},
			{"filter email default", url.Values{"filterValue": {"carol@example.com"}}, page{[]string{"carol@example.com"}, 1, nil, nil}},
			{"filter in", url.Values{"filterField": {"email"}, "filterOperator": {"in"}, "filterValue": {"dave@test.net", "alice@example.com"}}, page{[]string{"alice@example.com", "dave@test.net"}, 2, nil, nil}},
			{"filter not_in", url.Values{"filterOperator": {"not_in"}, "filterValue": {"dave@test.net", "alice@example.com", "root@example.net"}}, page{[]string{"bob@example.org", "carol@example.com", "eve@example.com", "fay@test.net"}, 4, nil, nil}},
			{"search and filter", url.Values{"searchValue": {"example"}, "filterField": {"role"}, "filterValue": {"admin"}}, page{[]string{"root@example.net", "bob@example.org"}, 2, nil, nil}},
			{"unknown sort field", url.Values{"sortBy": {"password"}}, page{[]string{}, 0, nil, nil}},
			{"unknown filter field", url.Values{"filterField": {"password"}, "filterValue": {"x"}}, page{[]string{}, 0, nil, nil}},
			{"bad boolean", url.Values{"filterField": {"banned"}, "filterValue": {"maybe"}}, page{[]string{}, 0, nil, nil}},
			{"text operator on a boolean", url.Values{"filterField": {"banned"}, "filterOperator": {"contains"}, "filterValue": {"t"}}, page{[]string{}, 0, nil, nil}},
			{"negative limit", url.Values{"limit": {"-1"}}, page{[]string{}, 0, nil, nil}},
			{"fractional offset", url.Values{"offset": {"1.5"}}, page{[]string{}, 0, nil, nil}},
			{"NUL in the search", url.Values{"searchValue": {"a\x00"}}, page{[]string{}, 0, nil, nil}},
		}
		for _, tc := range cases {
			r := root.get("/admin/list-users", tc.q)
			if r.status != 200 {
				t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
				continue
			}
			got := page{Emails: []string{}, Total: r.body["total"].(float64), Limit: r.body["limit"], Offset: r.body["offset"]}
			for _, u := range r.body["users"].([]any) {
				got.Emails = append(got.Emails, u.(map[string]any)["email"].(string))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}
