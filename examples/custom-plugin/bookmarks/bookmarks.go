// Package bookmarks is a third-party plugin for the mana-auth SDK, written
// against its public API only. It shows every extension point a plugin
// usually needs:
//
//   - plugin.SchemaSource: its own table, "bookmark", created by a.Migrate;
//   - plugin.EndpointSource: POST /bookmarks/add and GET /bookmarks/list under
//     the auth base path, each a thin layer over a Go method (Add, List);
//   - plugin.HookSource: a before-hook on POST /sign-up/email that requires
//     "acceptTerms": true in the body, and an after-hook on GET /get-session
//     that adds the user's "bookmarkCount" to the answer;
//   - plugin.DataSource: the user's bookmarks in a.ExportUser, and their
//     erasure in a.DeleteUser;
//   - plugin.RateLimitSource: a rule for its own routes.
//
// Usage:
//
//	bm := bookmarks.New(bookmarks.Options{RequireTerms: true})
//	a, err := auth.New(cfg, db, bm)
//	if err != nil { ... }
//	if err := a.Migrate(ctx); err != nil { ... } // creates the bookmark table
//	mux.Handle("/api/auth/", a.Handler())
package bookmarks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/ratelimit"
	"github.com/managarten/mana-auth/storage"
)

// Table is the logical name of the plugin's table.
const Table = "bookmark"

// The plugin's errors: *plugin.Error values, so the handler answers them in
// Better Auth's JSON shape with their status and code.
var (
	ErrInvalidURL       = plugin.NewError(http.StatusBadRequest, "INVALID_BOOKMARK_URL", "Bookmark URL must be an absolute http(s) URL of at most 2048 characters")
	ErrInvalidTitle     = plugin.NewError(http.StatusBadRequest, "INVALID_BOOKMARK_TITLE", "Bookmark title must be at most 200 characters")
	ErrTermsNotAccepted = plugin.NewError(http.StatusBadRequest, "TERMS_NOT_ACCEPTED", "You must accept the terms to sign up")
)

// Options configures the plugin.
type Options struct {
	// RequireTerms makes POST /sign-up/email require "acceptTerms": true in
	// its body (a before-hook). Sign-ups from Go (a.SignUpEmail) are not
	// HTTP requests and are not affected.
	RequireTerms bool
}

// Bookmark is one saved link.
type Bookmark struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"createdAt"`
}

// MarshalJSON writes CreatedAt as every date of the API is written
// (plugin.FormatTime: milliseconds, always three digits), not as
// encoding/json writes a time.Time (trailing zeros dropped).
func (b Bookmark) MarshalJSON() ([]byte, error) {
	type plain Bookmark
	return json.Marshal(struct {
		plain
		CreatedAt string `json:"createdAt"`
	}{plain(b), plugin.FormatTime(b.CreatedAt)})
}

// Plugin is the bookmarks plugin. Build it with New.
type Plugin struct {
	opts Options
	a    plugin.Host
}

// The interfaces the plugin implements; a compile-time check.
var (
	_ plugin.Initializer     = (*Plugin)(nil)
	_ plugin.SchemaSource    = (*Plugin)(nil)
	_ plugin.EndpointSource  = (*Plugin)(nil)
	_ plugin.HookSource      = (*Plugin)(nil)
	_ plugin.DataSource      = (*Plugin)(nil)
	_ plugin.RateLimitSource = (*Plugin)(nil)
	_ plugin.ErrorSource     = (*Plugin)(nil)
)

// New returns the plugin.
func New(o Options) *Plugin { return &Plugin{opts: o} }

// ID implements plugin.Plugin. It is also the key of the plugin's data in
// a.ExportUser.
func (p *Plugin) ID() string { return "bookmarks" }

// Init implements plugin.Initializer: keep the host for the database and
// the clock.
func (p *Plugin) Init(a plugin.Host) error { p.a = a; return nil }

// ErrorCodes implements plugin.ErrorSource: the plugin's own error codes.
func (p *Plugin) ErrorCodes() []*plugin.Error {
	return []*plugin.Error{ErrInvalidURL, ErrInvalidTitle, ErrTermsNotAccepted}
}

// Schema implements plugin.SchemaSource. The primary key "id" is implicit.
// The foreign key restricts deletes: a user's bookmarks are erased by
// DeleteUser (the DataSource), and a user whose bookmarks were somehow
// left behind cannot be deleted, rather than losing them silently.
func (p *Plugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{
		Name: Table,
		Fields: []storage.Field{
			{Name: "userId", Type: storage.String, Required: true, Index: true,
				References: &storage.Reference{Table: plugin.TableUser, Field: "id", OnDelete: storage.Restrict}},
			{Name: "url", Type: storage.String, Required: true},
			{Name: "title", Type: storage.String, Required: true},
			{Name: "createdAt", Type: storage.Date, Required: true},
		},
	}}}
}

// Endpoints implements plugin.EndpointSource. Declared body parameters are
// checked (400 VALIDATION_ERROR) before the session and the handler.
func (p *Plugin) Endpoints() []plugin.Endpoint {
	return []plugin.Endpoint{
		{
			Method: "POST", Path: "/bookmarks/add", Auth: plugin.SessionRequired,
			Body: []plugin.Param{{Name: "url", Kind: plugin.KindString}, {Name: "title", Kind: plugin.KindString, Optional: true}},
			Handler: func(c *plugin.Context) (any, error) {
				return p.Add(c.Context(), c.Session().User.ID, c.String("url"), c.String("title"))
			},
		},
		{
			Method: "GET", Path: "/bookmarks/list", Auth: plugin.SessionRequired,
			Handler: func(c *plugin.Context) (any, error) {
				return p.List(c.Context(), c.Session().User.ID)
			},
		},
	}
}

// RateLimits implements plugin.RateLimitSource: 20 additions per minute per
// client IP. Config.RateLimit.Rules may override it.
func (p *Plugin) RateLimits() map[string]ratelimit.Rule {
	return map[string]ratelimit.Rule{"/bookmarks/add": {Window: time.Minute, Max: 20}}
}

// Hooks implements plugin.HookSource.
func (p *Plugin) Hooks() plugin.Hooks {
	var h plugin.Hooks
	if p.opts.RequireTerms {
		// Before-hooks run after the body is parsed and before the
		// endpoint's own validation; an error answers the request.
		h.Before = append(h.Before, plugin.Hook{
			Match: plugin.PathIs("/sign-up/email"),
			Handler: func(c *plugin.Context) error {
				if !c.Bool("acceptTerms", false) {
					return ErrTermsNotAccepted
				}
				return nil
			},
		})
	}
	// After-hooks run when the endpoint succeeded; they may replace the
	// result. get-session answers *plugin.SessionData (nil without a session).
	h.After = append(h.After, plugin.Hook{
		Match: plugin.PathIs("/get-session"),
		Handler: func(c *plugin.Context) error {
			sd, _ := c.Result().(*plugin.SessionData)
			if sd == nil {
				return nil
			}
			n, err := p.a.DB().Count(c.Context(), Table, storage.W("userId", sd.User.ID))
			if err != nil {
				return plugin.StorageError(err)
			}
			c.SetResult(struct {
				*plugin.SessionData
				BookmarkCount int64 `json:"bookmarkCount"`
			}{sd, n})
			return nil
		},
	})
	return h
}

// Add saves a bookmark for userID. It is the operation behind POST
// /bookmarks/add; an empty title becomes the URL.
func (p *Plugin) Add(ctx context.Context, userID, rawURL, title string) (*Bookmark, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(rawURL) > 2048 {
		return nil, ErrInvalidURL
	}
	if utf8.RuneCountInString(title) > 200 {
		return nil, ErrInvalidTitle
	}
	if title == "" {
		title = rawURL
	}
	b := &Bookmark{ID: plugin.NewID(), URL: rawURL, Title: title, CreatedAt: p.a.Now()}
	err = p.a.DB().Create(ctx, Table, storage.Record{
		"id": b.ID, "userId": userID, "url": b.URL, "title": b.Title, "createdAt": b.CreatedAt,
	})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	return b, nil
}

// List returns userID's bookmarks, oldest first (ties in id order). It is the operation
// behind GET /bookmarks/list.
func (p *Plugin) List(ctx context.Context, userID string) ([]Bookmark, error) {
	recs, err := p.a.DB().FindMany(ctx, Table, storage.Query{
		Where: []storage.Where{storage.W("userId", userID)},
		Sort:  []storage.Sort{{Field: "createdAt"}, {Field: "id"}},
	})
	if err != nil {
		return nil, plugin.StorageError(err)
	}
	out := make([]Bookmark, 0, len(recs))
	for _, r := range recs {
		out = append(out, Bookmark{ID: r.String("id"), URL: r.String("url"), Title: r.String("title"), CreatedAt: r.Time("createdAt")})
	}
	return out, nil
}

// ExportUser implements plugin.DataSource: a.ExportUser puts the result
// under the plugin's ID.
func (p *Plugin) ExportUser(ctx context.Context, userID string) (any, error) {
	return p.List(ctx, userID)
}

// DeleteUser implements plugin.DataSource: a.DeleteUser calls it before it
// deletes the user row.
func (p *Plugin) DeleteUser(ctx context.Context, userID string) error {
	if _, err := p.a.DB().Delete(ctx, Table, storage.W("userId", userID)); err != nil {
		return plugin.StorageError(err)
	}
	return nil
}
