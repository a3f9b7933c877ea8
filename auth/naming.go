package auth

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/managarten/mana-auth/storage"
)

// rateLimitTable is Better Auth's rate-limit table (its rateLimit.storage
// "database"). It is no table of the schema: the rate-limit store keeps it
// (ratelimit/postgres, whose Options.Naming takes its entries), so
// auth.New leaves the entries of Config.Naming for it alone.
const rateLimitTable = "rateLimit"

// applyNaming renames the tables and columns of s, the core's and every
// plugin's tables together, as cfg.Naming and cfg.TableNames say.
func applyNaming(s *storage.Schema, cfg Config) error {
	n := cfg.Naming
	if s.Table(rateLimitTable) == nil {
		n = n.Without(rateLimitTable)
	}
	if len(cfg.TableNames) > 0 {
		tables := maps.Clone(n.Tables)
		if tables == nil {
			tables = map[string]string{}
		}
		for logical, name := range cfg.TableNames {
			if old, ok := tables[logical]; ok && old != name {
				return fmt.Errorf("auth: TableNames and Naming.Tables name table %q differently (%q, %q)", logical, name, old)
			}
			tables[logical] = name
		}
		n.Tables = tables
	}
	if err := n.Apply(s); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// SchemaMismatchError is the error of [Auth.CheckSchema]: the database
// lacks tables or columns of the schema, or holds a column of a type that
// cannot hold its field.
type SchemaMismatchError struct {
	Problems []storage.SchemaProblem
}

func (e *SchemaMismatchError) Error() string {
	var b strings.Builder
	b.WriteString("auth: the database does not match the schema (run the migrations, or check Config.Naming):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// CheckSchema compares the schema (the core's and the plugins' tables,
// under Config.Naming) with the database, without changing anything, if
// the adapter can (storage.SchemaChecker; otherwise it returns nil). A
// table or column missing, or a column whose type cannot hold its field,
// is a [*SchemaMismatchError] listing each: a server that does not
// migrate on start calls it to refuse to start rather than fail requests.
// After [Auth.Migrate] only columns of the wrong type remain.
func (a *Auth) CheckSchema(ctx context.Context) error {
	c, ok := a.db.(storage.SchemaChecker)
	if !ok {
		return nil
	}
	problems, err := c.CheckSchema(ctx, a.schema.Clone())
	if err != nil {
		return fmt.Errorf("auth: check schema: %w", err)
	}
	if len(problems) > 0 {
		return &SchemaMismatchError{Problems: problems}
	}
	return nil
}
