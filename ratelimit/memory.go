package ratelimit

import (
	"context"
	"sync"
	"time"
)

// MemoryStore is a [Store] in the memory of one process.
type MemoryStore struct {
	mu      sync.Mutex
	entries map[string]*entry
	sweepAt time.Time
}

type entry struct {
	count  int
	last   time.Time
	window time.Duration
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{entries: map[string]*entry{}}
}

// Hit implements [Store].
func (s *MemoryStore) Hit(_ context.Context, key string, rule Rule, now time.Time) (bool, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.After(s.sweepAt) {
		// Drop entries whose window has passed, at most once a minute, so
		// the map cannot grow without bound under a spray of addresses.
		for k, e := range s.entries {
			if now.Sub(e.last) >= e.window {
				delete(s.entries, k)
			}
		}
		s.sweepAt = now.Add(time.Minute)
	}
	e := s.entries[key]
	switch {
	case e == nil || now.Sub(e.last) >= rule.Window:
		s.entries[key] = &entry{count: 1, last: now, window: rule.Window}
		return true, 0, nil
	case e.count >= rule.Max:
		return false, e.last.Add(rule.Window).Sub(now), nil
	default:
		e.count++
		e.last = now
		e.window = rule.Window
		return true, 0, nil
	}
}
