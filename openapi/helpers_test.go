package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/jwt"
	"github.com/managarten/mana-auth/magiclink"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/multisession"
	"github.com/managarten/mana-auth/oauth"
	"github.com/managarten/mana-auth/openapi"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/passkey"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/twofactor"
	"github.com/managarten/mana-auth/vault"
)

const testSecret = "openapi-test-secret-0123456789abcdef"

func openDB(t testing.TB, kind string) storage.Adapter {
	return testkit.OpenDB(t, kind, "openapi_")
}

// allPlugins returns every plugin of the repository, configured to mount
// all their routes, with the openapi plugin last.
func allPlugins(t testing.TB, opts openapi.Options) []auth.Plugin {
	t.Helper()
	kek, err := vault.NewKEK("k1", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	keks, err := vault.NewStaticKEKs(kek)
	if err != nil {
		t.Fatal(err)
	}
	social, err := oauth.New(oauth.Config{Providers: []oauth.Provider{oauth.Google("client-id.apps.googleusercontent.com", "client-secret")}})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := openapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	admins, err := admin.New(admin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	devices, err := multisession.New(multisession.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return []auth.Plugin{
		jwt.New(jwt.Options{}),
		magiclink.New(magiclink.Options{}),
		twofactor.New(twofactor.Options{OTP: true}),
		org.New(org.Options{Teams: org.TeamOptions{Enabled: true}}),
		passkey.New(passkey.Options{RPID: "localhost"}),
		social,
		vault.New(vault.Options{KEKs: keks}),
		admins,
		devices,
		docs,
	}
}

// env is an auth server over HTTP.
type env struct {
	t   testing.TB
	a   *auth.Auth
	srv *httptest.Server
}

// newEnv serves an Auth on db with the plugins; cfg, if not nil, changes
// its configuration.
func newEnv(t testing.TB, db string, cfg func(*auth.Config), plugins ...auth.Plugin) *env {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	c := auth.Config{BaseURL: "http://" + srv.Listener.Addr().String(), Secret: testSecret,
		Hasher: testkit.FastHasher{}, Mailer: &mail.Recorder{}, Logger: slog.New(slog.DiscardHandler),
		User: auth.UserConfig{DeleteEnabled: true, ChangeEmailEnabled: true}}
	if cfg != nil {
		cfg(&c)
	}
	a, err := auth.New(c, openDB(t, db), plugins...)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = a.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, a: a, srv: srv}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// get requests the path (under the server's URL).
func (e *env) get(path string) reply {
	e.t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// validate loads the document with kin-openapi, which resolves every
// $ref, and validates it in its OpenAPI 3.1 mode (JSON Schema 2020-12).
func validate(t testing.TB, doc []byte) *openapi3.T {
	t.Helper()
	kdoc, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		t.Fatalf("kin-openapi cannot load the document: %v", err)
	}
	if !kdoc.IsOpenAPI31OrLater() {
		t.Fatalf("kin-openapi reads version %q as before 3.1", kdoc.OpenAPI)
	}
	if err := kdoc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is invalid: %v", err)
	}
	return kdoc
}

// routesOf returns the document's operations as auth.(*Auth).Routes
// writes routes: "METHOD /base/path/:param", sorted.
func routesOf(t testing.TB, doc []byte, basePath string) []string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for p, item := range d.Paths {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				segs[i] = ":" + s[1:len(s)-1]
			}
		}
		for m := range item {
			out = append(out, strings.ToUpper(m)+" "+basePath+strings.Join(segs, "/"))
		}
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// generate returns the indented JSON of the document of a's routes, as
// Write writes it.
func generate(t testing.TB, a *auth.Auth, info openapi.Info) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := openapi.Write(&b, a.Host(), info); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
