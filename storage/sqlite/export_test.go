package sqlite

// CacheSizes returns how many prepared statements the read and write caches
// of a hold (read is 0 for an in-memory database, whose single cache is the
// write cache).
func CacheSizes(a *Adapter) (read, write int) {
	if a.c.rs == a.c.ws {
		return 0, a.c.ws.len()
	}
	return a.c.rs.len(), a.c.ws.len()
}

// SetCacheLimit sets the size bound of a's statement caches.
func SetCacheLimit(a *Adapter, n int) {
	for _, c := range []*stmtCache{a.c.rs, a.c.ws} {
		c.mu.Lock()
		c.max = n
		c.mu.Unlock()
	}
}

// MaxCachedListLen is maxCachedListLen.
const MaxCachedListLen = maxCachedListLen
