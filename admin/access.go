package admin

import (
	"fmt"
	"slices"
	"strings"
)

// Statements maps a resource to actions on it: the statements of an
// access control (every action there is), the grants of a role, or a
// permission request ({"user": ["ban"]}), as Better Auth writes them.
type Statements map[string][]string

func (s Statements) clone() Statements {
	if s == nil {
		return nil
	}
	out := make(Statements, len(s))
	for k, v := range s {
		out[k] = slices.Clone(v)
	}
	return out
}

// AccessControl declares every resource and the actions it has (Better
// Auth's createAccessControl); its NewRole checks a role against them.
type AccessControl struct {
	// Statements are the resources and their actions.
	Statements Statements
}

// NewRole returns a role granting s, or an error naming the first
// resource or action of s that ac does not declare.
func (ac AccessControl) NewRole(s Statements) (Role, error) {
	for _, res := range sortedKeys(s) {
		known, ok := ac.Statements[res]
		if !ok {
			return Role{}, fmt.Errorf("admin: resource %q is not in the access control's statements", res)
		}
		for _, act := range s[res] {
			if !slices.Contains(known, act) {
				return Role{}, fmt.Errorf("admin: action %q of resource %q is not in the access control's statements", act, res)
			}
		}
	}
	return Role{grants: s.clone()}, nil
}

// Role is what a role may do: for each resource, the actions it grants
// (Better Auth's ac.newRole). The zero Role grants nothing.
type Role struct {
	grants Statements
}

// NewRole returns a role granting s, unchecked (see AccessControl.NewRole
// for a checked one).
func NewRole(s Statements) Role { return Role{grants: s.clone()} }

// Statements returns a copy of what r grants.
func (r Role) Statements() Statements { return r.grants.clone() }

// Authorize reports whether r grants every action requested, as Better
// Auth's role.authorize with its default AND connector: each requested
// resource must be one r knows, with a non-empty list of actions that r
// all grants; an empty request is refused.
func (r Role) Authorize(request Statements) bool {
	if len(request) == 0 {
		return false
	}
	for res, acts := range request {
		allowed, ok := r.grants[res]
		if !ok || len(acts) == 0 {
			return false
		}
		for _, a := range acts {
			if !slices.Contains(allowed, a) {
				return false
			}
		}
	}
	return true
}

// DefaultStatements returns the statements of Better Auth's admin plugin:
// the user and session actions every admin route checks.
func DefaultStatements() Statements {
	return Statements{
		"user": {"create", "list", "set-role", "ban", "impersonate", "impersonate-admins", "delete",
			"set-password", "set-email", "set-phone", "get", "update"},
		"session": {"list", "revoke", "delete"},
	}
}

// DefaultAccessControl returns the access control of DefaultStatements,
// to build custom roles from (Better Auth's defaultAc).
func DefaultAccessControl() AccessControl { return AccessControl{Statements: DefaultStatements()} }

// AdminRole returns Better Auth's "admin" role: every default action but
// impersonate-admins.
func AdminRole() Role {
	return NewRole(Statements{
		"user": {"create", "list", "set-role", "ban", "impersonate", "delete", "set-password", "set-email",
			"set-phone", "get", "update"},
		"session": {"list", "revoke", "delete"},
	})
}

// UserRole returns Better Auth's "user" role, which grants nothing.
func UserRole() Role { return NewRole(Statements{"user": {}, "session": {}}) }

// DefaultRoles returns Better Auth's roles: "admin" (AdminRole) and
// "user" (UserRole).
func DefaultRoles() map[string]Role { return map[string]Role{"admin": AdminRole(), "user": UserRole()} }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// splitRoles splits a stored role ("user,admin") into its roles, as
// Better Auth does (no trimming: " admin" is not "admin").
func splitRoles(role string) []string { return strings.Split(role, ",") }
