package username_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/username"
)

// TestHostUpdateUser: plugin.Host.UpdateUser (what admin's update-user
// and other plugins write through) runs the plugin's BeforeUserUpdate
// hook: a username is stored normalised, an invalid, taken or reserved
// one is refused with the 400 codes and nothing is written.
func TestHostUpdateUser(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db, opts: username.Options{ReservedUsernames: []string{"staff"},
			DisplayUsernameNormalization: strings.TrimSpace}})
		e.signUp("other@example.com", map[string]any{"username": "Other"})
		e.signUp("me@example.com", nil)
		ctx, h := context.Background(), e.a.Host()
		me, err := h.FindUserByEmail(ctx, "me@example.com")
		if err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name   string
			fields map[string]any
			err    *plugin.Error
			want   map[string]any // the names afterwards
		}{
			{"mixed case", map[string]any{"username": "Mixed.Case"}, nil, map[string]any{"username": "mixed.case", "displayUsername": nil}},
			{"display normalised", map[string]any{"displayUsername": "  Me  "}, nil, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"own, other case", map[string]any{"username": "MIXED.CASE"}, nil, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"taken", map[string]any{"username": "OTHER", "name": "Changed"}, username.ErrUsernameIsAlreadyTaken, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"reserved", map[string]any{"username": "Staff"}, username.ErrUsernameIsAlreadyTaken, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"too short", map[string]any{"username": "ab"}, username.ErrUsernameTooShort, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"too long", map[string]any{"username": strings.Repeat("a", 31)}, username.ErrUsernameTooLong, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"invalid", map[string]any{"username": "a b c"}, username.ErrInvalidUsername, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"NUL", map[string]any{"username": "abc\x00"}, username.ErrInvalidUsername, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"not a string", map[string]any{"username": 7}, username.ErrInvalidUsername, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"bad display", map[string]any{"displayUsername": "x\u202ey"}, username.ErrInvalidDisplayUsername, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"display not a string", map[string]any{"displayUsername": true}, username.ErrInvalidDisplayUsername, map[string]any{"username": "mixed.case", "displayUsername": "Me"}},
			{"cleared", map[string]any{"username": nil, "displayUsername": nil}, nil, map[string]any{"username": nil, "displayUsername": nil}},
		}
		for _, s := range steps {
			u, err := h.UpdateUser(ctx, me.ID, s.fields)
			switch {
			case s.err == nil && err != nil:
				t.Errorf("%s: %v", s.name, err)
			case s.err != nil:
				var pe *plugin.Error
				if !errors.As(err, &pe) || pe.Code != s.err.Code || pe.Status != 400 {
					t.Errorf("%s: %v, want 400 %s", s.name, err, s.err.Code)
				}
			case u == nil || u.Extra["username"] != s.want["username"]:
				t.Errorf("%s: answered %+v", s.name, u)
			}
			got, err := h.FindUserByID(ctx, me.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(s.want, map[string]any{"username": got.Extra["username"], "displayUsername": got.Extra["displayUsername"]}); d != "" {
				t.Errorf("%s: stored (-want +got):\n%s", s.name, d)
			}
			if got.Name != "Test User" {
				t.Errorf("%s: name %q written", s.name, got.Name)
			}
		}
	})
}

// TestNormalizedOnce: with a normalisation that is not idempotent, a
// username is normalised exactly once on every path (update-user's
// before-hook checks it, the BeforeUserUpdate hook normalises it).
func TestNormalizedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: username.Options{UsernameNormalization: func(s string) string { return "u_" + strings.ToLower(s) }}})
	b := e.signUp("me@example.com", map[string]any{"username": "First"})
	if got := b.sessionUser()["username"]; got != "u_first" {
		t.Errorf("sign-up stored %v, want u_first", got)
	}
	if r := b.post("/update-user", map[string]any{"username": "Second"}); r.status != 200 {
		t.Fatalf("update-user: %d %s", r.status, r.raw)
	}
	if got := b.sessionUser()["username"]; got != "u_second" {
		t.Errorf("update-user stored %v, want u_second", got)
	}
	ctx := context.Background()
	me, err := e.a.Host().FindUserByEmail(ctx, "me@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := e.p.SetUsername(ctx, me.ID, "Third"); err != nil || u.Extra["username"] != "u_third" {
		t.Errorf("SetUsername: %v, %v; want u_third", u, err)
	}
	if r := b.post("/sign-in/username", map[string]any{"username": "THIRD", "password": password}); r.status != 200 {
		t.Errorf("sign-in: %d %s", r.status, r.raw)
	}
}

// racer is a plugin whose BeforeUserUpdate hook, run after the username
// plugin's, stores another user holding the username being written, once:
// a concurrent request that wins the race between the check and the
// write.
type racer struct {
	h     plugin.Host
	fired atomic.Bool
	calls atomic.Int32
}

func (r *racer) ID() string               { return "racer" }
func (r *racer) Init(h plugin.Host) error { r.h = h; return nil }
func (r *racer) Hooks() plugin.Hooks {
	return plugin.Hooks{BeforeUserUpdate: func(ctx context.Context, userID string, fields map[string]any) error {
		r.calls.Add(1)
		name, ok := fields[username.FieldUsername].(string)
		if !ok || !r.fired.CompareAndSwap(false, true) {
			return nil
		}
		now := time.Now()
		return r.h.DB().Create(ctx, plugin.TableUser, storage.Record{"id": plugin.NewID(), "name": "Racer",
			"email": plugin.NewID() + "@racer.example", "emailVerified": false, username.FieldUsername: name,
			"createdAt": now, "updatedAt": now})
	}}
}

// TestUpdateRaceLost: a username taken between the hook's check and the
// write (the unique index refuses the write) is 400
// USERNAME_IS_ALREADY_TAKEN on every path — update-user, SetUsername,
// Host.UpdateUser — never a 500, and nothing of the update is written.
func TestUpdateRaceLost(t *testing.T) {
	t.Parallel()
	paths := []struct {
		name string
		run  func(e *env, b *browser, userID string) (int, string)
	}{
		{"update-user", func(e *env, b *browser, _ string) (int, string) {
			r := b.post("/update-user", map[string]any{"username": "Contested", "name": "Changed"})
			return r.status, r.err().Code
		}},
		{"SetUsername", func(e *env, _ *browser, id string) (int, string) {
			_, err := e.p.SetUsername(context.Background(), id, "Contested")
			pe := plugin.AsError(err)
			return pe.Status, pe.Code
		}},
		{"Host.UpdateUser", func(e *env, _ *browser, id string) (int, string) {
			_, err := e.a.Host().UpdateUser(context.Background(), id, map[string]any{"username": "Contested", "name": "Changed"})
			pe := plugin.AsError(err)
			return pe.Status, pe.Code
		}},
	}
	forEachDB(t, func(t *testing.T, db string) {
		for _, p := range paths {
			rc := &racer{}
			e := newEnv(t, envOpts{db: db, plugins: []auth.Plugin{rc}})
			b := e.signUp("me@example.com", map[string]any{"username": "Mine"})
			me, err := e.a.Host().FindUserByEmail(context.Background(), "me@example.com")
			if err != nil {
				t.Fatal(err)
			}
			status, code := p.run(e, b, me.ID)
			if status != 400 || code != "USERNAME_IS_ALREADY_TAKEN" {
				t.Errorf("%s: %d %s, want 400 USERNAME_IS_ALREADY_TAKEN", p.name, status, code)
			}
			// The racer ran once, after the username plugin's check: the
			// hooks' second run, after the conflict, stops at the username
			// plugin, which now sees the racer's row (without that run the
			// answer would be 422 FAILED_TO_UPDATE_USER).
			if got := rc.calls.Load(); got != 1 {
				t.Errorf("%s: the racer ran %d times, want 1", p.name, got)
			}
			u, err := e.a.Host().FindUserByID(context.Background(), me.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.Extra["username"] != "mine" || u.Name != "Test User" {
				t.Errorf("%s: written despite the conflict: %v, %q", p.name, u.Extra["username"], u.Name)
			}
			if n := e.count(plugin.TableUser, storage.W("username", "contested")); n != 1 {
				t.Errorf("%s: %d users hold the name", p.name, n)
			}
		}
	})
}

// TestSetUsernameRace: users claiming one username at once through the Go
// API: one wins, every other is ErrUsernameIsAlreadyTaken.
func TestSetUsernameRace(t *testing.T) {
	t.Parallel()
	const n = 6
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		ids := make([]string, n)
		for i := range ids {
			e.signUp(fmt.Sprintf("u%d@example.com", i), nil)
			u, err := e.a.Host().FindUserByEmail(context.Background(), fmt.Sprintf("u%d@example.com", i))
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = u.ID
		}
		replies := race(n, func(i int) reply {
			_, err := e.p.SetUsername(context.Background(), ids[i], []string{"Contested", "CONTESTED", "contested"}[i%3])
			if err == nil {
				return reply{status: 200}
			}
			pe := plugin.AsError(err)
			return reply{status: pe.Status, body: map[string]any{"code": pe.Code, "message": pe.Message}}
		})
		checkRace(t, "SetUsername", replies)
		if got := e.count(plugin.TableUser, storage.W("username", "contested")); got != 1 {
			t.Errorf("%d users hold the name", got)
		}
	})
}
