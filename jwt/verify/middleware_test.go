package verify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	good := makeToken(t, vKey, vHead, vClaim)
	admin := makeToken(t, vKey, vHead, claimsWith("role", "admin,user"))
	expired := makeToken(t, vKey, vHead, claimsWith("exp", 1))
	downSrv := newJWKSServer(t, nil)
	downSrv.set(500, nil)
	down, _ := New(downSrv.URL)

	type result struct {
		Status int
		Body   map[string]string
		WWW    string
		Sub    string // seen by the handler
	}
	tests := []struct {
		name   string
		opts   MiddlewareOptions
		v      *Verifier
		header string // Authorization
		cookie *http.Cookie
		want   result
	}{
		{name: "bearer", header: "Bearer " + good, want: result{Status: 200, Sub: "user-1"}},
		{name: "scheme case-insensitive", header: "bEaReR  " + good, want: result{Status: 200, Sub: "user-1"}},
		{name: "no token", want: result{Status: 401, WWW: "Bearer",
			Body: map[string]string{"code": "MISSING_TOKEN", "message": "missing bearer token"}}},
		{name: "basic auth is no token", header: "Basic dXNlcjpwYXNz", want: result{Status: 401, WWW: "Bearer",
			Body: map[string]string{"code": "MISSING_TOKEN", "message": "missing bearer token"}}},
		{name: "expired", header: "Bearer " + expired, want: result{Status: 401,
			WWW:  `Bearer error="invalid_token", error_description="token expired"`,
			Body: map[string]string{"code": "TOKEN_EXPIRED", "message": "token expired"}}},
		{name: "garbage", header: "Bearer abc", want: result{Status: 401,
			WWW:  `Bearer error="invalid_token", error_description="token is not a compact JWS (want 3 parts)"`,
			Body: map[string]string{"code": "MALFORMED_TOKEN", "message": "token is not a compact JWS (want 3 parts)"}}},
		{name: "quotes stripped from description", header: "Bearer " + makeToken(t, vKey, map[string]any{"alg": `"x"\`, "kid": vKid}, vClaim),
			want: result{Status: 401,
				WWW:  `Bearer error="invalid_token", error_description="alg x is not allowed (want EdDSA)"`,
				Body: map[string]string{"code": "UNSUPPORTED_ALGORITHM", "message": `alg "\"x\"\\" is not allowed (want EdDSA)`}}},
		{name: "cookie", opts: MiddlewareOptions{Cookie: "tok"}, cookie: &http.Cookie{Name: "tok", Value: good}, want: result{Status: 200, Sub: "user-1"}},
		{name: "header wins over cookie", opts: MiddlewareOptions{Cookie: "tok"}, header: "Bearer " + good,
			cookie: &http.Cookie{Name: "tok", Value: "junk"}, want: result{Status: 200, Sub: "user-1"}},
		{name: "cookie not configured", cookie: &http.Cookie{Name: "tok", Value: good}, want: result{Status: 401, WWW: "Bearer",
			Body: map[string]string{"code": "MISSING_TOKEN", "message": "missing bearer token"}}},
		{name: "role required, missing", opts: MiddlewareOptions{RequireRole: []string{"admin"}}, header: "Bearer " + good,
			want: result{Status: 403, WWW: `Bearer error="insufficient_scope", error_description="insufficient role"`,
				Body: map[string]string{"code": "INSUFFICIENT_ROLE", "message": "insufficient role"}}},
		{name: "role required, present", opts: MiddlewareOptions{RequireRole: []string{"owner", "admin"}}, header: "Bearer " + admin,
			want: result{Status: 200, Sub: "user-1"}},
		{name: "optional without token", opts: MiddlewareOptions{Optional: true}, want: result{Status: 200}},
		{name: "optional with a bad token", opts: MiddlewareOptions{Optional: true}, header: "Bearer " + expired, want: result{Status: 401,
			WWW:  `Bearer error="invalid_token", error_description="token expired"`,
			Body: map[string]string{"code": "TOKEN_EXPIRED", "message": "token expired"}}},
		{name: "keys unavailable", v: down, header: "Bearer " + good, want: result{Status: 503,
			Body: map[string]string{"code": "JWKS_UNAVAILABLE", "message": "signing keys unavailable"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := tc.v
			if v == nil {
				v = staticVerifier(t)
			}
			var got result
			h := Middleware(v, tc.opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c := ClaimsFrom(r.Context()); c != nil {
					got.Sub = c.Subject
				}
				w.WriteHeader(200)
			}))
			req := httptest.NewRequest("GET", "/api/x", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got.Status = rec.Code
			got.WWW = rec.Header().Get("WWW-Authenticate")
			if rec.Code != 200 {
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &got.Body); err != nil {
					t.Errorf("body %q: %v", rec.Body.String(), err)
				}
			}
			if rec.Code == 503 && rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestClaimsHelpers(t *testing.T) {
	t.Parallel()
	c := &Claims{Role: "admin, editor"}
	for role, want := range map[string]bool{"admin": true, "editor": true, "user": false, "": false, "admin, editor": false} {
		if got := c.HasRole(role); got != want {
			t.Errorf("HasRole(%q) = %v", role, got)
		}
	}
	var nilClaims *Claims
	if nilClaims.HasRole("user") {
		t.Error("nil claims have a role")
	}
	req := httptest.NewRequest("GET", "/", nil)
	if ClaimsFrom(req.Context()) != nil {
		t.Error("claims in an empty context")
	}
	if got := ClaimsFrom(WithClaims(req.Context(), c)); got != c {
		t.Error("WithClaims/ClaimsFrom round trip failed")
	}
}
