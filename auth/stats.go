package auth

import "time"

// Stats are the counters of an Auth's password hashing gate and mail
// queue, for metrics (the reference server exports them on /metrics).
// Totals count since New.
type Stats struct {
	// HashRunning and HashWaiting are the password hashes running now and
	// the callers queued for a slot (Config.HashConcurrency, HashQueue).
	HashRunning, HashWaiting int
	// HashRefused counts the callers refused with ErrBusy (503
	// SERVICE_BUSY): their expected wait was beyond Config.HashMaxWait,
	// the queue was full, or they waited twice HashMaxWait.
	HashRefused uint64
	// HashTime is the measured time of one hash (a moving average), from
	// which the expected wait is estimated.
	HashTime time.Duration
	// MailQueued counts the mails queued or being sent now.
	MailQueued int
	// MailSent and MailFailed count the mails the Mailer accepted and
	// those it failed (or timed out, Config.MailTimeout); MailDropped
	// those dropped because the queue was full (Config.MailQueue).
	MailSent, MailFailed, MailDropped uint64
	// SessionLookups counts the session tokens looked up in the database
	// (every request that presents one, unless the cookie cache answers),
	// SessionReads the database reads that answered them: fewer reads than
	// lookups means concurrent lookups shared reads
	// (SessionConfig.DisableLookupBatching).
	SessionLookups, SessionReads uint64
}

// Stats returns the current counters.
func (a *Auth) Stats() Stats {
	var s Stats
	s.HashRunning, s.HashWaiting, s.HashRefused, s.HashTime = a.hashGate.stats()
	q := a.mail
	q.mu.Lock()
	s.MailQueued = q.pending
	q.mu.Unlock()
	s.MailSent, s.MailFailed, s.MailDropped = q.sent.Load(), q.failed.Load(), q.dropped.Load()
	s.SessionLookups, s.SessionReads = a.sessionLookups.Load(), a.sessionReads.Load()
	return s
}
