package auth

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// sessionBatchMax bounds the session tokens one batched read looks up.
const sessionBatchMax = 64

// sessionLoader reads the session rows (joined with their users) of
// concurrent requests together, so that a server under load makes one
// database round trip for many get-session, /token or other session
// lookups instead of one each: fewer statements for the database to run,
// and fewer writes and wake-ups on both sides.
//
// One round of reads is in flight at a time. A lookup that finds none
// starts its own read at once, alone (no added latency when the server is
// not busy); lookups that come while a round is in flight wait and go
// together into the next round, which starts when that one ends: one read
// of up to sessionBatchMax tokens, or several such reads at once for a
// longer queue.
//
// It is sound: a lookup never takes the answer of a read that started
// before it arrived, only of one that starts after, so it sees every
// change committed before the request came in (a session revoked, a user
// changed) exactly as a read of its own would. (Joining a read already in
// flight, as a singleflight would, could return a session revoked after
// that read began.)
type sessionLoader struct {
	db    storage.Joiner
	many  storage.ManyJoiner
	reads *atomic.Uint64 // counts the reads (Stats.SessionReads)
	mu    sync.Mutex
	busy  bool // a round of reads is in flight
	queue []*queuedLookup
}

// queuedLookup is a queued lookup and, once done is closed, its answer.
type queuedLookup struct {
	token    string
	done     chan struct{}
	rec, ref storage.Record
	err      error
}

// newSessionLoader returns a loader over db, or nil if db cannot read
// several joined records at once.
func newSessionLoader(db storage.Adapter, reads *atomic.Uint64) *sessionLoader {
	j, ok1 := db.(storage.Joiner)
	m, ok2 := db.(storage.ManyJoiner)
	if !ok1 || !ok2 {
		return nil
	}
	return &sessionLoader{db: j, many: m, reads: reads}
}

// find returns the session with token and its user, as FindOneJoined
// would: an error wrapping storage.ErrNotFound when there is none.
func (l *sessionLoader) find(ctx context.Context, token string) (rec, ref storage.Record, err error) {
	l.mu.Lock()
	if !l.busy {
		l.busy = true
		l.mu.Unlock()
		l.reads.Add(1)
		defer l.done(ctx) // also if the adapter panics: the loader must not stay busy
		return l.db.FindOneJoined(ctx, plugin.TableSession, "userId", storage.W("token", token))
	}
	w := &queuedLookup{token: token, done: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.mu.Unlock()
	select {
	case <-w.done:
		return w.rec, w.ref, w.err
	case <-ctx.Done():
		return nil, nil, ctx.Err() // the next read still answers w, to no one
	}
}

// done is called when a read ends: the queued lookups, if any, are read
// in a goroutine of their own (so that the request that made this read
// returns now), else the loader is idle.
func (l *sessionLoader) done(ctx context.Context) {
	l.mu.Lock()
	if len(l.queue) == 0 {
		l.busy = false
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	go l.drain(context.WithoutCancel(ctx))
}

// drain reads the queue until it is empty; then the loader is idle. Each
// round takes every queued lookup: up to sessionBatchMax tokens in one
// read, more in several reads at once, so that no lookup waits for more
// than the read in flight when it came and its own (a slow or frozen
// database makes each lookup wait at most twice its query timeout, never
// a growing queue's worth of reads).
func (l *sessionLoader) drain(ctx context.Context) {
	for {
		l.mu.Lock()
		queue := l.queue
		l.queue = nil
		if len(queue) == 0 {
			l.busy = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		var wg sync.WaitGroup
		for len(queue) > sessionBatchMax {
			batch := queue[:sessionBatchMax:sessionBatchMax]
			queue = queue[sessionBatchMax:]
			wg.Go(func() { l.read(ctx, batch) })
		}
		l.read(ctx, queue)
		wg.Wait()
	}
}

// read answers batch with one read: FindOneJoined for a single token,
// FindManyJoined with the tokens otherwise.
func (l *sessionLoader) read(ctx context.Context, batch []*queuedLookup) {
	l.reads.Add(1)
	defer func() {
		// An adapter that panics fails this batch, not the process (this
		// is the loader's own goroutine) nor the reads after it.
		if p := recover(); p != nil {
			err := fmt.Errorf("auth: session read panicked: %v", p)
			for _, w := range batch {
				w.rec, w.ref, w.err = nil, nil, err
			}
		}
		for _, w := range batch {
			close(w.done)
		}
	}()
	if len(batch) == 1 {
		w := batch[0]
		w.rec, w.ref, w.err = l.db.FindOneJoined(ctx, plugin.TableSession, "userId", storage.W("token", w.token))
		return
	}
	tokens := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, w := range batch {
		if !seen[w.token] {
			seen[w.token] = true
			tokens = append(tokens, w.token)
		}
	}
	recs, refs, err := l.many.FindManyJoined(ctx, plugin.TableSession, "userId", storage.Where{Field: "token", Op: storage.In, Value: tokens})
	if err != nil {
		for _, w := range batch {
			w.err = err
		}
		return
	}
	byToken := make(map[string]int, len(recs))
	for i, r := range recs {
		byToken[r.String("token")] = i
	}
	given := make([]bool, len(recs))
	for _, w := range batch {
		i, ok := byToken[w.token]
		switch {
		case !ok:
			w.err = storage.ErrNotFound
		case given[i]:
			// The same token twice: each lookup gets records of its own,
			// as from a read of its own (a caller may change them).
			w.rec, w.ref = maps.Clone(recs[i]), maps.Clone(refs[i])
		default:
			given[i] = true
			w.rec, w.ref = recs[i], refs[i]
		}
	}
}
