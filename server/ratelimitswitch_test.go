package server

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// RATE_LIMIT_ENABLED=false (Config.RateLimitDisabled) turns the rate
// limiter off for the end-to-end rig of an app: 20 quick wrong sign-ins
// from one IP are never refused as too many requests. The login lockout is
// not a rate limit: after five wrong passwords the email is locked either
// way. With the limiter on (the default) the same burst is cut off by
// the route's rule (/api/auth/sign-in/*: 3 per 10 s, before the lockout's
// threshold; /api/v1/auth/login: 10 per 10 s, after it).
func TestRateLimitSwitch(t *testing.T) {
	t.Parallel()
	// seq is n answers of one kind.
	seq := func(parts ...any) []string {
		var out []string
		for i := 0; i+1 < len(parts); i += 2 {
			for range parts[i+1].(int) {
				out = append(out, parts[i].(string))
			}
		}
		return out
	}
	const wrong, locked, limited = "wrong password", "locked", "rate limited"
	for _, tc := range []struct {
		route    string
		disabled bool
		want     []string
	}{
		{routeSignIn, false, seq(wrong, 3, limited, 17)},
		{routeSignIn, true, seq(wrong, 5, locked, 15)},
		{routeLogin, false, seq(wrong, 5, locked, 5, limited, 10)},
		{routeLogin, true, seq(wrong, 5, locked, 15)},
	} {
		name := strings.TrimPrefix(tc.route, "/api/") + map[bool]string{false: ", limiter on", true: ", RATE_LIMIT_ENABLED=false"}[tc.disabled]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := newE2E(t, func(c *Config) { c.RateLimitDisabled = tc.disabled })
			u := env.seed(t, "burst@example.com")
			var got []string
			for range 20 {
				r := env.do(t, req{method: "POST", path: tc.route, body: `{"email":"` + u.email + `","password":"not-the-password"}`,
					hdr: []string{"X-Forwarded-For", "198.51.100.20"}})
				switch {
				case r.status == 401:
					got = append(got, wrong)
				case r.status == 429 && errCode(r) == "ACCOUNT_LOCKED":
					got = append(got, locked)
				case r.status == 429:
					got = append(got, limited)
				default:
					t.Fatalf("attempt %d: %d %s", len(got)+1, r.status, short(r.raw))
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("answers to 20 wrong sign-ins from one IP (-want +got):\n%s", d)
			}
		})
	}
}
