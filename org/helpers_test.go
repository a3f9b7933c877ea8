package org_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/internal/testkit"
	"github.com/managarten/mana-auth/mail"
	"github.com/managarten/mana-auth/org"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

const (
	testSecret = "org-test-secret-0123456789abcdef-0123456789"
	baseURL    = "http://localhost:3000"
)

// mailbox is a capturing auth.Mailer.
type mailbox struct{ mail.Recorder }

func (m *mailbox) last() auth.Email {
	sent := m.Sent()
	if len(sent) == 0 {
		return auth.Email{}
	}
	return sent[len(sent)-1]
}

func (m *mailbox) count() int { return len(m.Sent()) }

type env struct {
	t     testing.TB
	a     *auth.Auth
	p     *org.Plugin
	db    storage.Adapter
	srv   *httptest.Server
	mail  *mailbox
	clock *testkit.Clock
}

// newEnv builds an Auth with the plugin over a memory adapter, served by
// an httptest server.
func newEnv(t testing.TB, opts org.Options) *env {
	t.Helper()
	return newEnvDB(t, opts, memory.New())
}

// newEnvDB is newEnv over db (migrated).
func newEnvDB(t testing.TB, opts org.Options, db storage.Adapter) *env {
	t.Helper()
	e := &env{t: t, mail: &mailbox{}, clock: testkit.NewTickingClock(time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC), time.Millisecond), db: db}
	e.p = org.New(opts)
	a, err := auth.New(auth.Config{
		BaseURL: baseURL, Secret: testSecret, Mailer: e.mail, Hasher: testkit.FastHasher{},
		RateLimit: auth.RateLimitConfig{Disabled: true}, Now: e.clock.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, e.db, e.p)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	e.a = a
	if err := a.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	e.srv = httptest.NewServer(a.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

// client is a signed-in user.
type client struct {
	e      *env
	user   *auth.User
	cookie string
	token  string
}

// newUser creates a verified user and signs them in.
func (e *env) newUser(name string) *client {
	e.t.Helper()
	return e.newUserEmail(name, strings.ToLower(name)+"@example.com", true)
}

func (e *env) newUserEmail(name, email string, verified bool) *client {
	e.t.Helper()
	ctx := context.Background()
	u := &auth.User{Name: name, Email: email, EmailVerified: verified}
	if err := e.a.Host().CreateUser(ctx, u, nil); err != nil {
		e.t.Fatalf("CreateUser: %v", err)
	}
	return e.signIn(u)
}

// signIn opens another session for the user.
func (e *env) signIn(u *auth.User) *client {
	e.t.Helper()
	res, err := e.a.Host().CreateSession(context.Background(), u, true)
	if err != nil {
		e.t.Fatalf("CreateSession: %v", err)
	}
	var parts []string
	for _, ck := range res.Cookies {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return &client{e: e, user: u, cookie: strings.Join(parts, "; "), token: res.Session.Token}
}

type resp struct {
	status int
	raw    []byte
	v      any
}

func (r resp) obj() map[string]any { m, _ := r.v.(map[string]any); return m }
func (r resp) arr() []any          { a, _ := r.v.([]any); return a }
func (r resp) str(k string) string { s, _ := r.obj()[k].(string); return s }
func (r resp) code() string        { return r.str("code") }

func (c *client) do(method, path string, body any, query ...string) resp {
	c.e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := c.e.srv.URL + "/api/auth" + path
	if len(query) > 0 {
		v := url.Values{}
		for i := 0; i+1 < len(query); i += 2 {
			v.Add(query[i], query[i+1])
		}
		u += "?" + v.Encode()
	}
	req, _ := http.NewRequest(method, u, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != "" {
		req.Header.Set("Cookie", c.cookie)
	}
	req.Header.Set("Origin", baseURL)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, raw: raw}
	if len(raw) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		_ = d.Decode(&r.v)
	}
	return r
}

func (c *client) post(path string, body any) resp { c.e.t.Helper(); return c.do("POST", path, body) }
func (c *client) get(path string, query ...string) resp {
	c.e.t.Helper()
	return c.do("GET", path, nil, query...)
}

// must fails the test unless r is a 200.
func must(t testing.TB, r resp) resp {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	return r
}

// createOrg creates an organization as c and returns its id.
func (c *client) createOrg(slug string) string {
	c.e.t.Helper()
	r := must(c.e.t, c.post("/organization/create", map[string]any{"name": "Org " + slug, "slug": slug}))
	return r.str("id")
}

// invite invites email into orgID with role and returns the invitation id.
func (c *client) invite(orgID, email string, role any) string {
	c.e.t.Helper()
	r := must(c.e.t, c.post("/organization/invite-member", map[string]any{"email": email, "role": role, "organizationId": orgID}))
	return r.str("id")
}

// join makes u a member of orgID with role through an invitation by inviter.
func (e *env) join(inviter, u *client, orgID, role string) string {
	e.t.Helper()
	id := inviter.invite(orgID, u.user.Email, role)
	r := must(e.t, u.post("/organization/accept-invitation", map[string]any{"invitationId": id}))
	m, _ := r.obj()["member"].(map[string]any)
	s, _ := m["id"].(string)
	return s
}

// memberID returns the member id of u in orgID.
func (e *env) memberID(orgID string, u *client) string {
	e.t.Helper()
	r, err := e.db.FindOne(context.Background(), org.TableMember, storage.W("organizationId", orgID), storage.W("userId", u.user.ID))
	if err != nil {
		e.t.Fatalf("member of %s in %s: %v", u.user.Name, orgID, err)
	}
	return r.String("id")
}

// snapshot returns every row of the plugin's tables and the session
// fields, for "nothing changed" checks.
func (e *env) snapshot() map[string][]storage.Record {
	e.t.Helper()
	out := map[string][]storage.Record{}
	tables := []string{org.TableOrganization, org.TableMember, org.TableInvitation, plugin.TableSession}
	if s := e.a.Schema(); s.Table(org.TableTeam) != nil {
		tables = append(tables, org.TableTeam, org.TableTeamMember)
	}
	for _, t := range tables {
		recs, err := e.db.FindMany(context.Background(), t, storage.Query{Sort: []storage.Sort{{Field: "id"}}})
		if err != nil {
			e.t.Fatal(err)
		}
		if t == plugin.TableSession { // expiry slides on use; keep what matters
			for i, r := range recs {
				recs[i] = storage.Record{"id": r["id"], org.FieldActiveOrganizationID: r[org.FieldActiveOrganizationID]}
			}
		}
		out[t] = recs
	}
	return out
}

func (e *env) owners(orgID string) int {
	e.t.Helper()
	ms, err := e.p.Members(context.Background(), orgID)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, m := range ms {
		for _, r := range m.Roles() {
			if r == "owner" {
				n++
			}
		}
	}
	return n
}

// session returns get-session's session object for c.
func (c *client) session() map[string]any {
	c.e.t.Helper()
	r := must(c.e.t, c.get("/get-session"))
	s, _ := r.obj()["session"].(map[string]any)
	return s
}
