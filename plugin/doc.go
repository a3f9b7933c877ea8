// Package plugin is the plugin API of mana-auth: everything a plugin is
// given and may use, as Better Auth gives its plugins ctx.context. The
// app's API is package auth; a plugin needs only this package and storage.
//
// A plugin is a value with an ID that implements any of the optional
// interfaces Initializer, EndpointSource, SchemaSource, HookSource,
// RateLimitSource, ErrorSource and DataSource; the host (an auth.Auth)
// discovers them by type assertion, as net/http discovers http.Flusher.
// Init hands the plugin its Host: storage, the keyring, users, sessions,
// verification values, mail, cookies and URLs. Handlers and hooks get a
// *Context for the request being served.
//
//	type Plugin struct{ h plugin.Host }
//
//	var ErrBookmarkExists = plugin.NewError(http.StatusConflict, "BOOKMARK_EXISTS", "Bookmark exists")
//
//	func (p *Plugin) ID() string                  { return "bookmarks" }
//	func (p *Plugin) Init(h plugin.Host) error    { p.h = h; return nil }
//	func (p *Plugin) ErrorCodes() []*plugin.Error { return []*plugin.Error{ErrBookmarkExists} }
//	func (p *Plugin) Schema() storage.Schema      { … } // a "bookmark" table
//	func (p *Plugin) Endpoints() []plugin.Endpoint {
//		return []plugin.Endpoint{{
//			Method: "POST", Path: "/bookmarks/add", Auth: plugin.SessionRequired,
//			Body: []plugin.Param{plugin.Required("url", plugin.KindString)},
//			Handler: func(c *plugin.Context) (any, error) {
//				return p.Add(c.Context(), c.Session().User.ID, c.String("url"))
//			},
//		}}
//	}
//
//	// Add is the Go method behind the route (the one-path rule).
//	func (p *Plugin) Add(ctx context.Context, userID, url string) (storage.Record, error) {
//		rec := storage.Record{"id": plugin.NewID(), "userId": userID, "url": url, "createdAt": p.h.Now()}
//		if err := p.h.DB().Create(ctx, "bookmark", rec); err != nil {
//			return nil, plugin.StorageError(err)
//		}
//		return rec, nil
//	}
//
// Errors are *Error values: an HTTP status, a stable code and a message
// safe to show, with debug detail kept apart (Error.With). errors.Is
// matches them by code. A plugin declares its codes (ErrorSource), and
// auth.New refuses a code declared with two statuses.
//
// The built-in plugins (jwt, twofactor, magiclink, org, passkey, vault)
// use nothing but this API; examples/custom-plugin is a complete, tested
// third-party plugin, and docs/USER_GUIDE.md ("Writing your own plugin")
// describes every part.
package plugin
