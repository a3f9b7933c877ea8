package auth

import (
	"context"
	"sync"
)

// bgWork runs fire-and-forget work (mails whose outcome must not show in
// the answer) with a bound, so a flood cannot pile up goroutines.
type bgWork struct {
	wg    sync.WaitGroup
	slots chan struct{}
}

// background runs fn detached from the request (its values kept, its
// cancellation dropped). When too much is already running it runs fn in
// the caller instead, which slows that caller rather than dropping work.
func (a *Auth) background(ctx context.Context, fn func(context.Context)) {
	ctx = context.WithoutCancel(ctx)
	select {
	case a.bg.slots <- struct{}{}:
	default:
		fn(ctx)
		return
	}
	a.bg.wg.Add(1)
	go func() {
		defer func() { <-a.bg.slots; a.bg.wg.Done() }()
		fn(ctx)
	}()
}

// Shutdown waits until background work (mails in flight) is done, or ctx
// ends. Call it when stopping the server.
func (a *Auth) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.bg.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
