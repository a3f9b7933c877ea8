package auth

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// mailQueue sends mails off the request path: a bounded FIFO queue served
// by at most Config.MailConcurrency senders, started when there is work
// and gone when there is none. A full queue drops the mail (logged and
// counted), so a slow or hung mail server neither slows the requests that
// mail nor piles up goroutines.
type mailQueue struct {
	log     *slog.Logger
	now     func() time.Time
	max     int // queued mails
	senders int // at most this many send at once

	mu      sync.Mutex
	jobs    []mailJob
	running int           // senders running
	pending int           // queued + being sent
	idle    chan struct{} // closed when pending drops to 0

	sent, failed, dropped atomic.Uint64
	logged                throttle // the summaries of dropped mails
}

// mailJob is a queued mail: its context (the request's values, not its
// cancellation), the mail, and what to do if the Mailer fails.
type mailJob struct {
	ctx    context.Context
	send   func(ctx context.Context) error
	kind   string
	failed func(ctx context.Context, err error)
}

func newMailQueue(cfg Config) *mailQueue {
	return &mailQueue{log: cfg.Logger, now: cfg.Now, max: cfg.MailQueue, senders: cfg.MailConcurrency}
}

// enqueue queues j, starting a sender if fewer than the bound run. It
// reports false, having logged and counted the drop, when the queue is
// full.
func (q *mailQueue) enqueue(j mailJob) bool {
	j.ctx = context.WithoutCancel(j.ctx)
	q.mu.Lock()
	if len(q.jobs) >= q.max {
		q.mu.Unlock()
		q.dropped.Add(1)
		if n, ok := q.logged.tick(q.now(), 10*time.Second); ok {
			q.log.ErrorContext(j.ctx, "auth: mail queue full: mail dropped (the mail server is slow or down?)",
				"kind", j.kind, "dropped", n, "queue", q.max)
		}
		return false
	}
	q.jobs = append(q.jobs, j)
	if q.pending == 0 {
		q.idle = make(chan struct{})
	}
	q.pending++
	start := q.running < q.senders
	if start {
		q.running++
	}
	q.mu.Unlock()
	if start {
		go q.serve()
	}
	return true
}

// serve sends queued mails until the queue is empty.
func (q *mailQueue) serve() {
	for {
		q.mu.Lock()
		if len(q.jobs) == 0 {
			q.running--
			q.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs[0] = mailJob{}
		q.jobs = q.jobs[1:]
		q.mu.Unlock()

		if err := j.send(j.ctx); err != nil {
			q.failed.Add(1)
			if j.failed != nil {
				j.failed(j.ctx, err)
			}
		} else {
			q.sent.Add(1)
		}

		q.mu.Lock()
		if q.pending--; q.pending == 0 {
			close(q.idle)
		}
		q.mu.Unlock()
	}
}

// wait returns when no mail is queued or being sent, or with ctx's error
// (the count of mails still pending logged) when ctx ends first.
func (q *mailQueue) wait(ctx context.Context) error {
	q.mu.Lock()
	if q.pending == 0 {
		q.mu.Unlock()
		return nil
	}
	idle := q.idle
	q.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		q.mu.Lock()
		n := q.pending
		q.mu.Unlock()
		q.log.WarnContext(ctx, "auth: shutdown: mails still queued or being sent", "mails", n, "err", ctx.Err())
		return ctx.Err()
	}
}

// queueMail queues a send of e through the Mailer (sendEmail: under
// Config.MailTimeout, a failure logged). failed, if not nil, runs in the
// background when the Mailer fails. It reports false when the queue was
// full and the mail dropped.
func (a *Auth) queueMail(ctx context.Context, e Email, failed func(context.Context, error)) bool {
	return a.mail.enqueue(mailJob{ctx: ctx, kind: string(e.Kind), failed: failed,
		send: func(ctx context.Context) error { return a.sendEmail(ctx, e) }})
}

// Shutdown waits until the mails queued or being sent are out (the mail
// queue is empty), or ctx ends; then it returns ctx's error and logs how
// many mails were left. Call it when stopping the server. The queue keeps
// accepting mails: Shutdown may also be used to wait for the mails of a
// test.
func (a *Auth) Shutdown(ctx context.Context) error {
	return a.mail.wait(ctx)
}

// throttle spaces out repeated log lines: tick counts an event and reports
// the count since the last line when one may be written now.
type throttle struct {
	mu   sync.Mutex
	last time.Time
	n    uint64
}

func (t *throttle) tick(now time.Time, every time.Duration) (uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if !t.last.IsZero() && now.Sub(t.last) < every && now.Sub(t.last) >= 0 {
		return 0, false
	}
	n := t.n
	t.n, t.last = 0, now
	return n, true
}
