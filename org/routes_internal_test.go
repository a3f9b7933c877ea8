package org

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// TestParseListMembers: list-members' query becomes the typed input, and
// what Better Auth's query schema refuses is refused with its message.
func TestParseListMembers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  ListMembersInput
		err   string // the validation message
	}{
		{query: "", want: ListMembersInput{}},
		{query: "organizationId=o1&organizationSlug=acme&limit=5&offset=2",
			want: ListMembersInput{OrganizationID: "o1", OrganizationSlug: "acme", Limit: 5, Offset: 2}},
		{query: "filterField=role&filterValue=admin",
			want: ListMembersInput{Filter: &MemberFilter{Field: "role", Operator: storage.Eq, Value: "admin"}}},
		{query: "filterField=role&filterOperator=in&filterValue=owner,admin&filterValue=member",
			want: ListMembersInput{Filter: &MemberFilter{Field: "role", Operator: storage.In, Value: []string{"owner", "admin", "member"}}}},
		{query: "filterField=role&filterOperator=not_in",
			want: ListMembersInput{Filter: &MemberFilter{Field: "role", Operator: storage.NotIn, Value: []string{}}}},
		{query: "filterField=createdAt&filterOperator=gte&filterValue=2031-01-01T00:00:00Z",
			want: ListMembersInput{Filter: &MemberFilter{Field: "createdAt", Operator: storage.Gte, Value: "2031-01-01T00:00:00Z"}}},
		// Without a field, operator and value are not read.
		{query: "filterOperator=like&filterValue=x", want: ListMembersInput{}},
		{query: "sortBy=role&sortDirection=desc", want: ListMembersInput{SortBy: "role", SortDesc: true}},
		// Without sortBy, the direction is not read.
		{query: "sortDirection=sideways", want: ListMembersInput{}},
		{query: "limit=0", want: ListMembersInput{}},
		{query: "filterField=role&filterOperator=like&filterValue=x", err: memberFilterOpsMessage},
		{query: "filterField=role&filterOperator=eq", err: "[query.filterValue] Invalid input: expected string, received undefined"},
		{query: "limit=ten", err: "[query.limit] Invalid input: expected number"},
		{query: "offset=-1", err: "[query.offset] Invalid input: expected number"},
		{query: "sortBy=role&sortDirection=up", err: `[query.sortDirection] Invalid option: expected one of "asc"|"desc"`},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseListMembers(q)
		if tc.err != "" {
			ae := plugin.AsError(err)
			if err == nil || ae.Code != "VALIDATION_ERROR" || ae.Message != tc.err {
				t.Errorf("%q: error %v, want %q", tc.query, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.query, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.query, diff)
		}
	}
}
