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

// txn is what an operation can do inside one transaction.
type txn interface {
	// get returns the user's vault row, or (nil, nil) if there is none.
	get(ctx context.Context, userID string) (*row, error)
	// insert creates r; a concurrent insert for the same user is errCASMiss.
	insert(ctx context.Context, r *row) error
	// update writes every mutable column of next on the row of old.UserID
	// if its wraps, kek_id and zero_knowledge still equal old's; otherwise
	// it returns errCASMiss.
	update(ctx context.Context, old, next *row) error
	// audit inserts an audit row.
	audit(ctx context.Context, a *auditRow) error
	// listAudit returns the user's audit rows, oldest first.
	listAudit(ctx context.Context, userID string) ([]auditRow, error)
	// deleteUser removes the user's vault and audit rows.
	deleteUser(ctx context.Context, userID string) error
}

// store runs transactions. On PostgreSQL each transaction scoped to a user
// first sets app.current_user_id, for row-level security.
type store interface {
	// run runs fn in a transaction scoped to userID. With asyncCommit the
	// commit need not wait for durability (PostgreSQL synchronous_commit
	// off); adapters that cannot do that ignore it.
	run(ctx context.Context, userID string, asyncCommit bool, fn func(txn) error) error
	// countStale counts the rows with a KEK wrap whose kek_id is not kekID.
	countStale(ctx context.Context, kekID string) (int, error)
	// listStale returns up to n such rows with user_id > after, by user_id.
	listStale(ctx context.Context, kekID, after string, n int) ([]*row, error)
}

// adapterStore is the store over any storage.Adapter.
type adapterStore struct{ db storage.Adapter }

func (s adapterStore) run(ctx context.Context, userID string, _ bool, fn func(txn) error) error {
	return s.db.Tx(ctx, func(tx storage.Adapter) error { return fn(adapterTxn{tx}) })
}

func staleWhere(kekID string) []storage.Where {
	return []storage.Where{
		{Field: fKEKID, Op: storage.Ne, Value: kekID},
		{Field: fWrappedMK, Op: storage.Ne, Value: nil},
	}
}

func (s adapterStore) countStale(ctx context.Context, kekID string) (int, error) {
	n, err := s.db.Count(ctx, TableVaults, staleWhere(kekID)...)
	return int(n), err
}

func (s adapterStore) listStale(ctx context.Context, kekID, after string, n int) ([]*row, error) {
	where := staleWhere(kekID)
	if after != "" {
		where = append(where, storage.Where{Field: fUserID, Op: storage.Gt, Value: after})
	}
	recs, err := s.db.FindMany(ctx, TableVaults, storage.Query{Where: where, Sort: []storage.Sort{{Field: fUserID}}, Limit: n})
	if err != nil {
		return nil, err
	}
	out := make([]*row, len(recs))
	for i, r := range recs {
		out[i] = rowFromRecord(r)
	}
	return out, nil
}

type adapterTxn struct{ db storage.Adapter }

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

func (t adapterTxn) get(ctx context.Context, userID string) (*row, error) {
	rec, err := t.db.FindOne(ctx, TableVaults, storage.W(fUserID, userID))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return rowFromRecord(rec), nil
}

func (t adapterTxn) insert(ctx context.Context, r *row) error {
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

func (t adapterTxn) update(ctx context.Context, old, next *row) error {
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

func (t adapterTxn) audit(ctx context.Context, a *auditRow) error {
	return t.db.Create(ctx, TableAudit, storage.Record{
		"id": a.ID, fUserID: a.UserID, fAction: a.Action, fIPAddress: a.IP, fUserAgent: a.UserAgent,
		fContext: a.Context, fStatus: int64(a.Status), fCreatedAt: a.CreatedAt,
	})
}

func (t adapterTxn) listAudit(ctx context.Context, userID string) ([]auditRow, error) {
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

func (t adapterTxn) deleteUser(ctx context.Context, userID string) error {
	if _, err := t.db.Delete(ctx, TableAudit, storage.W(fUserID, userID)); err != nil {
		return fmt.Errorf("vault: delete audit rows: %w", err)
	}
	if _, err := t.db.Delete(ctx, TableVaults, storage.W(fUserID, userID)); err != nil {
		return fmt.Errorf("vault: delete vault: %w", err)
	}
	return nil
}
