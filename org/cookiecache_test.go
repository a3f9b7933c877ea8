package org_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/storage/memory"
)

// TestActiveOrganizationInCookieCache: with the session cookie cache on,
// create and set-active re-issue the session cookies, so that get-session
// answered from the cache shows the active organization at once.
func TestActiveOrganizationInCookieCache(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{
		BaseURL: baseURL, Secret: testSecret, Hasher: testkit.FastHasher{},
		RateLimit: auth.RateLimitConfig{Disabled: true}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Session: auth.SessionConfig{CookieCache: auth.CookieCacheConfig{Enabled: true}},
	}, memory.New(), org.New(org.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	u := &auth.User{Name: "Ann", Email: "ann@example.com", EmailVerified: true}
	if err := a.Host().CreateUser(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	res, err := a.Host().CreateSession(context.Background(), u, true)
	if err != nil {
		t.Fatal(err)
	}
	cookies := map[string]string{}
	for _, c := range res.Cookies {
		cookies[c.Name] = c.Value
	}
	send := func(method, path, body string) map[string]any {
		t.Helper()
		r := httptest.NewRequest(method, baseURL+"/api/auth"+path, strings.NewReader(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		var parts []string
		for k, v := range cookies {
			parts = append(parts, k+"="+v)
		}
		r.Header.Set("Cookie", strings.Join(parts, "; "))
		r.Header.Set("Origin", baseURL)
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body)
		}
		for _, c := range w.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(cookies, c.Name)
			} else {
				cookies[c.Name] = c.Value
			}
		}
		var v map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &v)
		return v
	}
	active := func() any {
		t.Helper()
		s := send("GET", "/get-session", "")
		return s["session"].(map[string]any)["activeOrganizationId"]
	}
	if got := active(); got != nil {
		t.Fatalf("before: active organization %v", got)
	}
	before := cookies["better-auth.session_data"]
	o := send("POST", "/organization/create", `{"name":"Acme","slug":"acme"}`)
	if cookies["better-auth.session_data"] == before {
		t.Errorf("create did not re-issue the cache")
	}
	if got := active(); got != o["id"] {
		t.Errorf("after create: active organization %v, want %v", got, o["id"])
	}
	send("POST", "/organization/set-active", `{"organizationId":null}`)
	if got := active(); got != nil {
		t.Errorf("after set-active null: active organization %v", got)
	}
	send("POST", "/organization/set-active", `{"organizationSlug":"acme"}`)
	if got := active(); got != o["id"] {
		t.Errorf("after set-active: active organization %v, want %v", got, o["id"])
	}
}
