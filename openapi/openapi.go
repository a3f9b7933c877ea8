package openapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/managarten/mana-auth/plugin"
)

// pluginID is the plugin's ID, Better Auth's.
const pluginID = "open-api"

// schemaPath is the route of the document, Better Auth's.
const schemaPath = "/open-api/generate-schema"

// DefaultScriptURL is where the reference page loads Scalar's API
// reference from unless Options.ScriptURL says otherwise: the URL Better
// Auth's page uses (the newest release, unpinned).
const DefaultScriptURL = "https://cdn.jsdelivr.net/npm/@scalar/api-reference"

// Themes are the themes of Scalar's API reference that Options.Theme
// accepts, Better Auth's list.
var Themes = []string{"alternate", "default", "moon", "purple", "solarized", "bluePlanet", "saturn",
	"kepler", "mars", "deepSpace", "laserwave", "none"}

// Options configures the plugin. The zero value serves the document and
// the reference page at Better Auth's paths.
type Options struct {
	// Path is the reference page's route, relative to BasePath. Default
	// "/reference".
	Path string
	// DisableDefaultReference leaves the reference page out: only the
	// document is served (GET /open-api/generate-schema), and Path answers
	// 404 as any unknown path.
	DisableDefaultReference bool
	// Theme is the page's Scalar theme, one of Themes. Default "default".
	Theme string
	// Nonce is set on the page's scripts, for a Content-Security-Policy
	// that admits scripts by nonce (base64 characters only).
	Nonce string
	// ScriptURL is where the page loads Scalar's script from: an http(s)
	// URL or a path on this server. Default DefaultScriptURL. Pin a
	// version (…/@scalar/api-reference@1.25.0) or serve a copy, with
	// ScriptIntegrity, so that a new release of the script cannot change
	// what runs on the auth server's origin.
	ScriptURL string
	// ScriptIntegrity is the Subresource Integrity of ScriptURL
	// ("sha384-…"), which the browser then checks. Default none.
	ScriptIntegrity string
	// Info is the document's info object; its empty fields take their
	// defaults (see Info).
	Info Info
}

// Plugin serves the OpenAPI document of the host's routes and an API
// reference page.
type Plugin struct {
	opts Options
	doc  []byte // the document, marshalled once by Init
	page []byte // the reference page
}

var (
	_ plugin.Plugin         = (*Plugin)(nil)
	_ plugin.Initializer    = (*Plugin)(nil)
	_ plugin.EndpointSource = (*Plugin)(nil)
	_ plugin.ErrorSource    = (*Plugin)(nil)
)

var (
	routePath = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)
	nonce     = regexp.MustCompile(`^[A-Za-z0-9+/_=-]+$`)
	integrity = regexp.MustCompile(`^sha(256|384|512)-[A-Za-z0-9+/]+={0,2}( sha(256|384|512)-[A-Za-z0-9+/]+={0,2})*$`)
)

// New returns the plugin, or an error naming the option that is wrong.
func New(opts Options) (*Plugin, error) {
	opts.Path = cmp.Or(opts.Path, "/reference")
	opts.Theme = cmp.Or(opts.Theme, "default")
	opts.ScriptURL = cmp.Or(opts.ScriptURL, DefaultScriptURL)
	if !routePath.MatchString(opts.Path) || path.Clean(opts.Path) != opts.Path {
		return nil, fmt.Errorf("openapi: Options.Path %q: want a path such as /reference (letters, digits, - . _ ~ in /-separated segments)", opts.Path)
	}
	if opts.Path == schemaPath && !opts.DisableDefaultReference {
		return nil, fmt.Errorf("openapi: Options.Path %q is the document's route", opts.Path)
	}
	if !slices.Contains(Themes, opts.Theme) {
		return nil, fmt.Errorf("openapi: Options.Theme %q: want one of %s", opts.Theme, strings.Join(Themes, ", "))
	}
	if opts.Nonce != "" && !nonce.MatchString(opts.Nonce) {
		return nil, errors.New("openapi: Options.Nonce: want base64 characters only")
	}
	u, err := url.Parse(opts.ScriptURL)
	switch {
	case err != nil, strings.ContainsAny(opts.ScriptURL, " \t\r\n\"'<>`\\"):
		return nil, fmt.Errorf("openapi: Options.ScriptURL %q: not a URL", opts.ScriptURL)
	case u.Scheme == "" && (u.Host != "" || !strings.HasPrefix(u.Path, "/")):
		return nil, fmt.Errorf("openapi: Options.ScriptURL %q: want an http(s) URL or a path starting with /", opts.ScriptURL)
	case u.Scheme != "" && (u.Scheme != "https" && u.Scheme != "http" || u.Host == ""):
		return nil, fmt.Errorf("openapi: Options.ScriptURL %q: want an http(s) URL or a path starting with /", opts.ScriptURL)
	}
	if opts.ScriptIntegrity != "" && !integrity.MatchString(opts.ScriptIntegrity) {
		return nil, fmt.Errorf("openapi: Options.ScriptIntegrity %q: want sha256-, sha384- or sha512- followed by base64", opts.ScriptIntegrity)
	}
	return &Plugin{opts: opts}, nil
}

// ID implements plugin.Plugin: "open-api", Better Auth's.
func (p *Plugin) ID() string { return pluginID }

// ErrorCodes implements plugin.ErrorSource: the plugin declares no error.
func (p *Plugin) ErrorCodes() []*plugin.Error { return nil }

// Init implements plugin.Initializer: every route is mounted by then, so
// it builds the document (Generate) and the page once; a route OpenAPI
// cannot describe stops auth.New.
func (p *Plugin) Init(h plugin.Host) error {
	doc, err := Generate(h, p.opts.Info)
	if err != nil {
		return err
	}
	if p.doc, err = json.Marshal(doc); err != nil {
		return fmt.Errorf("openapi: %w", err)
	}
	if !p.opts.DisableDefaultReference {
		if p.page, err = p.referencePage(doc.Info); err != nil {
			return err
		}
	}
	return nil
}

// Endpoints implements plugin.EndpointSource: GET
// /open-api/generate-schema, the document, and GET Options.Path, the
// reference page (unless DisableDefaultReference).
func (p *Plugin) Endpoints() []plugin.Endpoint {
	eps := []plugin.Endpoint{{Method: "GET", Path: schemaPath, Handler: func(c *plugin.Context) (any, error) {
		return plugin.RawJSON(p.doc), nil
	}}}
	if !p.opts.DisableDefaultReference {
		eps = append(eps, plugin.Endpoint{Method: "GET", Path: p.opts.Path, Handler: func(c *plugin.Context) (any, error) {
			c.Header().Set("Content-Type", "text/html; charset=utf-8")
			return plugin.RawJSON(p.page), nil
		}})
	}
	return eps
}

// referencePage is Better Auth's page: the document in a JSON script
// element, Scalar's configuration, and Scalar's script, which renders
// them. encoding/json escapes <, > and & in strings, so no text of the
// document can close the script element.
func (p *Plugin) referencePage(info Info) ([]byte, error) {
	doc, err := json.Marshal(json.RawMessage(p.doc))
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	cfg, err := json.Marshal(map[string]any{
		"theme":    p.opts.Theme,
		"metaData": map[string]string{"title": info.Title + " API", "description": info.Description},
	})
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	nonceAttr := ""
	if p.opts.Nonce != "" {
		nonceAttr = ` nonce="` + p.opts.Nonce + `"`
	}
	sriAttr := ""
	if p.opts.ScriptIntegrity != "" {
		sriAttr = ` integrity="` + p.opts.ScriptIntegrity + `" crossorigin="anonymous"`
	}
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html>\n  <head>\n    <title>")
	b.WriteString(html.EscapeString(info.Title))
	b.WriteString(" API Reference</title>\n    <meta charset=\"utf-8\" />\n" +
		"    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n  </head>\n  <body>\n" +
		"    <script id=\"api-reference\" type=\"application/json\">\n    ")
	b.Write(doc)
	b.WriteString("\n    </script>\n    <script" + nonceAttr + ">\n      var configuration = ")
	b.Write(cfg)
	b.WriteString("\n      document.getElementById('api-reference').dataset.configuration =\n" +
		"        JSON.stringify(configuration)\n    </script>\n    <script src=\"")
	b.WriteString(html.EscapeString(p.opts.ScriptURL))
	b.WriteString("\"" + nonceAttr + sriAttr + "></script>\n  </body>\n</html>\n")
	return []byte(b.String()), nil
}
