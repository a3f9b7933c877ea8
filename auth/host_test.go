package auth_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
)

// keyPlugin authenticates requests with an "X-Test-Key" header: a
// plugin.SessionSource.
type keyPlugin struct {
	h     plugin.Host
	token string // the session the key stands for
}

func (p *keyPlugin) ID() string                  { return "test-key" }
func (p *keyPlugin) Init(h plugin.Host) error    { p.h = h; return nil }
func (p *keyPlugin) ErrorCodes() []*plugin.Error { return []*plugin.Error{errBadKey} }

var errBadKey = plugin.NewError(http.StatusUnauthorized, "BAD_TEST_KEY", "Bad key")

func (p *keyPlugin) RequestSession(r *http.Request) (*plugin.SessionData, bool, error) {
	k := r.Header.Get("X-Test-Key")
	if k == "" {
		return nil, false, nil
	}
	if k != "good" {
		return nil, true, errBadKey
	}
	sd, err := p.h.GetSession(r.Context(), p.token)
	return sd, true, err
}

func TestSessionSource(t *testing.T) {
	t.Parallel()
	kp := &keyPlugin{}
	a, srv := newTestServer(t, nil, kp)
	owner := newClient(t, a, srv)
	owner.signUp("owner@example.com", "password-123")
	kp.token = owner.session()["session"].(map[string]any)["token"].(string)

	other := newClient(t, a, srv)
	other.signUp("other@example.com", "password-123")
	tests := []struct {
		name   string
		c      *client
		key    string
		status int
		email  string
	}{
		{"cookie only", other, "", 200, "other@example.com"},
		{"key wins over the cookie", other, "good", 200, "owner@example.com"},
		{"a bad key refuses even with a cookie", other, "bad", 401, ""},
		{"key without a cookie", newClient(t, a, srv), "good", 200, "owner@example.com"},
	}
	for _, tc := range tests {
		hdr := map[string]string{}
		if tc.key != "" {
			hdr["X-Test-Key"] = tc.key
		}
		r := tc.c.do("GET", "/list-sessions", nil, hdr)
		if r.Status != tc.status {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		if tc.status == 401 {
			wantError(t, r, 401, "BAD_TEST_KEY")
			continue
		}
		g := tc.c.do("GET", "/get-session", nil, hdr).Object(t)
		if u, _ := g["user"].(map[string]any); u["email"] != tc.email {
			t.Fatalf("%s: get-session %v", tc.name, g)
		}
	}
	// Host.Session (and Protect) ask the source too.
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	req.Header.Set("X-Test-Key", "good")
	if sd, err := a.Host().Session(req); err != nil || sd.User.Email != "owner@example.com" {
		t.Fatalf("Host.Session: %v %v", sd, err)
	}
}

func TestHostPasswordsAndEndpoints(t *testing.T) {
	t.Parallel()
	kp := &keyPlugin{}
	a, srv := newTestServer(t, nil, kp)
	c := newClient(t, a, srv)
	uid := c.signUp("pw@example.com", "password-123")["user"].(map[string]any)["id"].(string)
	h := a.Host()
	ctx := context.Background()
	if err := h.SetPassword(ctx, uid, "short", false); !errors.Is(err, auth.ErrPasswordTooShort) {
		t.Fatalf("short: %v", err)
	}
	if err := h.SetPassword(ctx, uid, "new-password-456", true); err != nil {
		t.Fatal(err)
	}
	if n := rowCount(t, a, plugin.TableSession); n != 0 {
		t.Fatalf("%d sessions left after SetPassword(endSessions)", n)
	}
	if _, err := h.SignInWithPassword(ctx, "pw@example.com", "password-123", true); !errors.Is(err, auth.ErrInvalidEmailOrPassword) {
		t.Fatalf("old password: %v", err)
	}
	res, err := h.SignInWithPassword(ctx, "PW@example.com", "new-password-456", false)
	if err != nil || res.Session == nil {
		t.Fatalf("new password: %v", err)
	}
	var found bool
	for _, e := range h.Endpoints() {
		if e.Path == "/sign-in/email" && e.PluginID != "" {
			t.Fatalf("a core route with plugin %q", e.PluginID)
		}
		if e.Path == "/get-session" && e.Method == "GET" {
			found = true
		}
	}
	if !found || len(h.Endpoints()) != len(a.Routes()) {
		t.Fatalf("Endpoints %d, Routes %d", len(h.Endpoints()), len(a.Routes()))
	}
	if codes := h.ErrorCodes("test-key"); len(codes) != 1 || codes[0] != errBadKey {
		t.Fatalf("plugin codes %v", codes)
	}
	if len(h.ErrorCodes("")) < 20 {
		t.Fatalf("core codes %d", len(h.ErrorCodes("")))
	}
	if err := h.DeleteUser(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if _, err := h.FindUserByID(ctx, uid); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("after DeleteUser: %v", err)
	}
}
