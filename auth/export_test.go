package auth

// QueuedSessionLookups returns how many session lookups wait for the next
// batched read, or -1 when lookups are not batched (for sessionload_test).
func (a *Auth) QueuedSessionLookups() int {
	if a.sessions == nil {
		return -1
	}
	a.sessions.mu.Lock()
	defer a.sessions.mu.Unlock()
	return len(a.sessions.queue)
}
