package plugin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage/memory"
)

func newHost(t *testing.T) (*auth.Auth, plugin.Host) {
	t.Helper()
	a, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: strings.Repeat("s", 32),
		RateLimit: auth.RateLimitConfig{Disabled: true}}, memory.New())
	if err != nil {
		t.Fatal(err)
	}
	return a, a.Host()
}

// A plugin's test can run a handler on a Context of its own making, without
// a server: NewContext, SetBody, then the handler, then what it answered.
func TestNewContextRunsAHandler(t *testing.T) {
	t.Parallel()
	a, h := newHost(t)
	res, err := a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "Ada", Email: "ada@example.com", Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	type note struct {
		Body string `json:"body"`
	}
	ep := &plugin.Endpoint{Method: "POST", Path: "/notes/:id", Body: []plugin.Param{plugin.Required("body", plugin.KindString)},
		Handler: func(c *plugin.Context) (any, error) {
			var n note
			if err := c.Bind(&n); err != nil {
				return nil, err
			}
			c.SetStatus(http.StatusCreated)
			c.SignedIn(res)
			return map[string]any{"id": c.Param("id"), "body": n.Body, "user": c.Session().User.Email,
				"tag": c.OptString("tag"), "pinned": c.OptBool("pinned")}, nil
		}}
	tests := []struct {
		name    string
		body    string
		want    map[string]any
		wantErr string
	}{
		{"object", `{"body":"milk","pinned":true}`, map[string]any{"id": "n1", "body": "milk", "user": "ada@example.com", "tag": (*string)(nil), "pinned": ptr(true)}, ""},
		{"wrong type for Bind", `{"body":7}`, nil, "VALIDATION_ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "http://localhost:3000/api/auth/notes/n1", strings.NewReader(tt.body))
			c := plugin.NewContext(h, r, plugin.Route{Endpoint: ep, Path: "/notes/n1", Params: map[string]string{"id": "n1"}})
			var body map[string]any
			if err := jsonUnmarshal(tt.body, &body); err != nil {
				t.Fatal(err)
			}
			c.SetBody([]byte(tt.body), body, true)
			got, err := ep.Handler(c)
			if tt.wantErr != "" {
				if e := plugin.AsError(err); e.Code != tt.wantErr {
					t.Fatalf("error %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}
			if c.Status() != http.StatusCreated || len(c.Cookies()) == 0 || c.Session().Session.Token != res.Token() {
				t.Errorf("status %d, %d cookies, session %v", c.Status(), len(c.Cookies()), c.Session())
			}
			c.RemoveCookies(plugin.CookieSessionToken)
			for _, ck := range c.Cookies() {
				if ck.Name == h.CookieName(plugin.CookieSessionToken) {
					t.Errorf("RemoveCookies kept %s", ck.Name)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
