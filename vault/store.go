package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/managarten/mana-auth/storage"
)

// row is one encryption_vaults row. Binary values are kept in their
// stored (base64) form.
type row struct {
	UserID                string
	WrappedMK             *string
	WrapIV                *string
	FormatVersion         int64
	KEKID                 string
	RecoveryWrappedMK     *string
	RecoveryIV            *string
	RecoveryFormatVersion int64
	RecoverySetAt         *time.Time
	ZeroKnowledge         bool
	CreatedAt             time.Time
	RotatedAt             *time.Time
}

func (r *row) clone() *row {
	c := *r
	return &c
}

// auditRow is one encryption_vault_audit row.
type auditRow struct {
	ID        string
	UserID    string
	Action    string
	IP        *string
	UserAgent *string
	Context   *string
	Status    int
	CreatedAt time.Time
}

// errCASMiss is returned by the operations when a compare-and-swap update
// matched no row or an insert lost a race: the operation is retried.
var errCASMiss = errors.New("vault: row changed concurrently")

// txn is what an operation can do inside one transaction: the vault's
// statements, through the storage API.
type txn struct{ db storage.Adapter }

// run runs fn in a transaction scoped to userID (storage.ScopedTx with
// PostgresUserSetting), so that on PostgreSQL the row-level security of
// the vault tables admits only that user's rows. With asyncCommit the
// commit need not wait for durability (PostgreSQL's synchronous_commit
// off); other databases ignore both settings.
func (s *Service) run(ctx context.Context, userID string, asyncCommit bool, fn func(txn) error) error {
	settings := map[string]string{PostgresUserSetting: userID}
	if asyncCommit {
		settings["synchronous_commit"] = "off"
	}
	return storage.ScopedTx(ctx, s.db, settings, func(tx storage.Adapter) error { return fn(txn{tx}) })
}

// maintenance runs fn in a transaction that may read every user's vault
// row (PostgresMaintenanceSetting), never write one.
func (s *Service) maintenance(ctx context.Context, fn func(tx storage.Adapter) error) error {
	return storage.ScopedTx(ctx, s.db, map[string]string{PostgresMaintenanceSetting: "on"}, fn)
}

func staleWhere(kekID string) []storage.Where {
	return []storage.Where{
		{Field: fKEKID, Op: storage.Ne, Value: kekID},
		{Field: fWrappedMK, Op: storage.Ne, Value: nil},
	}
}

// countStale counts the rows with a KEK wrap whose kek_id is not kekID.
func (s *Service) countStale(ctx context.Context, kekID string) (int, error) {
	var n int64
	err := s.maintenance(ctx, func(tx storage.Adapter) error {
		var err error
		n, err = tx.Count(ctx, TableVaults, staleWhere(kekID)...)
		return err
	})
	return int(n), err
}

// listStale returns up to n such rows with user_id > after, by user_id.
func (s *Service) listStale(ctx context.Context, kekID, after string, n int) ([]*row, error) {
	where := staleWhere(kekID)
	if after != "" {
		where = append(where, storage.Where{Field: fUserID, Op: storage.Gt, Value: after})
	}
	var recs []storage.Record
	err := s.maintenance(ctx, func(tx storage.Adapter) error {
		var err error
		recs, err = tx.FindMany(ctx, TableVaults, storage.Query{Where: where, Sort: []storage.Sort{{Field: fUserID}}, Limit: n})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*row, len(recs))
	for i, r := range recs {
		out[i] = rowFromRecord(r)
	}
	return out, nil
}

func rowFromRecord(r storage.Record) *row {
	return &row{
		UserID:                r.String(fUserID),
		WrappedMK:             r.StringPtr(fWrappedMK),
		WrapIV:                r.StringPtr(fWrapIV),
		FormatVersion:         r.Int(fFormatVersion),
		KEKID:                 r.String(fKEKID),
		RecoveryWrappedMK:     r.StringPtr(fRecoveryWrappedMK),
		RecoveryIV:            r.StringPtr(fRecoveryIV),
		RecoveryFormatVersion: r.Int(fRecoveryFormatVersion),
		RecoverySetAt:         r.TimePtr(fRecoverySetAt),
		ZeroKnowledge:         r.Bool(fZeroKnowledge),
		CreatedAt:             r.Time(fCreatedAt),
		RotatedAt:             r.TimePtr(fRotatedAt),
	}
}

// mutable returns the columns an update writes.
func (r *row) mutable() storage.Record {
	return storage.Record{
		fWrappedMK:             r.WrappedMK,
		fWrapIV:                r.WrapIV,
		fFormatVersion:         r.FormatVersion,
		fKEKID:                 r.KEKID,
		fRecoveryWrappedMK:     r.RecoveryWrappedMK,
		fRecoveryIV:            r.RecoveryIV,
		fRecoveryFormatVersion: r.RecoveryFormatVersion,
		fRecoverySetAt:         r.RecoverySetAt,
		fZeroKnowledge:         r.ZeroKnowledge,
		fRotatedAt:             r.RotatedAt,
	}
}

func anyOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// get returns the user's vault row, or (nil, nil) if there is none.
func (t txn) get(ctx context.Context, userID string) (*row, error) {
	rec, err := t.db.FindOne(ctx, TableVaults, storage.W(fUserID, userID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rowFromRecord(rec), nil
}

// insert creates r; a concurrent insert for the same user is errCASMiss.
func (t txn) insert(ctx context.Context, r *row) error {
	rec := r.mutable()
	rec["id"] = r.UserID
	rec[fUserID] = r.UserID
	rec[fCreatedAt] = r.CreatedAt
	err := t.db.Create(ctx, TableVaults, rec)
	if errors.Is(err, storage.ErrConflict) {
		return errCASMiss
	}
	return err
}

// update writes every mutable column of next on the row of old.UserID if
// its wraps, kek_id and zero_knowledge still equal old's; otherwise it
// returns errCASMiss.
func (t txn) update(ctx context.Context, old, next *row) error {
	n, err := t.db.Update(ctx, TableVaults, next.mutable(),
		storage.W(fUserID, old.UserID),
		storage.W(fWrappedMK, anyOrNil(old.WrappedMK)),
		storage.W(fWrapIV, anyOrNil(old.WrapIV)),
		storage.W(fKEKID, old.KEKID),
		storage.W(fRecoveryWrappedMK, anyOrNil(old.RecoveryWrappedMK)),
		storage.W(fRecoveryIV, anyOrNil(old.RecoveryIV)),
		storage.W(fZeroKnowledge, old.ZeroKnowledge))
	if err != nil {
		return err
	}
	if n == 0 {
		return errCASMiss
	}
	return nil
}

// audit inserts an audit row.
func (t txn) audit(ctx context.Context, a *auditRow) error {
	return t.db.Create(ctx, TableAudit, storage.Record{
		"id": a.ID, fUserID: a.UserID, fAction: a.Action, fIPAddress: a.IP, fUserAgent: a.UserAgent,
		fContext: a.Context, fStatus: int64(a.Status), fCreatedAt: a.CreatedAt,
	})
}

// listAudit returns the user's audit rows, oldest first.
func (t txn) listAudit(ctx context.Context, userID string) ([]auditRow, error) {
	recs, err := t.db.FindMany(ctx, TableAudit, storage.Query{
		Where: []storage.Where{storage.W(fUserID, userID)},
		Sort:  []storage.Sort{{Field: fCreatedAt}, {Field: "id"}},
	})
	if err != nil {
		return nil, err
	}
	out := make([]auditRow, len(recs))
	for i, r := range recs {
		out[i] = auditRow{ID: r.String("id"), UserID: r.String(fUserID), Action: r.String(fAction),
			IP: r.StringPtr(fIPAddress), UserAgent: r.StringPtr(fUserAgent), Context: r.StringPtr(fContext),
			Status: int(r.Int(fStatus)), CreatedAt: r.Time(fCreatedAt)}
	}
	return out, nil
}

// deleteUser removes the user's vault and audit rows.
func (t txn) deleteUser(ctx context.Context, userID string) error {
	if _, err := t.db.Delete(ctx, TableAudit, storage.W(fUserID, userID)); err != nil {
		return fmt.Errorf("vault: delete audit rows: %w", err)
	}
	if _, err := t.db.Delete(ctx, TableVaults, storage.W(fUserID, userID)); err != nil {
		return fmt.Errorf("vault: delete vault: %w", err)
	}
	return nil
}
