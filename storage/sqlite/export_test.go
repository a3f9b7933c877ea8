package sqlite

import (
	"database/sql"
	"slices"
)

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

// TakeStatements returns the texts of the statements a's caches hold,
// sorted, and empties the caches.
func TakeStatements(a *Adapter) []string {
	var out []string
	for _, c := range []*stmtCache{a.c.rs, a.c.ws} {
		c.mu.Lock()
		for q, s := range c.m {
			out = append(out, q)
			_ = s.Close()
		}
		c.m = map[string]*sql.Stmt{}
		c.mu.Unlock()
		if a.c.rs == a.c.ws {
			break
		}
	}
	slices.Sort(out)
	return out
}
