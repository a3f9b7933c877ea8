package apikey_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/apikey"
	"github.com/managarten/mana-auth/internal/testpg"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// verifyOutcome is what a test compares of a VerifyResult.
type verifyOutcome struct {
	Valid     bool
	Status    int
	Code      string
	Remaining *int64
	Count     int64
}

func outcome(t *testing.T, res *apikey.VerifyResult, err error) verifyOutcome {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	o := verifyOutcome{Valid: res.Valid}
	if res.Error != nil {
		o.Status, o.Code = res.Error.Status, res.Error.Code
	}
	if res.Key != nil {
		o.Remaining, o.Count = res.Key.Remaining, res.Key.RequestCount
	}
	return o
}

// TestVerify checks Verify's verdicts: Better Auth's codes and statuses,
// the use counted, permissions as Better Auth's access control checks
// them, and the deletion of expired and used-up keys.
func TestVerify(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db})
			ctx := context.Background()
			uid := e.user("alice@example.com").userID
			plain := e.serverKey(apikey.CreateInput{UserID: uid})
			limited := e.serverKey(apikey.CreateInput{UserID: uid, Remaining: ptr(int64(2))})
			used := e.serverKey(apikey.CreateInput{UserID: uid, Remaining: ptr(int64(0))})
			perms := e.serverKey(apikey.CreateInput{UserID: uid, Permissions: apikey.Permissions{"files": {"read", "write"}, "users": {"read"}}})
			disabled := e.serverKey(apikey.CreateInput{UserID: uid})
			if _, err := e.p.UpdateKey(ctx, uid, disabled.ID, apikey.UpdateInput{Enabled: ptr(false)}); err != nil {
				t.Fatal(err)
			}
			expired := e.serverKey(apikey.CreateInput{UserID: uid, ExpiresIn: ptr(24 * time.Hour)})

			cases := []struct {
				name    string
				key     string
				perms   map[string][]string
				want    verifyOutcome
				deleted string
			}{
				{"valid", plain.Secret, nil, verifyOutcome{Valid: true, Count: 1}, ""},
				{"counted again", plain.Secret, nil, verifyOutcome{Valid: true, Count: 2}, ""},
				{"remaining 2", limited.Secret, nil, verifyOutcome{Valid: true, Remaining: ptr(int64(1)), Count: 1}, ""},
				{"remaining 1", limited.Secret, nil, verifyOutcome{Valid: true, Remaining: ptr(int64(0)), Count: 2}, ""},
				{"remaining 0", limited.Secret, nil, verifyOutcome{Status: 429, Code: "USAGE_EXCEEDED"}, limited.ID},
				{"used up at creation", used.Secret, nil, verifyOutcome{Status: 429, Code: "USAGE_EXCEEDED"}, used.ID},
				{"unknown", strings.Repeat("q", 64), nil, verifyOutcome{Status: 401, Code: "INVALID_API_KEY"}, ""},
				{"short", "abc", nil, verifyOutcome{Status: 401, Code: "INVALID_API_KEY"}, ""},
				{"empty", "", nil, verifyOutcome{Status: 401, Code: "INVALID_API_KEY"}, ""},
				{"NUL", "\x00\xff", nil, verifyOutcome{Status: 401, Code: "INVALID_API_KEY"}, ""},
				{"disabled", disabled.Secret, nil, verifyOutcome{Status: 401, Code: "KEY_DISABLED"}, ""},
				{"permissions granted", perms.Secret, map[string][]string{"files": {"read"}}, verifyOutcome{Valid: true, Count: 1}, ""},
				{"permissions all granted", perms.Secret, map[string][]string{"files": {"write", "read"}, "users": {"read"}},
					verifyOutcome{Valid: true, Count: 2}, ""},
				{"permission missing", perms.Secret, map[string][]string{"files": {"delete"}}, verifyOutcome{Status: 401, Code: "KEY_NOT_FOUND"}, ""},
				{"one resource missing", perms.Secret, map[string][]string{"files": {"read"}, "billing": {"read"}},
					verifyOutcome{Status: 401, Code: "KEY_NOT_FOUND"}, ""},
				{"empty action list", perms.Secret, map[string][]string{"files": {}}, verifyOutcome{Status: 401, Code: "KEY_NOT_FOUND"}, ""},
				{"empty request", perms.Secret, map[string][]string{}, verifyOutcome{Status: 401, Code: "KEY_NOT_FOUND"}, ""},
				{"key without permissions", plain.Secret, map[string][]string{"files": {"read"}}, verifyOutcome{Status: 401, Code: "KEY_NOT_FOUND"}, ""},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					res, err := e.p.Verify(ctx, tc.key, tc.perms)
					if d := cmp.Diff(tc.want, outcome(t, res, err)); d != "" {
						t.Fatalf("verify (-want +got):\n%s", d)
					}
					if tc.deleted != "" && e.row(tc.deleted) != nil {
						t.Fatal("the key was not deleted")
					}
				})
			}
			e.clock.Advance(24*time.Hour + time.Millisecond)
			res, err := e.p.Verify(ctx, expired.Secret, nil)
			if d := cmp.Diff(verifyOutcome{Status: 401, Code: "KEY_EXPIRED"}, outcome(t, res, err)); d != "" {
				t.Fatalf("expired (-want +got):\n%s", d)
			}
			if e.row(expired.ID) != nil {
				t.Fatal("the expired key was not deleted")
			}
		})
	}
}

// TestVerifyJSON checks the JSON of Verify's answers, Better Auth's
// {valid, error, key}.
func TestVerifyJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{RateLimitMax: 1}})
	ctx := context.Background()
	k := e.serverKey(apikey.CreateInput{UserID: e.user("alice@example.com").userID, Permissions: apikey.Permissions{"files": {"read"}}})
	res, err := e.p.Verify(ctx, k.Secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(res)
	var got map[string]any
	_ = json.Unmarshal(js, &got)
	key := got["key"].(map[string]any)
	if got["valid"] != true || got["error"] != nil || key["id"] != k.ID || key["requestCount"] != 1.0 ||
		cmp.Diff(map[string]any{"files": []any{"read"}}, key["permissions"]) != "" {
		t.Fatalf("valid answer: %s", js)
	}
	if _, ok := key["key"]; ok || strings.Contains(string(js), k.Secret) {
		t.Fatalf("verify's answer holds the key: %s", js)
	}
	e.clock.Advance(time.Minute)
	res, _ = e.p.Verify(ctx, k.Secret, nil)
	js, _ = json.Marshal(res)
	want := `{"valid":false,"error":{"message":"Rate limit exceeded.","code":"RATE_LIMITED","details":{"tryAgainIn":86340000}},"key":null}`
	if string(js) != want {
		t.Fatalf("rate-limited answer:\n got %s\nwant %s", js, want)
	}
	res, _ = e.p.Verify(ctx, "nope", nil)
	js, _ = json.Marshal(res)
	if want := `{"valid":false,"error":{"message":"Invalid API key.","code":"INVALID_API_KEY"},"key":null}`; string(js) != want {
		t.Fatalf("invalid answer:\n got %s\nwant %s", js, want)
	}
}

// TestRefill checks remaining's refill: used up, the key waits for its
// interval (and is not deleted, having a refill), then gets
// refillAmount uses, the one being made included.
func TestRefill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{RateLimitDisabled: true}})
	ctx := context.Background()
	k := e.serverKey(apikey.CreateInput{UserID: e.user("alice@example.com").userID, Remaining: ptr(int64(2)),
		RefillAmount: ptr(int64(5)), RefillInterval: ptr(time.Hour)})
	steps := []struct {
		advance time.Duration
		want    verifyOutcome
	}{
		{0, verifyOutcome{Valid: true, Remaining: ptr(int64(1))}},
		{0, verifyOutcome{Valid: true, Remaining: ptr(int64(0))}},
		{0, verifyOutcome{Status: 429, Code: "USAGE_EXCEEDED"}},
		{time.Hour, verifyOutcome{Status: 429, Code: "USAGE_EXCEEDED"}}, // not more than an hour yet
		{time.Millisecond, verifyOutcome{Valid: true, Remaining: ptr(int64(4))}},
		{30 * time.Minute, verifyOutcome{Valid: true, Remaining: ptr(int64(3))}},
		{31 * time.Minute, verifyOutcome{Valid: true, Remaining: ptr(int64(4))}}, // over an hour since the refill: refilled again
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		res, err := e.p.Verify(ctx, k.Secret, nil)
		if d := cmp.Diff(s.want, outcome(t, res, err)); d != "" {
			t.Fatalf("step %d (-want +got):\n%s", i, d)
		}
	}
	rec := e.row(k.ID)
	if rec == nil || !rec.Time("lastRefillAt").Equal(e.clock.Now()) {
		t.Fatalf("lastRefillAt: %v", rec)
	}
	if rec["lastRequest"] == nil || rec.Int("requestCount") != 0 {
		t.Fatalf("with the rate limit off, lastRequest is set and requestCount left: %v", rec)
	}
}

// TestRateLimitWindow checks evaluateRateLimit through Verify: the
// window starts at the first request, runs from the last accepted one,
// and a key without limits or with its limit off is never refused.
func TestRateLimitWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	uid := e.user("alice@example.com").userID
	k := e.serverKey(apikey.CreateInput{UserID: uid, RateLimitMax: ptr(int64(2)), RateLimitTimeWindow: ptr(time.Minute)})
	off := e.serverKey(apikey.CreateInput{UserID: uid, RateLimitEnabled: ptr(false), RateLimitMax: ptr(int64(1))})
	steps := []struct {
		advance time.Duration
		want    verifyOutcome
		retry   time.Duration
	}{
		{0, verifyOutcome{Valid: true, Count: 1}, 0},
		{10 * time.Second, verifyOutcome{Valid: true, Count: 2}, 0},
		{10 * time.Second, verifyOutcome{Status: 429, Code: "RATE_LIMITED"}, 50 * time.Second},
		{50 * time.Second, verifyOutcome{Status: 429, Code: "RATE_LIMITED"}, 0}, // exactly the window: not past it
		{time.Millisecond, verifyOutcome{Valid: true, Count: 1}, 0},
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		res, err := e.p.Verify(ctx, k.Secret, nil)
		if d := cmp.Diff(s.want, outcome(t, res, err)); d != "" {
			t.Fatalf("step %d (-want +got):\n%s", i, d)
		}
		if res.Error != nil && s.retry > 0 && res.Error.RetryAfter != s.retry {
			t.Fatalf("step %d: tryAgainIn %v, want %v", i, res.Error.RetryAfter, s.retry)
		}
	}
	for range 5 {
		if res, err := e.p.Verify(ctx, off.Secret, nil); err != nil || !res.Valid || res.Key.RequestCount != 0 {
			t.Fatalf("a key with its rate limit off: %+v %v", res, err)
		}
	}
}

// TestConcurrentVerify runs 20 concurrent verifications of a key with
// one use left (exactly one goes through; the others find it used up,
// or deleted by one that found it used up) and of a key allowed 5
// requests a window (exactly 5 go through), on every adapter.
func TestConcurrentVerify(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db})
			uid := e.user("alice@example.com").userID
			for _, tc := range []struct {
				name  string
				in    apikey.CreateInput
				valid int
				codes []string
			}{
				{"last use", apikey.CreateInput{UserID: uid, Remaining: ptr(int64(1))}, 1, []string{"USAGE_EXCEEDED", "INVALID_API_KEY"}},
				{"rate limit", apikey.CreateInput{UserID: uid, RateLimitMax: ptr(int64(5))}, 5, []string{"RATE_LIMITED"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					k := e.serverKey(tc.in)
					results := make([]*apikey.VerifyResult, 20)
					errs := make([]error, 20)
					var wg sync.WaitGroup
					for i := range results {
						wg.Go(func() { results[i], errs[i] = e.p.Verify(context.Background(), k.Secret, nil) })
					}
					wg.Wait()
					valid := 0
					for i, r := range results {
						if errs[i] != nil {
							t.Fatal(errs[i])
						}
						switch {
						case r.Valid:
							valid++
						case !slices.Contains(tc.codes, r.Error.Code):
							t.Fatalf("refused with %v, want one of %v", r.Error, tc.codes)
						}
					}
					if valid != tc.valid {
						t.Fatalf("%d of 20 accepted, want %d", valid, tc.valid)
					}
					if rec := e.row(k.ID); tc.in.RateLimitMax != nil && rec.Int("requestCount") != 5 {
						t.Fatalf("requestCount %d, want 5", rec.Int("requestCount"))
					} else if tc.in.Remaining != nil && rec.Int("remaining") != 0 {
						t.Fatalf("remaining %d, want 0", rec.Int("remaining"))
					}
				})
			}
		})
	}
}

// TestCreateKeyServer checks CreateKey: the server-only properties, the
// default permissions, and its refusals.
func TestCreateKeyServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: apikey.Options{DefaultPermissions: apikey.Permissions{"files": {"read"}}, DefaultExpiresIn: 48 * time.Hour,
		DisableStart: true, RequireName: true}})
	ctx := context.Background()
	uid := e.user("alice@example.com").userID
	k, err := e.p.CreateKey(ctx, apikey.CreateInput{UserID: uid, Name: ptr("svc"), Remaining: ptr(int64(100)),
		RefillAmount: ptr(int64(100)), RefillInterval: ptr(24 * time.Hour), RateLimitEnabled: ptr(false),
		RateLimitTimeWindow: ptr(time.Minute), RateLimitMax: ptr(int64(60)), Prefix: "svc_"})
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	want := &apikey.Key{ID: k.ID, ConfigID: "default", Name: ptr("svc"), ReferenceID: uid, Prefix: ptr("svc_"),
		RefillInterval: ptr(24 * time.Hour), RefillAmount: ptr(int64(100)), Enabled: true, RateLimitEnabled: false,
		RateLimitTimeWindow: ptr(time.Minute), RateLimitMax: ptr(int64(60)), Remaining: ptr(int64(100)),
		ExpiresAt: ptr(now.Add(48 * time.Hour)), CreatedAt: now, UpdatedAt: now, Permissions: apikey.Permissions{"files": {"read"}}}
	if d := cmp.Diff(want, k.Key); d != "" {
		t.Fatalf("key (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(k.Secret, "svc_") || len(k.Secret) != 68 {
		t.Fatalf("secret %q", k.Secret)
	}
	got, err := e.p.GetKey(ctx, uid, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("stored key (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name string
		in   apikey.CreateInput
		want error
	}{
		{"no user", apikey.CreateInput{Name: ptr("x")}, apikey.ErrUnauthorizedSession},
		{"unknown user", apikey.CreateInput{UserID: "nobody", Name: ptr("x")}, plugin.NewError(400, "USER_NOT_FOUND", "")},
		{"no name", apikey.CreateInput{UserID: uid}, apikey.ErrNameRequired},
		{"refill amount alone", apikey.CreateInput{UserID: uid, Name: ptr("x"), RefillAmount: ptr(int64(1))}, apikey.ErrRefillAmountAndIntervalRequired},
		{"refill interval alone", apikey.CreateInput{UserID: uid, Name: ptr("x"), RefillInterval: ptr(time.Hour)}, apikey.ErrRefillIntervalAndAmountRequired},
		{"negative remaining", apikey.CreateInput{UserID: uid, Name: ptr("x"), Remaining: ptr(int64(-1))}, apikey.ErrInvalidRemaining},
		{"bad prefix", apikey.CreateInput{UserID: uid, Name: ptr("x"), Prefix: "a b"}, plugin.ErrValidation},
		{"metadata disabled", apikey.CreateInput{UserID: uid, Name: ptr("x"), Metadata: json.RawMessage(`{"a":1}`)}, apikey.ErrMetadataDisabled},
		{"bad permissions", apikey.CreateInput{UserID: uid, Name: ptr("x"), Permissions: apikey.Permissions{"a\x00": {"b"}}}, plugin.ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.p.CreateKey(ctx, tc.in); !errorsIs(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestUpdateKeyServer checks UpdateKey's server-only changes.
func TestUpdateKeyServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	uid := e.user("alice@example.com").userID
	k := e.serverKey(apikey.CreateInput{UserID: uid, Permissions: apikey.Permissions{"a": {"b"}}})
	got, err := e.p.UpdateKey(ctx, uid, k.ID, apikey.UpdateInput{Remaining: ptr(int64(3)), RefillAmount: ptr(int64(3)),
		RefillInterval: ptr(time.Hour), RateLimitEnabled: ptr(false), RateLimitTimeWindow: ptr(time.Second),
		RateLimitMax: ptr(int64(1)), Permissions: ptr[apikey.Permissions](nil)})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Remaining != 3 || *got.RefillAmount != 3 || *got.RefillInterval != time.Hour || got.RateLimitEnabled ||
		*got.RateLimitTimeWindow != time.Second || *got.RateLimitMax != 1 || got.Permissions != nil {
		t.Fatalf("updated: %+v", got)
	}
	for _, tc := range []struct {
		name string
		in   apikey.UpdateInput
		want error
	}{
		{"nothing", apikey.UpdateInput{}, apikey.ErrNoValuesToUpdate},
		{"remaining 0", apikey.UpdateInput{Remaining: ptr(int64(0))}, apikey.ErrInvalidRemaining},
		{"refill amount alone", apikey.UpdateInput{RefillAmount: ptr(int64(1))}, apikey.ErrRefillAmountAndIntervalRequired},
		{"refill interval alone", apikey.UpdateInput{RefillInterval: ptr(time.Hour)}, apikey.ErrRefillIntervalAndAmountRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.p.UpdateKey(ctx, uid, k.ID, tc.in); !errorsIs(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := e.p.UpdateKey(ctx, "someone-else", k.ID, apikey.UpdateInput{Enabled: ptr(false)}); !errorsIs(err, apikey.ErrKeyNotFound) {
		t.Fatalf("another user's key: %v", err)
	}
}

// TestDeleteExpired checks DeleteExpired and the routes' sweep (at most
// every 10 seconds).
func TestDeleteExpired(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db})
			ctx := context.Background()
			alice := e.user("alice@example.com")
			short := e.serverKey(apikey.CreateInput{UserID: alice.userID, ExpiresIn: ptr(24 * time.Hour)})
			long := e.serverKey(apikey.CreateInput{UserID: alice.userID, ExpiresIn: ptr(72 * time.Hour)})
			never := e.serverKey(apikey.CreateInput{UserID: alice.userID})
			e.clock.Advance(48 * time.Hour)
			n, err := e.p.DeleteExpired(ctx)
			if err != nil || n != 1 {
				t.Fatalf("DeleteExpired: %d %v", n, err)
			}
			if e.row(short.ID) != nil || e.row(long.ID) == nil || e.row(never.ID) == nil {
				t.Fatal("DeleteExpired deleted the wrong keys")
			}
			e.clock.Advance(48 * time.Hour)
			if r := alice.do("GET", "/api-key/list", nil); r.status != 200 {
				t.Fatalf("list: %d %s", r.status, r.raw)
			}
			if e.row(long.ID) != nil {
				t.Fatal("a route did not sweep the expired key")
			}
		})
	}
}

// TestUserData checks the plugin's DataSource through the host: the
// export holds the user's keys without secret or hash, and deleting the
// user deletes them (another user's stay).
func TestUserData(t *testing.T) {
	t.Parallel()
	for _, db := range dbs {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{db: db})
			ctx := context.Background()
			alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
			ka := alice.create(map[string]any{"name": "a"})
			kb := bob.create(nil)
			out, err := e.a.ExportUser(ctx, alice.userID)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(out["api-key"])
			var keys []map[string]any
			_ = json.Unmarshal(js, &keys)
			if len(keys) != 1 || keys[0]["id"] != ka.str("id") || keys[0]["name"] != "a" {
				t.Fatalf("export: %s", js)
			}
			all, _ := json.Marshal(out)
			if strings.Contains(string(all), ka.str("key")) || strings.Contains(string(all), hashOf(ka.str("key"))) {
				t.Fatal("the export holds the key or its hash")
			}
			if err := e.a.DeleteUser(ctx, alice.userID); err != nil {
				t.Fatal(err)
			}
			if e.row(ka.str("id")) != nil || e.row(kb.str("id")) == nil {
				t.Fatal("deleting alice did not delete exactly her keys")
			}
		})
	}
}

// TestTakeoverDropsKeys checks Hooks.ResetCredentials: when the owner
// of an unverified account's address takes it over through the mailbox,
// the keys whoever signed it up made are deleted.
func TestTakeoverDropsKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	alice, bob := e.user("alice@example.com"), e.user("bob@example.com")
	ka, kb := alice.create(nil), bob.create(nil)
	u, err := e.a.Host().FindUserByID(ctx, alice.userID)
	if err != nil {
		t.Fatal(err)
	}
	if claimed, err := e.a.Host().MarkEmailVerified(ctx, u, false); err != nil || !claimed {
		t.Fatalf("MarkEmailVerified: %v %v", claimed, err)
	}
	if e.row(ka.str("id")) != nil || e.row(kb.str("id")) == nil {
		t.Fatal("the takeover did not drop exactly the account's keys")
	}
	if n, _ := e.db.Count(ctx, apikey.TableAPIKey, storage.W("referenceId", alice.userID)); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}

// TestForeignPrecisionDates checks a key whose counters' dates another
// program wrote with microseconds (PostgreSQL's now()): the conditional
// update still matches the row read back at millisecond precision, and
// the use is counted (not retried until it gives up).
func TestForeignPrecisionDates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{db: "postgres"})
	uid := e.user("alice@example.com").userID
	k := e.serverKey(apikey.CreateInput{UserID: uid, Remaining: ptr(int64(5)), RefillAmount: ptr(int64(5)), RefillInterval: ptr(time.Hour)})
	at := e.clock.Now().Add(-time.Second).Add(123 * time.Microsecond)
	if _, err := testpg.Conn(t).Exec(context.Background(), `UPDATE "`+e.pgSchema+`"."apikey" SET "lastRequest" = $1, "lastRefillAt" = $1, "requestCount" = 1 WHERE id = $2`, at, k.ID); err != nil {
		t.Fatal(err)
	}
	res, err := e.p.Verify(context.Background(), k.Secret, nil)
	if d := cmp.Diff(verifyOutcome{Valid: true, Remaining: ptr(int64(4)), Count: 2}, outcome(t, res, err)); d != "" {
		t.Fatalf("verify (-want +got):\n%s", d)
	}
}
