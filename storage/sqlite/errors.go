package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/managarten/mana-auth/storage"
)

// ErrSchemaTooNew is returned (wrapped) when the database was migrated by a
// newer version of this package than the running one: its mana_migrations
// table records a version above [SchemaVersion]. Upgrade the binary; never
// run an older one against a newer database.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary supports")

// mapErr translates driver errors to the storage sentinels, keeping the
// driver's message: unique and primary-key violations become
// storage.ErrConflict, other constraint violations storage.ErrConstraint,
// and failures to reach the file storage.ErrUnavailable. Context errors are
// kept so that errors.Is(err, context.Canceled) holds.
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ce := ctx.Err(); ce != nil && !errors.Is(err, ce) {
		return fmt.Errorf("%w (%w)", ce, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch code {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		}
		switch code & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			return fmt.Errorf("%w: %w", storage.ErrConstraint, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOTADB,
			sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_PROTOCOL:
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || err.Error() == "sql: database is closed" {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}
