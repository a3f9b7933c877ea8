package org_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/org"
)

// TestOrganizationNameIsAName: an organization's name goes into the
// invitation mails its members send to other people's addresses, so it is
// checked as a user's name is (plugin.CheckName): no bidi, invisible or
// control characters, at most 256 characters. Create and update answer
// 400 INVALID_NAME and change nothing.
func TestOrganizationNameIsAName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, org.Options{})
	owner := e.newUser("Owner")
	orgID := owner.createOrg("acme")
	tests := []struct {
		name string
		ok   bool
	}{
		{"Analytical Engines 李 🦀", true},
		{"Acme \u202egro.elpmaxe.live\u202c", false},
		{"\u2066Acme\u2069", false},
		{"Acme\u200b", false},
		{"Acme\nYour account is suspended", false},
		{"Acme\u2028", false},
		{strings.Repeat("n", 257), false},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%+.20q", tt.name), func(t *testing.T) {
			create := owner.post("/organization/create", map[string]any{"name": tt.name, "slug": fmt.Sprintf("org-%d", i)})
			update := owner.post("/organization/update", map[string]any{"organizationId": orgID, "data": map[string]any{"name": tt.name}})
			for route, r := range map[string]resp{"create": create, "update": update} {
				if tt.ok && r.status != 200 || !tt.ok && (r.status != 400 || r.code() != "INVALID_NAME") {
					t.Errorf("%s: %d %s", route, r.status, r.raw)
				}
			}
			if got := must(t, owner.get("/organization/get-full-organization", "organizationId", orgID)).str("name"); tt.ok != (got == tt.name) {
				t.Errorf("name after update = %q", got)
			}
		})
	}
}
