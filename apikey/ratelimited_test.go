package apikey_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/apikey"
)

// TestRateLimitedAnswer: a key past its rate limit is answered the same
// on every route that takes it — the core's, the plugin's, and an app's
// handler behind auth.(*Auth).RequireSession — through the host's error answer:
// 429 {"message","code":"RATE_LIMITED","details":{"tryAgainIn":ms}} with
// Retry-After, as Better Auth answers it.
func TestRateLimitedAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{EnableSessionForAPIKeys: true, RateLimitWindow: time.Minute, RateLimitMax: 1}})
	key := e.user("alice@example.com").create(nil).str("key")
	if r := e.withKey(key).do("GET", "/get-session", nil); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.raw)
	}
	e.clock.Advance(1500 * time.Millisecond)
	type answer struct {
		Status     int
		Body       string
		RetryAfter string
	}
	want := answer{http.StatusTooManyRequests, `{"message":"Rate limit exceeded.","code":"RATE_LIMITED","details":{"tryAgainIn":58500}}`, "59"}
	for _, path := range []string{"/get-session", "/list-sessions", "/api-key/list"} {
		r := e.withKey(key).do("GET", path, nil)
		if d := cmp.Diff(want, answer{r.status, r.raw, r.header.Get("Retry-After")}); d != "" {
			t.Errorf("%s (-want +got):\n%s", path, d)
		}
	}
	app := httptest.NewServer(e.a.RequireSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("app"))
	})))
	defer app.Close()
	req, err := http.NewRequest("GET", app.URL+"/app", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if d := cmp.Diff(want, answer{resp.StatusCode, string(body), resp.Header.Get("Retry-After")}); d != "" {
		t.Errorf("RequireSession (-want +got):\n%s", d)
	}
}
