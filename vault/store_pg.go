package vault

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/managarten/mana-auth/storage/postgres"
)

// Session settings the PostgreSQL row-level-security policies read.
const (
	// PostgresUserSetting holds the id of the user a transaction acts for.
	// Every vault transaction on PostgreSQL starts with
	// SELECT set_config('app.current_user_id', $1, true), so the setting
	// lasts until the end of that transaction only.
	PostgresUserSetting = "app.current_user_id"
	// PostgresMaintenanceSetting, set to "on" in a transaction, lets that
	// transaction read (not write) every vault row; RewrapAll sets it to
	// find the rows to re-wrap, then updates each row in a transaction
	// scoped to its user.
	PostgresMaintenanceSetting = "app.vault_maintenance"
)

// pgStore runs the vault's statements on a pgx pool, each transaction
// scoped to its user through app.current_user_id. The storage.Adapter API
// cannot run a statement such as set_config inside its transactions, so on
// PostgreSQL the vault issues its own SQL over the same tables.
type pgStore struct {
	pool   *pgxpool.Pool
	vaults string // qualified, quoted table names
	audits string
}

func newPGStore(pool *pgxpool.Pool, schema, vaults, audits string) *pgStore {
	q := func(t string) string { return pgQuote(schema) + "." + pgQuote(t) }
	return &pgStore{pool: pool, vaults: q(vaults), audits: q(audits)}
}

func pgQuote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

const rowColumns = `"user_id", "wrapped_mk", "wrap_iv", "format_version", "kek_id", "recovery_wrapped_mk", ` +
	`"recovery_iv", "recovery_format_version", "recovery_set_at", "zero_knowledge", "created_at", "rotated_at"`

func scanRow(s interface{ Scan(...any) error }) (*row, error) {
	r := &row{}
	err := s.Scan(&r.UserID, &r.WrappedMK, &r.WrapIV, &r.FormatVersion, &r.KEKID, &r.RecoveryWrappedMK,
		&r.RecoveryIV, &r.RecoveryFormatVersion, &r.RecoverySetAt, &r.ZeroKnowledge, &r.CreatedAt, &r.RotatedAt)
	if err != nil {
		return nil, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	if r.RecoverySetAt != nil {
		t := r.RecoverySetAt.UTC()
		r.RecoverySetAt = &t
	}
	if r.RotatedAt != nil {
		t := r.RotatedAt.UTC()
		r.RotatedAt = &t
	}
	return r, nil
}

// pgErr maps pgx errors to the storage sentinels as the PostgreSQL adapter
// does, and names a refusal by a row-level security policy.
func pgErr(ctx context.Context, err error) error {
	var pe *pgconn.PgError
	if ctx.Err() == nil && errors.As(err, &pe) && pe.Code == "42501" {
		return fmt.Errorf("vault: permission denied (a row-level security policy?): %w", err)
	}
	return postgres.MapError(ctx, err)
}

// pgTx is a transaction on one pooled connection. BEGIN and the
// set_config statements are not sent on their own: they are queued and go
// out in the same round trip as the first real statement (a pipelined
// batch), so scoping a transaction to a user costs no extra round trip.
type pgTx struct {
	conn    *pgxpool.Conn
	pending [][2]string // set_config(name, value) still to send; nil once BEGIN went out
	started bool
	done    bool
}

// begin acquires a connection for a transaction applying settings (name,
// value pairs) with set_config(..., true).
func (s *pgStore) begin(ctx context.Context, settings ...string) (*pgTx, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, pgErr(ctx, err)
	}
	t := &pgTx{conn: conn}
	for i := 0; i+1 < len(settings); i += 2 {
		t.pending = append(t.pending, [2]string{settings[i], settings[i+1]})
	}
	return t, nil
}

// batch sends the pending BEGIN and settings followed by one statement
// and hands the statement's results to fn.
func (t *pgTx) batch(ctx context.Context, sql string, args []any, fn func(pgx.BatchResults) error) error {
	if t.done {
		return pgx.ErrTxClosed
	}
	b := &pgx.Batch{}
	prefix := 0
	if !t.started {
		b.Queue("BEGIN")
		for _, kv := range t.pending {
			b.Queue("SELECT set_config($1, $2, true)", kv[0], kv[1])
		}
		prefix = 1 + len(t.pending)
		t.started, t.pending = true, nil
	}
	b.Queue(sql, args...)
	br := t.conn.SendBatch(ctx, b)
	var err error
	for i := 0; i < prefix && err == nil; i++ {
		_, err = br.Exec()
	}
	if err == nil {
		err = fn(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return pgErr(ctx, err)
}

func (t *pgTx) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := t.batch(ctx, sql, args, func(br pgx.BatchResults) error {
		var err error
		tag, err = br.Exec()
		return err
	})
	return tag, err
}

func (t *pgTx) query(ctx context.Context, sql string, args []any, scan func(pgx.Rows) error) error {
	return t.batch(ctx, sql, args, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// commit commits (if anything was sent) and releases the connection.
func (t *pgTx) commit(ctx context.Context) error {
	if t.done {
		return pgx.ErrTxClosed
	}
	t.done = true
	defer t.conn.Release()
	if !t.started {
		return nil
	}
	_, err := t.conn.Exec(ctx, "COMMIT")
	return pgErr(ctx, err)
}

// rollback rolls back and releases the connection; it is a no-op after
// commit. A connection left inside a transaction (a failed rollback) is
// destroyed by the pool on release.
func (t *pgTx) rollback(ctx context.Context) {
	if t.done {
		return
	}
	t.done = true
	if t.started {
		_, _ = t.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}
	t.conn.Release()
}

func (s *pgStore) run(ctx context.Context, userID string, asyncCommit bool, fn func(txn) error) error {
	settings := []string{PostgresUserSetting, userID}
	if asyncCommit {
		settings = append(settings, "synchronous_commit", "off")
	}
	tx, err := s.begin(ctx, settings...)
	if err != nil {
		return err
	}
	defer tx.rollback(ctx)
	if err := fn(pgTxn{s: s, tx: tx}); err != nil {
		return err
	}
	return tx.commit(ctx)
}

func (s *pgStore) countStale(ctx context.Context, kekID string) (int, error) {
	tx, err := s.begin(ctx, PostgresMaintenanceSetting, "on")
	if err != nil {
		return 0, err
	}
	defer tx.rollback(ctx)
	var n int64
	err = tx.query(ctx, `SELECT count(*) FROM `+s.vaults+` WHERE "kek_id" <> $1 AND "wrapped_mk" IS NOT NULL`,
		[]any{kekID}, func(r pgx.Rows) error { return r.Scan(&n) })
	if err != nil {
		return 0, err
	}
	return int(n), tx.commit(ctx)
}

func (s *pgStore) listStale(ctx context.Context, kekID, after string, n int) ([]*row, error) {
	tx, err := s.begin(ctx, PostgresMaintenanceSetting, "on")
	if err != nil {
		return nil, err
	}
	defer tx.rollback(ctx)
	var out []*row
	err = tx.query(ctx, `SELECT `+rowColumns+` FROM `+s.vaults+
		` WHERE "kek_id" <> $1 AND "wrapped_mk" IS NOT NULL AND "user_id" COLLATE "C" > $2`+
		` ORDER BY "user_id" COLLATE "C" LIMIT $3`, []any{kekID, after, n}, func(rows pgx.Rows) error {
		r, err := scanRow(rows)
		if err == nil {
			out = append(out, r)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, tx.commit(ctx)
}

type pgTxn struct {
	s  *pgStore
	tx *pgTx
}

func (t pgTxn) get(ctx context.Context, userID string) (*row, error) {
	var r *row
	err := t.tx.query(ctx, `SELECT `+rowColumns+` FROM `+t.s.vaults+` WHERE "user_id" = $1`, []any{userID},
		func(rows pgx.Rows) error {
			var err error
			r, err = scanRow(rows)
			return err
		})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (t pgTxn) insert(ctx context.Context, r *row) error {
	tag, err := t.tx.exec(ctx, `INSERT INTO `+t.s.vaults+` ("id", `+rowColumns+`)`+
		` VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING`,
		r.UserID, r.WrappedMK, r.WrapIV, r.FormatVersion, r.KEKID, r.RecoveryWrappedMK, r.RecoveryIV,
		r.RecoveryFormatVersion, r.RecoverySetAt, r.ZeroKnowledge, r.CreatedAt, r.RotatedAt)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errCASMiss
	}
	return nil
}

func (t pgTxn) update(ctx context.Context, old, next *row) error {
	tag, err := t.tx.exec(ctx, `UPDATE `+t.s.vaults+` SET "wrapped_mk" = $2, "wrap_iv" = $3, "format_version" = $4,`+
		` "kek_id" = $5, "recovery_wrapped_mk" = $6, "recovery_iv" = $7, "recovery_format_version" = $8,`+
		` "recovery_set_at" = $9, "zero_knowledge" = $10, "rotated_at" = $11`+
		` WHERE "user_id" = $1 AND "wrapped_mk" IS NOT DISTINCT FROM $12::text AND "wrap_iv" IS NOT DISTINCT FROM $13::text`+
		` AND "kek_id" = $14 AND "recovery_wrapped_mk" IS NOT DISTINCT FROM $15::text`+
		` AND "recovery_iv" IS NOT DISTINCT FROM $16::text AND "zero_knowledge" = $17`,
		old.UserID, next.WrappedMK, next.WrapIV, next.FormatVersion, next.KEKID, next.RecoveryWrappedMK,
		next.RecoveryIV, next.RecoveryFormatVersion, next.RecoverySetAt, next.ZeroKnowledge, next.RotatedAt,
		old.WrappedMK, old.WrapIV, old.KEKID, old.RecoveryWrappedMK, old.RecoveryIV, old.ZeroKnowledge)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errCASMiss
	}
	return nil
}

func (t pgTxn) audit(ctx context.Context, a *auditRow) error {
	_, err := t.tx.exec(ctx, `INSERT INTO `+t.s.audits+
		` ("id", "user_id", "action", "ip_address", "user_agent", "context", "status", "created_at")`+
		` VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		a.ID, a.UserID, a.Action, a.IP, a.UserAgent, a.Context, int64(a.Status), a.CreatedAt)
	return err
}

func (t pgTxn) listAudit(ctx context.Context, userID string) ([]auditRow, error) {
	var out []auditRow
	err := t.tx.query(ctx, `SELECT "id", "user_id", "action", "ip_address", "user_agent", "context", "status", "created_at"`+
		` FROM `+t.s.audits+` WHERE "user_id" = $1 ORDER BY "created_at", "id" COLLATE "C"`, []any{userID},
		func(rows pgx.Rows) error {
			var a auditRow
			var status int64
			var at time.Time
			if err := rows.Scan(&a.ID, &a.UserID, &a.Action, &a.IP, &a.UserAgent, &a.Context, &status, &at); err != nil {
				return err
			}
			a.Status, a.CreatedAt = int(status), at.UTC()
			out = append(out, a)
			return nil
		})
	return out, err
}

func (t pgTxn) deleteUser(ctx context.Context, userID string) error {
	if _, err := t.tx.exec(ctx, `DELETE FROM `+t.s.audits+` WHERE "user_id" = $1`, userID); err != nil {
		return fmt.Errorf("vault: delete audit rows: %w", err)
	}
	if _, err := t.tx.exec(ctx, `DELETE FROM `+t.s.vaults+` WHERE "user_id" = $1`, userID); err != nil {
		return fmt.Errorf("vault: delete vault: %w", err)
	}
	return nil
}
