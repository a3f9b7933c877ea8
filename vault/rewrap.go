package vault

import (
	"context"
	"errors"
	"fmt"
)

// DefaultRewrapBatch is the batch size RewrapAll uses for batchSize <= 0.
const DefaultRewrapBatch = 100

// RewrapAll re-wraps, under the current KEK, every master key whose wrap
// names another kek_id: the online half of a KEK rotation. Configure the
// new KEK as current with the old one still readable (for example
// MANA_AUTH_KEK=<new>, MANA_AUTH_KEK_ID=env-v2,
// MANA_AUTH_KEK_PREVIOUS=env-v1:<old>), restart, run RewrapAll, then
// retire the old key.
//
// Master keys do not change, so clients notice nothing; reads keep working
// throughout, since Key opens each wrap with the KEK its row names. Rows
// are fetched batchSize at a time (DefaultRewrapBatch if <= 0) in user id
// order, and each row is updated in its own transaction with a
// compare-and-swap on its old wrap, so a concurrent Rotate or
// SetZeroKnowledge wins and the row is simply skipped. Only rows whose
// kek_id differs from the current one are touched, so an interrupted run
// is resumed by running it again. Each re-wrapped row gets a "kek_rewrap"
// audit row.
//
// progress, if not nil, is called after each batch with the number of rows
// handled so far and the number that needed re-wrapping at the start. A
// row that cannot be opened (unknown kek_id, tampered row) is logged and
// skipped; RewrapAll then goes on and finally returns an error counting
// them. It stops early only if ctx ends or the database fails.
func (s *Service) RewrapAll(ctx context.Context, batchSize int, progress func(done, total int)) error {
	if batchSize <= 0 {
		batchSize = DefaultRewrapBatch
	}
	kek, err := s.currentKEK()
	if err != nil {
		return err
	}
	total, err := s.countStale(ctx, kek.ID())
	if err != nil {
		return fmt.Errorf("vault: rewrap: counting rows: %w", err)
	}
	if progress != nil {
		progress(0, total)
	}
	var (
		done, failed int
		errs         []error
		after        string
	)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("vault: rewrap interrupted after %d of %d rows: %w", done, total, err)
		}
		rows, err := s.listStale(ctx, kek.ID(), after, batchSize)
		if err != nil {
			return fmt.Errorf("vault: rewrap: listing rows after %d of %d: %w", done, total, err)
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			after = r.UserID
			err := s.rewrapOne(ctx, r.UserID, kek)
			var storageFailure *storageFailureError
			switch {
			case err == nil:
				done++
			case errors.As(err, &storageFailure) || ctx.Err() != nil:
				return fmt.Errorf("vault: rewrap stopped after %d of %d rows: %w", done, total, err)
			default:
				failed++
				if len(errs) < 10 {
					errs = append(errs, fmt.Errorf("user %s: %w", r.UserID, err))
				}
				s.log.ErrorContext(ctx, "vault: rewrap: cannot re-wrap row", "user_id", r.UserID, "err", err)
			}
		}
		if progress != nil {
			progress(done, total)
		}
		if len(rows) < batchSize {
			break
		}
	}
	if failed > 0 {
		return fmt.Errorf("vault: rewrap: %d row(s) could not be re-wrapped (%d done): %w", failed, done, errors.Join(errs...))
	}
	return nil
}

// storageFailureError marks a database failure during a row's re-wrap
// (as opposed to a row that cannot be opened).
type storageFailureError struct{ err error }

// Error returns the database error's text.
func (e *storageFailureError) Error() string { return e.err.Error() }

// Unwrap returns the database error.
func (e *storageFailureError) Unwrap() error { return e.err }

// rewrapOne re-wraps one user's master key under kek, if its wrap still
// names another KEK.
func (s *Service) rewrapOne(ctx context.Context, userID string, kek KEK) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var openErr error
		err := s.run(ctx, userID, false, func(q txn) error {
			cur, err := q.get(ctx, userID)
			if err != nil {
				return err
			}
			if cur == nil || cur.WrappedMK == nil || cur.KEKID == kek.ID() {
				return nil // deleted, zero-knowledge now, or already re-wrapped
			}
			mk, err := s.open(cur)
			if err != nil {
				openErr = err
				return nil
			}
			wrapped, iv, err := wrapMK(s.rnd, kek, mk)
			clear(mk)
			if err != nil {
				openErr = err
				return nil
			}
			nr := cur.clone()
			nr.WrappedMK, nr.WrapIV, nr.KEKID, nr.FormatVersion = &wrapped, &iv, kek.ID(), FormatVersion
			if err := q.update(ctx, cur, nr); err != nil {
				return err
			}
			return q.audit(ctx, s.auditRow(ctx, userID, ok(ActionKEKRewrap, 200, cur.KEKID+" -> "+kek.ID())))
		})
		if errors.Is(err, errCASMiss) {
			continue
		}
		if err != nil {
			return &storageFailureError{err}
		}
		return openErr
	}
	return ErrConcurrentUpdate
}
