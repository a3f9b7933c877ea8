// Package ratelimit limits requests per client and path with Better
// Auth's algorithm: a [Rule] allows Max requests per Window, counted in a
// [Store] (in memory, or shared by several instances: the subpackages
// postgres and redis), and a [Limiter] picks the rule of a request's path
// and counts the request.
//
// Package auth runs a Limiter in front of its routes and in
// (*auth.Auth).Protect, configured by auth.Config.RateLimit; an app uses
// this package directly for the rules' and stores' types, or to limit
// something auth does not serve.
//
// Usage:
//
//	l := ratelimit.New(ratelimit.Config{
//		Default: ratelimit.Rule{Window: 10 * time.Second, Max: 100},
//		Rules: map[string]ratelimit.Rule{
//			"/login":  {Window: time.Minute, Max: 5}, // this path
//			"/admin*": {Window: time.Minute, Max: 30}, // every path under /admin
//		},
//		Store: store, // default: NewMemoryStore()
//	})
//	allowed, retryAfter, err := l.Check(ctx, clientIP, r.URL.Path)
//	if err != nil {
//		log.Print(err) // the store failed: the request was let through
//	}
//	if !allowed {
//		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retryAfter.Seconds()))))
//		http.Error(w, "too many requests", http.StatusTooManyRequests)
//		return
//	}
//
// # Algorithm
//
// Better Auth's, for every store: a key's count restarts at 1 when the
// window since its last allowed request has passed; else at Max the
// request is refused (a refusal does not extend the window) with the time
// left until the window ends; else the count grows and the window
// restarts. The subpackage ratelimittest holds a store to it.
//
// # Several instances
//
// A [MemoryStore] counts in one process. A shared store (ratelimit/postgres,
// ratelimit/redis) makes a limit hold across instances at the cost of a
// round trip per request; [SplitStore] sends only the strict rules there.
package ratelimit
