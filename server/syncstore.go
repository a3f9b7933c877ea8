package server

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EntityCount is the number of live records of one table of one app in
// mana-sync.
type EntityCount struct {
	AppID string
	Table string
	Count int64
}

// SyncStore is what the service needs of the mana-sync database: counts of
// a user's records per app for the GDPR view, and their erasure. The
// default, PostgresSync, runs the statements the upstream service ran.
type SyncStore interface {
	Counts(ctx context.Context, userID string) ([]EntityCount, map[string]time.Time, error)
	DeleteUser(ctx context.Context, userID string) (int64, error)
}

// PostgresSync reads the mana-sync table sync_changes. Every statement runs
// in a transaction that first sets app.current_user_id, so the table's
// row-level security policy (user_id = current_setting('app.current_user_id'))
// admits exactly the user's rows, even for a role that is not a superuser:
//
//	counts:   newest row per (app_id, table_name, record_id) whose op <> 'delete', counted per (app_id, table_name)
//	activity: max(created_at) per app_id
//	delete:   DELETE FROM sync_changes WHERE user_id = $1
type PostgresSync struct {
	Pool  *pgxpool.Pool
	Table string // default "sync_changes"
}

// OpenPostgresSync connects to the mana-sync database.
func OpenPostgresSync(ctx context.Context, url string) (*PostgresSync, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("SYNC_DATABASE_URL: %w", err)
	}
	return &PostgresSync{Pool: pool}, nil
}

func (s *PostgresSync) table() string {
	if s.Table != "" {
		return pgx.Identifier{s.Table}.Sanitize()
	}
	return "sync_changes"
}

func (s *PostgresSync) asUser(ctx context.Context, userID string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT set_config('app.current_user_id', $1, true)", userID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// Counts implements SyncStore.
func (s *PostgresSync) Counts(ctx context.Context, userID string) ([]EntityCount, map[string]time.Time, error) {
	var counts []EntityCount
	activity := map[string]time.Time{}
	err := s.asUser(ctx, userID, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT app_id, table_name, count(*) FROM (
			SELECT DISTINCT ON (app_id, table_name, record_id) app_id, table_name, op
			FROM `+s.table()+` WHERE user_id = $1
			ORDER BY app_id, table_name, record_id, created_at DESC) latest
			WHERE op <> 'delete' GROUP BY app_id, table_name ORDER BY app_id, table_name`, userID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c EntityCount
			if err := rows.Scan(&c.AppID, &c.Table, &c.Count); err != nil {
				return err
			}
			counts = append(counts, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT app_id, max(created_at) FROM `+s.table()+` WHERE user_id = $1 GROUP BY app_id`, userID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var app string
			var at time.Time
			if err := rows.Scan(&app, &at); err != nil {
				return err
			}
			activity[app] = at.UTC()
		}
		return rows.Err()
	})
	return counts, activity, err
}

// DeleteUser implements SyncStore.
func (s *PostgresSync) DeleteUser(ctx context.Context, userID string) (int64, error) {
	var n int64
	err := s.asUser(ctx, userID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM `+s.table()+` WHERE user_id = $1`, userID)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// Close closes the pool.
func (s *PostgresSync) Close() { s.Pool.Close() }
