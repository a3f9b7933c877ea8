package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/examples/custom-plugin/bookmarks"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/plugintest"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
	"github.com/managarten/mana-auth/storage/sqlite"
)

// The plugin's whole flow, on the memory adapter and on SQLite (where
// a.Migrate must create the plugin's table).
func TestCustomPlugin(t *testing.T) {
	t.Run("memory", func(t *testing.T) { t.Parallel(); testFlow(t, memory.New()) })
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db, err := sqlite.Open(t.Context(), sqlite.Options{Path: sqlite.MemoryPath})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		testFlow(t, db)
	})
}

type client struct {
	t       *testing.T
	base    string
	cookies []*http.Cookie
}

// do sends a JSON request (with the Origin header a browser would send)
// and decodes the JSON answer.
func (c *client) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Origin", c.base)
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if cks := resp.Cookies(); len(cks) > 0 {
		c.cookies = cks
	}
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return resp.StatusCode, out
}

func testFlow(t *testing.T, db storage.Adapter) {
	ctx := t.Context()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	app, err := newApp(ctx, auth.Config{
		BaseURL:   base,
		Secret:    "custom-plugin-example-test-secret-0123456789",
		RateLimit: auth.RateLimitConfig{Disabled: true}, // several sign-ups from one IP
		// A cheap hash keeps the test fast under -race; this test is about
		// the plugin, not passwords. (Production keeps the default scrypt.)
		Hasher: auth.Argon2idHasher{Memory: 64, Time: 1},
	}, db)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = app.handler
	srv.Start()
	defer srv.Close()

	// Before-hook: sign-up requires acceptTerms.
	ada := &client{t: t, base: base}
	status, body := ada.do("POST", "/api/auth/sign-up/email", `{"name":"Ada","email":"ada@example.com","password":"correct horse"}`)
	if status != 400 || body["code"] != "TERMS_NOT_ACCEPTED" {
		t.Fatalf("sign-up without terms: %d %v", status, body)
	}
	status, body = ada.do("POST", "/api/auth/sign-up/email", `{"name":"Ada","email":"ada@example.com","password":"correct horse","acceptTerms":true}`)
	if status != 200 {
		t.Fatalf("sign-up: %d %v", status, body)
	}
	adaID := body["user"].(map[string]any)["id"].(string)

	// Endpoints: add (validated, session required) and list.
	if status, body = (&client{t: t, base: base}).do("POST", "/api/auth/bookmarks/add", `{"url":"https://go.dev"}`); status != 401 {
		t.Fatalf("add without a session: %d %v", status, body)
	}
	if status, body = ada.do("POST", "/api/auth/bookmarks/add", `{"title":"no url"}`); status != 400 || body["code"] != "VALIDATION_ERROR" {
		t.Fatalf("add without url: %d %v", status, body)
	}
	if status, body = ada.do("POST", "/api/auth/bookmarks/add", `{"url":"javascript:alert(1)"}`); status != 400 || body["code"] != "INVALID_BOOKMARK_URL" {
		t.Fatalf("add with a bad url: %d %v", status, body)
	}
	if status, body = ada.do("POST", "/api/auth/bookmarks/add", `{"url":"https://go.dev","title":"Go"}`); status != 200 || body["title"] != "Go" {
		t.Fatalf("add: %d %v", status, body)
	}
	// The Go method is the same operation.
	if _, err := app.bookmarks.Add(ctx, adaID, "https://pkg.go.dev", ""); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+"/api/auth/bookmarks/list", nil)
	for _, ck := range ada.cookies {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var list []bookmarks.Bookmark
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	titles := map[string]string{}
	for _, b := range list {
		titles[b.URL] = b.Title
	}
	if len(list) != 2 || titles["https://go.dev"] != "Go" || titles["https://pkg.go.dev"] != "https://pkg.go.dev" {
		t.Fatalf("list: %+v", list)
	}

	// After-hook: get-session carries the count, beside the usual fields.
	status, body = ada.do("GET", "/api/auth/get-session", "")
	if status != 200 || body["bookmarkCount"] != float64(2) || body["user"].(map[string]any)["email"] != "ada@example.com" || body["session"] == nil {
		t.Fatalf("get-session: %d %v", status, body)
	}

	// A second user sees none of Ada's bookmarks.
	bo := &client{t: t, base: base}
	if status, body = bo.do("POST", "/api/auth/sign-up/email", `{"name":"Bo","email":"bo@example.com","password":"correct horse","acceptTerms":true}`); status != 200 {
		t.Fatalf("sign-up bo: %d %v", status, body)
	}
	boID := body["user"].(map[string]any)["id"].(string)
	if status, body = bo.do("GET", "/api/auth/get-session", ""); body["bookmarkCount"] != float64(0) {
		t.Fatalf("bo's get-session: %d %v", status, body)
	}
	if status, body = bo.do("POST", "/api/auth/bookmarks/add", `{"url":"https://example.com/bo"}`); status != 200 {
		t.Fatalf("bo's add: %d %v", status, body)
	}

	// Export: a.ExportUser has the plugin's data under its ID, and so
	// does the app's export route.
	data, err := app.auth.ExportUser(ctx, adaID)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := data["bookmarks"].([]bookmarks.Bookmark); !ok || len(got) != 2 {
		t.Fatalf("ExportUser[bookmarks] = %#v", data["bookmarks"])
	}
	status, body = ada.do("GET", "/api/export", "")
	if exp, _ := body["bookmarks"].([]any); status != 200 || len(exp) != 2 {
		t.Fatalf("GET /api/export: %d %v", status, body)
	}
	// One date format everywhere (Better Auth's: milliseconds, always three
	// digits), the core's dates and the plugin's alike.
	var dates []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && strings.HasSuffix(k, "At") {
					dates = append(dates, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(body)
	if len(dates) < 4 {
		t.Fatalf("only %d dates in the export: %v", len(dates), body)
	}
	for _, d := range dates {
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(d) {
			t.Errorf("date %q in the export is not in plugin.TimeFormat", d)
		}
	}

	// Erasure from Go: a.DeleteUser calls the plugin's DeleteUser first
	// (the foreign key is RESTRICT, so the user row could not go otherwise).
	if err := app.auth.DeleteUser(ctx, adaID); err != nil {
		t.Fatal(err)
	}
	count := func(userID string) int64 {
		n, err := app.auth.Host().DB().Count(ctx, bookmarks.Table, storage.W("userId", userID))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(adaID); n != 0 {
		t.Fatalf("%d bookmarks left after DeleteUser", n)
	}
	if _, err := app.auth.Host().FindUserByID(ctx, adaID); err == nil {
		t.Fatal("user still there after DeleteUser")
	}
	if status, _ = ada.do("GET", "/api/auth/bookmarks/list", ""); status != 401 {
		t.Fatalf("deleted user's session still works: %d", status)
	}

	// Erasure over HTTP (POST /delete-user) runs the same code.
	if status, body = bo.do("POST", "/api/auth/delete-user", `{"password":"correct horse"}`); status != 200 {
		t.Fatalf("delete-user: %d %v", status, body)
	}
	if n := count(boID); n != 0 {
		t.Fatalf("%d bookmarks left after delete-user", n)
	}

	// Without the plugin's erasure the database refuses to drop the user.
	carol, err := app.auth.SignUpEmail(ctx, auth.SignUpInput{Name: "Carol", Email: "carol@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.bookmarks.Add(ctx, carol.User.ID, "https://example.com/c", ""); err != nil {
		t.Fatal(err)
	}
	_, err = app.auth.Host().DB().Delete(ctx, plugin.TableUser, storage.W("id", carol.User.ID))
	if !errors.Is(err, storage.ErrConstraint) {
		t.Fatalf("deleting a user row with bookmarks left: %v", err)
	}
}

// The plugin declares every error it answers with.
func TestBookmarksErrorCodes(t *testing.T) {
	t.Parallel()
	plugintest.CheckErrorCodes(t, bookmarks.New(bookmarks.Options{}), "bookmarks", []plugintest.ErrorCase{
		{Name: "ErrInvalidURL", Err: bookmarks.ErrInvalidURL, Decl: bookmarks.ErrInvalidURL},
		{Name: "ErrInvalidTitle", Err: bookmarks.ErrInvalidTitle, Decl: bookmarks.ErrInvalidTitle},
		{Name: "ErrTermsNotAccepted", Err: bookmarks.ErrTermsNotAccepted, Decl: bookmarks.ErrTermsNotAccepted},
	})
}
