package auth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/storage/memory"
)

// profilePlugin declares user fields with storage.Field.Input, as the
// username plugin does: the core passes them from the bodies of sign-up
// and update-user; the plugin normalises nickname (lower case) and keeps
// it unique with its own error, in BeforeUserUpdate and BeforeUserCreate.
type profilePlugin struct {
	h plugin.Host
	// raceNickname, while set, makes the next check of that nickname
	// pass and then store a competing user holding it, as a concurrent
	// request that wins the race would.
	raceNickname atomic.Pointer[string]
	checks       atomic.Int32
}

var errNicknameTaken = plugin.NewError(http.StatusBadRequest, "NICKNAME_TAKEN", "Nickname is taken")

func (p *profilePlugin) ID() string               { return "profile" }
func (p *profilePlugin) Init(h plugin.Host) error { p.h = h; return nil }

func (p *profilePlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: []storage.Field{
		{Name: "nickname", Type: storage.String, Unique: true, Input: true},
		{Name: "level", Type: storage.Int, Input: true},
		{Name: "beta", Type: storage.Bool, Input: true},
		{Name: "birthday", Type: storage.Date, Input: true},
		{Name: "badge", Type: storage.String, Unique: true, Input: true}, // unique, checked by no hook
		{Name: "tier", Type: storage.String},                             // not an input
	}}}}
}

// checkNickname refuses a nickname another user holds (or that a race
// simulation is about to take).
func (p *profilePlugin) checkNickname(ctx context.Context, nick, self string) error {
	p.checks.Add(1)
	rec, err := p.h.DB().FindOne(ctx, plugin.TableUser, storage.W("nickname", nick))
	if err == nil && rec.String("id") != self {
		return errNicknameTaken
	}
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return plugin.StorageError(err)
	}
	if r := p.raceNickname.Load(); r != nil && *r == nick && p.raceNickname.CompareAndSwap(r, nil) {
		now := p.h.Now()
		if err := p.h.DB().Create(ctx, plugin.TableUser, storage.Record{"id": plugin.NewID(), "name": "Racer",
			"email": plugin.NewID() + "@racer.example", "emailVerified": false, "nickname": nick,
			"createdAt": now, "updatedAt": now}); err != nil {
			return err
		}
	}
	return nil
}

func (p *profilePlugin) Hooks() plugin.Hooks {
	return plugin.Hooks{
		BeforeUserUpdate: func(ctx context.Context, userID string, fields map[string]any) error {
			nick, ok := fields["nickname"].(string)
			if !ok {
				return nil
			}
			nick = strings.ToLower(nick)
			fields["nickname"] = nick
			return p.checkNickname(ctx, nick, userID)
		},
		BeforeUserCreate: func(ctx context.Context, u *plugin.User) error {
			nick, ok := u.Extra["nickname"].(string)
			if !ok {
				return nil
			}
			nick = strings.ToLower(nick)
			u.Extra["nickname"] = nick
			return p.checkNickname(ctx, nick, u.ID)
		},
	}
}

// userFields returns the plugin's fields of a user object.
func userFields(u map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"nickname", "level", "beta", "birthday", "badge", "tier"} {
		out[k] = u[k]
	}
	return out
}

func TestInputFieldsSignUp(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil, &profilePlugin{})
	none := map[string]any{"nickname": nil, "level": nil, "beta": nil, "birthday": nil, "badge": nil, "tier": nil}
	with := func(kv map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range none {
			out[k] = v
		}
		for k, v := range kv {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name    string
		fields  map[string]any
		status  int
		message string         // of an error
		want    map[string]any // the new user's plugin fields
	}{
		{name: "all types", fields: map[string]any{"nickname": "Ann", "level": 7, "beta": true, "birthday": "2000-02-29T12:00:00.000Z"},
			status: 200, want: with(map[string]any{"nickname": "ann", "level": float64(7), "beta": true, "birthday": "2000-02-29T12:00:00.000Z"})},
		{name: "none given", fields: nil, status: 200, want: none},
		{name: "null", fields: map[string]any{"nickname": nil, "level": nil}, status: 200, want: none},
		{name: "not an input field is ignored", fields: map[string]any{"tier": "gold"}, status: 200, want: none},
		{name: "string for a number", fields: map[string]any{"level": "7"}, status: 400,
			message: "[body.level] Invalid input: expected number, received string"},
		{name: "fraction for an int", fields: map[string]any{"level": 1.5}, status: 400,
			message: "[body.level] Invalid input: expected int, received number"},
		{name: "number for a string", fields: map[string]any{"nickname": 12}, status: 400,
			message: "[body.nickname] Invalid input: expected string, received number"},
		{name: "string for a bool", fields: map[string]any{"beta": "yes"}, status: 400,
			message: "[body.beta] Invalid input: expected boolean, received string"},
		{name: "not a date", fields: map[string]any{"birthday": "tomorrow"}, status: 400,
			message: "[body.birthday] Invalid input: expected date, received string"},
		{name: "object for a string", fields: map[string]any{"nickname": map[string]any{"$ne": ""}}, status: 400,
			message: "[body.nickname] Invalid input: expected string, received object"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, a, srv)
			email := "input" + string(rune('a'+i)) + "@example.com"
			body := map[string]any{"name": "In Put", "email": email, "password": "password-123"}
			for k, v := range tc.fields {
				body[k] = v
			}
			r := c.post("/sign-up/email", body)
			if tc.status != 200 {
				e := wantError(t, r, tc.status, "VALIDATION_ERROR")
				if e.Message != tc.message {
					t.Errorf("message %q, want %q", e.Message, tc.message)
				}
				if n := rowCount(t, a, plugin.TableUser, storage.W("email", email)); n != 0 {
					t.Errorf("%d users created by a refused sign-up", n)
				}
				return
			}
			if r.Status != 200 {
				t.Fatalf("sign-up: %d %s", r.Status, r.Body)
			}
			u, _ := r.Object(t)["user"].(map[string]any)
			if d := cmp.Diff(tc.want, userFields(u)); d != "" {
				t.Errorf("sign-up answer (-want +got):\n%s", d)
			}
			stored, _ := c.session()["user"].(map[string]any)
			if d := cmp.Diff(tc.want, userFields(stored)); d != "" {
				t.Errorf("stored user (-want +got):\n%s", d)
			}
		})
	}
}

func TestInputFieldsUpdateUser(t *testing.T) {
	t.Parallel()
	a, srv := newTestServer(t, nil, &profilePlugin{})
	other := newClient(t, a, srv)
	other.signUp("other@example.com", "password-123")
	if r := other.post("/update-user", map[string]any{"nickname": "Taken"}); r.Status != 200 {
		t.Fatalf("update-user: %d %s", r.Status, r.Body)
	}
	c := newClient(t, a, srv)
	c.signUp("me@example.com", "password-123")

	steps := []struct {
		name   string
		body   map[string]any
		status int
		code   string
		want   map[string]any // the plugin's fields after the step
	}{
		{name: "set", body: map[string]any{"nickname": "Me", "level": 3, "beta": false}, status: 200,
			want: map[string]any{"nickname": "me", "level": float64(3), "beta": false, "birthday": nil, "badge": nil, "tier": nil}},
		{name: "wrong type", body: map[string]any{"level": "high"}, status: 400, code: "VALIDATION_ERROR",
			want: map[string]any{"nickname": "me", "level": float64(3), "beta": false, "birthday": nil, "badge": nil, "tier": nil}},
		{name: "not an input field", body: map[string]any{"tier": "gold"}, status: 400, code: "FIELD_NOT_ALLOWED",
			want: map[string]any{"nickname": "me", "level": float64(3), "beta": false, "birthday": nil, "badge": nil, "tier": nil}},
		{name: "taken by another", body: map[string]any{"nickname": "TAKEN", "name": "Changed"}, status: 400, code: "NICKNAME_TAKEN",
			want: map[string]any{"nickname": "me", "level": float64(3), "beta": false, "birthday": nil, "badge": nil, "tier": nil}},
		{name: "own again", body: map[string]any{"nickname": "ME"}, status: 200,
			want: map[string]any{"nickname": "me", "level": float64(3), "beta": false, "birthday": nil, "badge": nil, "tier": nil}},
		{name: "null clears", body: map[string]any{"nickname": nil, "level": nil}, status: 200,
			want: map[string]any{"nickname": nil, "level": nil, "beta": false, "birthday": nil, "badge": nil, "tier": nil}},
	}
	for _, s := range steps {
		r := c.post("/update-user", s.body)
		if s.status == 200 {
			if r.Status != 200 {
				t.Errorf("%s: %d %s", s.name, r.Status, r.Body)
			}
		} else {
			wantError(t, r, s.status, s.code)
		}
		u, _ := c.session()["user"].(map[string]any)
		if d := cmp.Diff(s.want, userFields(u)); d != "" {
			t.Errorf("%s: user (-want +got):\n%s", s.name, d)
		}
		if u["name"] != "Test User" {
			t.Errorf("%s: name %v changed", s.name, u["name"])
		}
	}
}

// TestInputFieldsConflict: a unique input field taken by a concurrent
// request between the plugin's check and the write is answered with the
// plugin's error (its check runs again), never as a taken email or a 500;
// nothing is written.
func TestInputFieldsConflict(t *testing.T) {
	t.Parallel()
	for _, noSession := range []bool{false, true} {
		t.Run(map[bool]string{false: "sign-up", true: "sign-up without session"}[noSession], func(t *testing.T) {
			t.Parallel()
			p := &profilePlugin{}
			a, srv := newTestServer(t, func(c *auth.Config) { c.EmailPassword.RequireEmailVerification = noSession }, p)
			c := newClient(t, a, srv)
			nick := "racy"
			p.raceNickname.Store(&nick)
			r := c.post("/sign-up/email", map[string]any{"name": "R", "email": "race@example.com", "password": "password-123", "nickname": "Racy"})
			wantError(t, r, 400, "NICKNAME_TAKEN")
			if got := p.checks.Load(); got != 2 {
				t.Errorf("the plugin checked %d times, want 2 (before the insert, and after its conflict)", got)
			}
			if n := rowCount(t, a, plugin.TableUser, storage.W("email", "race@example.com")); n != 0 {
				t.Errorf("%d users created", n)
			}
			if n := rowCount(t, a, plugin.TableAccount); n != 0 {
				t.Errorf("%d accounts created", n)
			}
			// A taken email is answered as before.
			c.post("/sign-up/email", map[string]any{"name": "R", "email": "dup@example.com", "password": "password-123"})
			r = c.post("/sign-up/email", map[string]any{"name": "R", "email": "dup@example.com", "password": "password-123", "nickname": "fresh"})
			if noSession {
				if r.Status != 200 {
					t.Errorf("taken email without session: %d %s, want the made-up 200", r.Status, r.Body)
				}
			} else {
				wantError(t, r, 422, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL")
			}
		})
	}
	t.Run("update-user", func(t *testing.T) {
		t.Parallel()
		p := &profilePlugin{}
		a, srv := newTestServer(t, nil, p)
		c := newClient(t, a, srv)
		c.signUp("upd@example.com", "password-123")
		nick := "racy"
		p.raceNickname.Store(&nick)
		r := c.post("/update-user", map[string]any{"nickname": "Racy", "name": "Changed"})
		wantError(t, r, 400, "NICKNAME_TAKEN")
		if got := p.checks.Load(); got != 2 {
			t.Errorf("the plugin checked %d times, want 2", got)
		}
		u, _ := c.session()["user"].(map[string]any)
		if u["nickname"] != nil || u["name"] != "Test User" {
			t.Errorf("user after the refused update: nickname %v, name %v", u["nickname"], u["name"])
		}
	})
	t.Run("update-user unclaimed field", func(t *testing.T) {
		t.Parallel()
		a, srv := newTestServer(t, nil, &profilePlugin{})
		first := newClient(t, a, srv)
		first.signUp("first@example.com", "password-123")
		if r := first.post("/update-user", map[string]any{"badge": "gold"}); r.Status != 200 {
			t.Fatalf("update-user: %d %s", r.Status, r.Body)
		}
		c := newClient(t, a, srv)
		c.signUp("second@example.com", "password-123")
		e := wantError(t, c.post("/update-user", map[string]any{"badge": "gold", "name": "Changed"}), 422, "FAILED_TO_UPDATE_USER")
		if e.Message != "Failed to update user" {
			t.Errorf("message %q", e.Message)
		}
		u, _ := c.session()["user"].(map[string]any)
		if u["badge"] != nil || u["name"] != "Test User" {
			t.Errorf("user after the refused update: badge %v, name %v", u["badge"], u["name"])
		}
	})
}

// TestInputFieldsGo: SignUpEmail takes input fields in Extra, refuses
// other keys and values of the wrong type.
func TestInputFieldsGo(t *testing.T) {
	t.Parallel()
	a := newAuth(t, nil, &profilePlugin{})
	ctx := context.Background()
	cases := []struct {
		name  string
		extra map[string]any
		code  string
		want  any // the stored nickname
	}{
		{name: "input field", extra: map[string]any{"nickname": "Go", "level": int64(2), "birthday": time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC)}, want: "go"},
		{name: "not an input field", extra: map[string]any{"tier": "gold"}, code: "FIELD_NOT_ALLOWED"},
		{name: "core field", extra: map[string]any{"emailVerified": true}, code: "FIELD_NOT_ALLOWED"},
		{name: "unknown key", extra: map[string]any{"isAdmin": true}, code: "FIELD_NOT_ALLOWED"},
		{name: "wrong type", extra: map[string]any{"level": "2"}, code: "VALIDATION_ERROR"},
	}
	for i, tc := range cases {
		email := "go" + string(rune('a'+i)) + "@example.com"
		res, err := a.SignUpEmail(ctx, auth.SignUpInput{Name: "Go", Email: email, Password: "password-123", Extra: tc.extra})
		if tc.code != "" {
			var e *plugin.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Errorf("%s: err %v, want %s", tc.name, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		u, err := a.Host().FindUserByID(ctx, res.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Extra["nickname"] != tc.want || u.Extra["level"] != int64(2) {
			t.Errorf("%s: stored %v", tc.name, u.Extra)
		}
	}
}

// otherNickname declares nickname like profilePlugin, but not as input.
type otherNickname struct{}

func (otherNickname) ID() string { return "other-nickname" }
func (otherNickname) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: []storage.Field{
		{Name: "nickname", Type: storage.String, Unique: true}}}}}
}

// TestInputFieldsDeclaredTwice: two plugins must agree on Input.
func TestInputFieldsDeclaredTwice(t *testing.T) {
	t.Parallel()
	_, err := auth.New(testConfig("http://localhost:3000"), memory.New(), &profilePlugin{}, otherNickname{})
	if err == nil || !strings.Contains(err.Error(), "nickname") {
		t.Errorf("auth.New = %v, want an error naming nickname", err)
	}
}
