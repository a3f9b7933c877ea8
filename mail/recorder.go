package mail

import (
	"context"
	"sync"

	"github.com/managarten/mana-auth/auth"
)

// Recorder is an [auth.Mailer] that keeps every email it is given in
// memory, for tests of code that sends mail. The zero value is ready; it is
// safe for concurrent use. After SetErr, SendEmail fails with that error
// and keeps nothing, until SetErr(nil).
type Recorder struct {
	mu   sync.Mutex
	sent []auth.Email
	err  error
}

var _ auth.Mailer = (*Recorder)(nil)

// SendEmail records e, or returns the error set by SetErr.
func (r *Recorder) SendEmail(_ context.Context, e auth.Email) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.sent = append(r.sent, e)
	return nil
}

// Sent returns the emails recorded so far, oldest first (a copy).
func (r *Recorder) Sent() []auth.Email {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]auth.Email(nil), r.sent...)
}

// SetErr makes SendEmail fail with err (nil: succeed again).
func (r *Recorder) SetErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}
