package org

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Permissions maps resources to actions, e.g.
// {"member": {"create", "delete"}}. It is both what a role grants and what
// a permission check asks for.
type Permissions map[string][]string

// AccessControl declares the resources and actions that exist (Statements)
// and what each role may do (Roles). It is Better Auth's createAccessControl
// plus its roles option.
//
// Statements are added to DefaultStatements. Roles are added to
// DefaultRoles; a role named like a default one (owner, admin, member)
// replaces it. Every action a role grants must be declared in a statement.
type AccessControl struct {
	Statements Permissions
	Roles      map[string]Permissions
}

// DefaultStatements returns Better Auth's default statements:
// organization [update delete], member [create update delete], invitation
// [create cancel], team [create update delete], ac [create read update
// delete].
func DefaultStatements() Permissions {
	return Permissions{
		"organization": {"update", "delete"},
		"member":       {"create", "update", "delete"},
		"invitation":   {"create", "cancel"},
		"team":         {"create", "update", "delete"},
		"ac":           {"create", "read", "update", "delete"},
	}
}

// DefaultRoles returns Better Auth's default roles: owner may do
// everything; admin everything but delete the organization; member only
// ac:read.
func DefaultRoles() map[string]Permissions {
	owner := DefaultStatements()
	admin := DefaultStatements()
	admin["organization"] = []string{"update"}
	return map[string]Permissions{
		"owner":  owner,
		"admin":  admin,
		"member": {"organization": {}, "member": {}, "invitation": {}, "team": {}, "ac": {"read"}},
	}
}

// allows reports whether the role grants every requested action of every
// requested resource (Better Auth's role.authorize with connector AND). An
// empty request, or a resource asked with no actions, is not allowed.
func (p Permissions) allows(req Permissions) bool {
	if len(req) == 0 {
		return false
	}
	for res, actions := range req {
		granted, ok := p[res]
		if !ok || len(actions) == 0 {
			return false
		}
		for _, a := range actions {
			if !slices.Contains(granted, a) {
				return false
			}
		}
	}
	return true
}

// resolveAccess merges ac into the defaults and checks it.
func resolveAccess(ac *AccessControl) (Permissions, map[string]Permissions, error) {
	statements := DefaultStatements()
	roles := DefaultRoles()
	if ac != nil {
		for res, actions := range ac.Statements {
			if res == "" {
				return nil, nil, fmt.Errorf("org: AccessControl: empty resource name")
			}
			merged := slices.Clone(statements[res])
			for _, a := range actions {
				if !slices.Contains(merged, a) {
					merged = append(merged, a)
				}
			}
			statements[res] = merged
		}
		for name, perms := range ac.Roles {
			if name == "" || strings.ContainsAny(name, ", \t\r\n") {
				return nil, nil, fmt.Errorf("org: AccessControl: invalid role name %q", name)
			}
			roles[name] = clonePermissions(perms)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(roles)) {
		for res, actions := range roles[name] {
			declared, ok := statements[res]
			if !ok {
				return nil, nil, fmt.Errorf("org: role %q: resource %q is not declared in Statements", name, res)
			}
			for _, a := range actions {
				if !slices.Contains(declared, a) {
					return nil, nil, fmt.Errorf("org: role %q: action %q of %q is not declared in Statements", name, a, res)
				}
			}
		}
	}
	return statements, roles, nil
}

func clonePermissions(p Permissions) Permissions {
	out := make(Permissions, len(p))
	for k, v := range p {
		out[k] = slices.Clone(v)
	}
	return out
}

// ParseRoles splits a stored or submitted role value ("admin, member")
// into trimmed, non-empty role names, as Better Auth's parseRoleList.
func ParseRoles(role string) []string { return splitList(role) }

// splitList splits a comma-joined list (of roles, of team ids) into its
// trimmed, non-empty elements.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// joinRoles is the stored form of a role list: comma-joined, no spaces,
// duplicates dropped.
func joinRoles(roles []string) string {
	var out []string
	for _, r := range roles {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return strings.Join(out, ",")
}

// hasRole reports whether the stored role value contains name.
func hasRole(role, name string) bool { return slices.Contains(ParseRoles(role), name) }

// roleInput converts a JSON role value (string or array of strings) to
// role names. ok is false for any other type.
func roleInput(v any) (roles []string, ok bool) {
	switch x := v.(type) {
	case string:
		return ParseRoles(x), true
	case []any:
		for _, e := range x {
			s, isStr := e.(string)
			if !isStr {
				return nil, false
			}
			roles = append(roles, ParseRoles(s)...)
		}
		return roles, true
	case []string:
		return roleList(x), true
	}
	return nil, false
}

// roleList is the role names of a submitted list, each element parsed
// with ParseRoles ([]string{"admin, member"} is two roles).
func roleList(in []string) []string {
	var roles []string
	for _, s := range in {
		roles = append(roles, ParseRoles(s)...)
	}
	return roles
}
