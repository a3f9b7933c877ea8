package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// Balance is a user's credits summary.
type Balance struct {
	Balance           float64 `json:"balance"`
	TotalEarned       float64 `json:"totalEarned"`
	TotalSpent        float64 `json:"totalSpent"`
	TransactionsCount int64   `json:"transactionsCount"`
}

// CreditsClient is what the service needs of mana-credits. The default,
// HTTPCredits, makes the calls the upstream service made; tests and other
// deployments may supply their own.
type CreditsClient interface {
	// Init creates the user's zero balance if missing (idempotent).
	Init(ctx context.Context, userID string) error
	// RedeemPendingGifts redeems gift codes waiting for the email.
	RedeemPendingGifts(ctx context.Context, userID, email string) error
	// Balance returns the user's balance.
	Balance(ctx context.Context, userID string) (Balance, error)
	// DeleteUser erases the user's credits data and says how many records
	// went. Nothing to delete is not an error.
	DeleteUser(ctx context.Context, userID string) (int64, error)
}

// HTTPCredits calls mana-credits over HTTP with the X-Service-Key header:
//
//	POST   {base}/api/v1/internal/credits/init            {"userId"}
//	POST   {base}/api/v1/internal/gifts/redeem-pending    {"userId","email"}
//	GET    {base}/api/v1/internal/credits/balance/{userId}
//	DELETE {base}/api/v1/internal/credits/balance/{userId} → {"deletedCount"} (404 = nothing)
type HTTPCredits struct {
	BaseURL    string
	ServiceKey string
	Client     *http.Client
}

func (c *HTTPCredits) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{Timeout: 5 * time.Second}
}

func (c *HTTPCredits) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Service-Key", c.ServiceKey)
	resp, err := c.client().Do(req)
	if err != nil {
		return 0, fmt.Errorf("mana-credits %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("mana-credits %s %s: status %d", method, path, resp.StatusCode)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("mana-credits %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Init implements CreditsClient.
func (c *HTTPCredits) Init(ctx context.Context, userID string) error {
	_, err := c.do(ctx, "POST", "/api/v1/internal/credits/init", map[string]string{"userId": userID}, nil)
	return err
}

// RedeemPendingGifts implements CreditsClient.
func (c *HTTPCredits) RedeemPendingGifts(ctx context.Context, userID, email string) error {
	_, err := c.do(ctx, "POST", "/api/v1/internal/gifts/redeem-pending", map[string]string{"userId": userID, "email": email}, nil)
	return err
}

// Balance implements CreditsClient.
func (c *HTTPCredits) Balance(ctx context.Context, userID string) (Balance, error) {
	var b Balance
	_, err := c.do(ctx, "GET", "/api/v1/internal/credits/balance/"+url.PathEscape(userID), nil, &b)
	return b, err
}

// DeleteUser implements CreditsClient.
func (c *HTTPCredits) DeleteUser(ctx context.Context, userID string) (int64, error) {
	var out struct {
		DeletedCount int64 `json:"deletedCount"`
	}
	status, err := c.do(ctx, "DELETE", "/api/v1/internal/credits/balance/"+url.PathEscape(userID), nil, &out)
	if status == http.StatusNotFound {
		return 0, nil
	}
	return out.DeletedCount, err
}

// creditsWorker makes sure every new user's credits are initialised: the
// user's creation writes a creditsSync row in the same transaction, a first
// attempt runs at once, and failures are retried with backoff until
// mana-credits answers. Gift codes
// are redeemed once the email is verified (not before, unlike upstream).
// Calls are idempotent, so several instances may race on a row harmlessly.
type creditsWorker struct {
	h        plugin.Host
	client   CreditsClient
	log      *slog.Logger
	interval time.Duration
	verified bool            // gifts wait for email verification
	stop     context.Context // done when the server closes: no more retries
}

// attempt runs the pending steps for one user.
func (w *creditsWorker) attempt(ctx context.Context, userID string) {
	db := w.h.DB()
	rec, err := db.FindOne(ctx, TableCreditsSync, storage.W("userId", userID))
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	set := storage.Record{}
	if rec["initializedAt"] == nil {
		err = w.client.Init(ctx, userID)
		if err == nil {
			set["initializedAt"] = w.h.Now()
		}
	}
	if err == nil && rec["giftsRedeemedAt"] == nil {
		if u, ferr := w.h.FindUserByID(ctx, userID); ferr == nil && (u.EmailVerified || !w.verified) {
			if err = w.client.RedeemPendingGifts(ctx, userID, u.Email); err == nil {
				set["giftsRedeemedAt"] = w.h.Now()
			}
		} else if ferr == nil {
			set["nextAttemptAt"] = w.h.Now().Add(10 * time.Minute) // look again once verified
		}
	}
	if err != nil {
		n := rec.Int("attempts") + 1
		backoff := time.Duration(1<<min(n, 12)) * time.Second // 2 s … ~1 h
		set["attempts"] = n
		set["nextAttemptAt"] = w.h.Now().Add(backoff)
		msg := err.Error()
		if len(msg) > 500 {
			msg = msg[:500]
		}
		set["lastError"] = msg
		w.log.WarnContext(ctx, "credits: call failed, will retry", "user", userID, "attempt", n, "retryIn", backoff, "err", err)
		if backoff <= 5*time.Minute {
			// Retry on time in this process; the sweep covers the rest
			// (restarts, other instances, long backoffs).
			time.AfterFunc(backoff, func() {
				if w.stop == nil || w.stop.Err() == nil {
					w.attempt(context.WithoutCancel(ctx), userID)
				}
			})
		}
	} else if rec["lastError"] != nil {
		set["lastError"] = nil
	}
	if len(set) > 0 {
		if _, err := db.Update(ctx, TableCreditsSync, set, storage.W("id", rec.String("id"))); err != nil {
			w.log.WarnContext(ctx, "credits: updating state failed", "err", err)
		}
	}
}

// every calls fn each interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// sweep retries the due rows.
func (w *creditsWorker) sweep(ctx context.Context) {
	now := w.h.Now()
	recs, err := w.h.DB().FindMany(ctx, TableCreditsSync, storage.Query{
		// due AND (init pending OR gifts pending)
		Where: []storage.Where{{Field: "nextAttemptAt", Op: storage.Lte, Value: now},
			{Field: "initializedAt", Op: storage.Eq, Value: nil},
			{Field: "nextAttemptAt", Op: storage.Lte, Value: now, Or: true},
			{Field: "giftsRedeemedAt", Op: storage.Eq, Value: nil}},
		Limit: 50,
	})
	if err != nil {
		w.log.WarnContext(ctx, "credits: sweep failed", "err", err)
		return
	}
	for _, r := range recs {
		w.attempt(ctx, r.String("userId"))
	}
}
