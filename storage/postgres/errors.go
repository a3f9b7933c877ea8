package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/managarten/mana-auth/storage"
)

// ErrSchemaTooNew is returned (wrapped) when the database was migrated by a
// newer version of this package than the running one: its mana_migrations
// table records a version above [SchemaVersion]. Upgrade the binary; never
// run an older one against a newer database.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this binary supports")

// MapError translates an error of pgx to the storage sentinels
// (storage.ErrConflict for a unique violation, storage.ErrConstraint for a
// foreign-key, check or not-null violation or a value the column's type
// refuses, such as a label outside an enum, storage.ErrInvalidValue for a
// string the server refuses (invalid UTF-8, a NUL byte),
// storage.ErrUnavailable when the server cannot be reached or is shutting
// down), keeping pgx's error, and so the server's detail, in the chain.
// When ctx is done the context's error is kept so that errors.Is(err,
// context.Canceled) holds. It is for code that runs its own statements on
// a pool opened beside the adapter, such as a shared rate-limit store;
// other errors are returned as they are.
func MapError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ce := ctx.Err(); ce != nil {
		if errors.Is(err, ce) {
			return err
		}
		return fmt.Errorf("%w (%w)", ce, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		case pgErr.Code == "23503", pgErr.Code == "23514", pgErr.Code == "23502", // foreign_key, check, not_null
			pgErr.Code == "22P02": // invalid_text_representation: a label outside an enum (storage.Field.DBType)
			return fmt.Errorf("%w: %w", storage.ErrConstraint, err)
		case pgErr.Code == "22021", pgErr.Code == "22P05": // character_not_in_repertoire, untranslatable_character
			return fmt.Errorf("%w: %w", storage.ErrInvalidValue, err)
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, cannot connect now
			pgErr.Code == "53300": // too many connections
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return err
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err) || err.Error() == "closed pool" {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}
