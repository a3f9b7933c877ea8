package username_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
	"github.com/managarten/mana-auth/username"
)

var (
	tooShort    = errBody{400, "USERNAME_TOO_SHORT", "Username is too short"}
	tooLong     = errBody{400, "USERNAME_TOO_LONG", "Username is too long"}
	invalid     = errBody{400, "INVALID_USERNAME", "Username is invalid"}
	taken       = errBody{400, "USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another."}
	immutable   = errBody{400, "USERNAME_IS_IMMUTABLE", "Username cannot be updated"}
	badDisplay  = errBody{400, "INVALID_DISPLAY_USERNAME", "Display username is invalid"}
	wrongSignIn = errBody{401, "INVALID_USERNAME_OR_PASSWORD", "Invalid username or password"}
)

// at422 is e as sign-in and is-username-available answer it.
func at422(e errBody) errBody { e.Status = 422; return e }

func TestSignUp(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db, opts: username.Options{ReservedUsernames: []string{"Admin"}}})
		e.signUp("holder@example.com", map[string]any{"username": "taken"})
		cases := []struct {
			name  string
			extra map[string]any
			err   errBody        // of a refusal
			want  map[string]any // username and displayUsername of the new user
		}{
			{name: "username", extra: map[string]any{"username": "Ada_L"},
				want: map[string]any{"username": "ada_l", "displayUsername": "Ada_L"}},
			{name: "both", extra: map[string]any{"username": "Ada.L2", "displayUsername": "Ada Lovelace"},
				want: map[string]any{"username": "ada.l2", "displayUsername": "Ada Lovelace"}},
			{name: "empty displayUsername", extra: map[string]any{"username": "Ada_3", "displayUsername": ""},
				want: map[string]any{"username": "ada_3", "displayUsername": "Ada_3"}},
			{name: "valid displayUsername alone", extra: map[string]any{"displayUsername": "Bob.B"},
				want: map[string]any{"username": "bob.b", "displayUsername": "Bob.B"}},
			{name: "displayUsername alone, not a username", extra: map[string]any{"displayUsername": "Bob B"},
				want: map[string]any{"username": nil, "displayUsername": "Bob B"}},
			{name: "null username and a displayUsername", extra: map[string]any{"username": nil, "displayUsername": "Carl_C"},
				want: map[string]any{"username": nil, "displayUsername": "Carl_C"}},
			{name: "neither", want: map[string]any{"username": nil, "displayUsername": nil}},
			{name: "30 characters", extra: map[string]any{"username": strings.Repeat("x", 30)},
				want: map[string]any{"username": strings.Repeat("x", 30), "displayUsername": strings.Repeat("x", 30)}},
			{name: "empty", extra: map[string]any{"username": ""}, err: tooShort},
			{name: "too short", extra: map[string]any{"username": "ab"}, err: tooShort},
			{name: "too long", extra: map[string]any{"username": strings.Repeat("y", 31)}, err: tooLong},
			{name: "dash", extra: map[string]any{"username": "bad-name"}, err: invalid},
			{name: "space", extra: map[string]any{"username": "bad name"}, err: invalid},
			{name: "non-ASCII", extra: map[string]any{"username": "jösé"}, err: invalid},
			{name: "NUL", extra: map[string]any{"username": "abc\x00def"}, err: invalid},
			{name: "at sign", extra: map[string]any{"username": "victim@example.com"}, err: invalid},
			{name: "taken", extra: map[string]any{"username": "Taken"}, err: taken},
			{name: "reserved", extra: map[string]any{"username": "ADMIN"}, err: taken},
			{name: "displayUsername alone, taken as a username", extra: map[string]any{"displayUsername": "TAKEN"}, err: taken},
			{name: "hidden character in displayUsername", extra: map[string]any{"username": "dora", "displayUsername": "Dora\u202e"}, err: badDisplay},
			{name: "number", extra: map[string]any{"username": 42},
				err: errBody{400, "VALIDATION_ERROR", "[body.username] Invalid input: expected string, received number"}},
			{name: "object displayUsername", extra: map[string]any{"username": "eve_e", "displayUsername": map[string]any{}},
				err: errBody{400, "VALIDATION_ERROR", "[body.displayUsername] Invalid input: expected string, received object"}},
			// Better Auth's hooks run before the route's own checks.
			{name: "before the email check", extra: map[string]any{"username": "x", "email": "not-an-email"}, err: tooShort},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				email := fmt.Sprintf("signup%d@example.com", i)
				body := map[string]any{"name": "New User", "email": email, "password": password}
				for k, v := range tc.extra {
					body[k] = v
				}
				b := e.browser()
				r := b.post("/sign-up/email", body)
				if tc.want == nil {
					if d := cmp.Diff(tc.err, r.err()); d != "" {
						t.Errorf("answer (-want +got):\n%s", d)
					}
					if n := e.count(plugin.TableUser, storage.W("email", email)); n != 0 {
						t.Errorf("%d users created by a refused sign-up", n)
					}
					return
				}
				if r.status != 200 {
					t.Fatalf("sign-up: %d %s", r.status, r.raw)
				}
				if d := cmp.Diff(tc.want, names(r.user())); d != "" {
					t.Errorf("sign-up's user (-want +got):\n%s", d)
				}
				if d := cmp.Diff(tc.want, names(b.sessionUser())); d != "" {
					t.Errorf("stored user (-want +got):\n%s", d)
				}
			})
		}
	})
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db})
		e.signUp("ada@example.com", map[string]any{"username": "Ada_L"})

		for _, name := range []string{"ada_l", "Ada_L", "ADA_L"} {
			b := e.browser()
			r := b.post("/sign-in/username", map[string]any{"username": name, "password": password})
			if r.status != 200 {
				t.Fatalf("sign-in as %s: %d %s", name, r.status, r.raw)
			}
			if r.body["redirect"] != false || r.body["token"] == "" || r.body["url"] != nil {
				t.Errorf("sign-in answer %s", r.raw)
			}
			if d := cmp.Diff(map[string]any{"username": "ada_l", "displayUsername": "Ada_L"}, names(r.user())); d != "" {
				t.Errorf("user (-want +got):\n%s", d)
			}
			if u := b.sessionUser(); u == nil || u["email"] != "ada@example.com" {
				t.Errorf("session after signing in as %s: %v", name, u)
			}
		}

		t.Run("callbackURL", func(t *testing.T) {
			r := e.browser().post("/sign-in/username", map[string]any{"username": "ada_l", "password": password, "callbackURL": "/home"})
			if r.status != 200 || r.body["redirect"] != true || r.body["url"] != "/home" || r.header.Get("Location") != "/home" {
				t.Errorf("%d %v Location %q", r.status, r.body, r.header.Get("Location"))
			}
			r = e.browser().post("/sign-in/username", map[string]any{"username": "ada_l", "password": password, "callbackURL": "https://evil.example/"})
			if d := cmp.Diff(errBody{403, "INVALID_CALLBACK_URL", "Invalid callbackURL"}, r.err()); d != "" {
				t.Errorf("untrusted callbackURL (-want +got):\n%s", d)
			}
		})
		t.Run("rememberMe false", func(t *testing.T) {
			r := e.browser().post("/sign-in/username", map[string]any{"username": "ada_l", "password": password, "rememberMe": false})
			cookies := strings.Join(r.header.Values("Set-Cookie"), "\n")
			if r.status != 200 || !strings.Contains(cookies, "better-auth.dont_remember=") {
				t.Errorf("%d, cookies:\n%s", r.status, cookies)
			}
		})

		refusals := []struct {
			name string
			body any
			want errBody
		}{
			{"wrong password", map[string]any{"username": "ada_l", "password": "wrong-password"}, wrongSignIn},
			{"unknown username", map[string]any{"username": "nobody", "password": password}, wrongSignIn},
			{"empty password", map[string]any{"username": "ada_l", "password": ""}, wrongSignIn},
			{"empty username", map[string]any{"username": "", "password": password}, wrongSignIn},
			{"too short", map[string]any{"username": "ab", "password": password}, at422(tooShort)},
			{"too long", map[string]any{"username": strings.Repeat("a", 31), "password": password}, at422(tooLong)},
			{"dash", map[string]any{"username": "ada-l", "password": password}, at422(invalid)},
			{"non-ASCII", map[string]any{"username": "ädä_l", "password": password}, at422(invalid)},
			{"NUL", map[string]any{"username": "ada_l\x00", "password": password}, at422(invalid)},
			{"email as username", map[string]any{"username": "ada@example.com", "password": password}, at422(invalid)},
			{"missing password", map[string]any{"username": "ada_l"},
				errBody{400, "VALIDATION_ERROR", "[body.password] Invalid input: expected string, received undefined"}},
			{"missing username", map[string]any{"password": password},
				errBody{400, "VALIDATION_ERROR", "[body.username] Invalid input: expected string, received undefined"}},
			{"number", map[string]any{"username": 12345, "password": password},
				errBody{400, "VALIDATION_ERROR", "[body.username] Invalid input: expected string, received number"}},
			{"not JSON", "username=ada_l", errBody{400, "BAD_REQUEST", "Invalid JSON in request body"}},
		}
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				b := e.browser()
				r := b.post("/sign-in/username", tc.body)
				got := r.err()
				if tc.want.Message == "" {
					got.Message = ""
				}
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("answer (-want +got):\n%s", d)
				}
				if r.header.Get("Set-Cookie") != "" || b.session() != nil {
					t.Errorf("a refused sign-in set cookies: %v", r.header.Values("Set-Cookie"))
				}
			})
		}
	})
}

func TestIsUsernameAvailable(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db, opts: username.Options{ReservedUsernames: []string{"root"}}})
		e.signUp("holder@example.com", map[string]any{"username": "Taken"})
		cases := []struct {
			name string
			body any
			want any // true, false or an errBody
		}{
			{"free", map[string]any{"username": "free_name"}, true},
			{"taken", map[string]any{"username": "taken"}, false},
			{"taken, other case", map[string]any{"username": "TAKEN"}, false},
			{"reserved", map[string]any{"username": "Root"}, false},
			{"email of a user", map[string]any{"username": "holder@example.com"}, at422(invalid)},
			{"empty", map[string]any{"username": ""}, at422(invalid)},
			{"too short", map[string]any{"username": "ab"}, at422(tooShort)},
			{"too long", map[string]any{"username": strings.Repeat("z", 31)}, at422(tooLong)},
			{"non-ASCII", map[string]any{"username": "naïve"}, at422(invalid)},
			{"NUL", map[string]any{"username": "ab\x00cd"}, at422(invalid)},
			{"missing", map[string]any{}, errBody{400, "VALIDATION_ERROR", "[body.username] Invalid input: expected string, received undefined"}},
			{"null", map[string]any{"username": nil}, errBody{400, "VALIDATION_ERROR", "[body.username] Invalid input: expected string, received null"}},
			{"array", map[string]any{"username": []string{"a"}}, errBody{400, "VALIDATION_ERROR", "[body.username] Invalid input: expected string, received array"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.browser().post("/is-username-available", tc.body)
				if want, ok := tc.want.(bool); ok {
					if r.status != 200 || r.raw != fmt.Sprintf(`{"available":%t}`, want) {
						t.Errorf("%d %s, want available %t", r.status, r.raw, want)
					}
					return
				}
				if d := cmp.Diff(tc.want, r.err()); d != "" {
					t.Errorf("answer (-want +got):\n%s", d)
				}
			})
		}
	})
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		e := newEnv(t, envOpts{db: db, opts: username.Options{ReservedUsernames: []string{"staff"}}})
		e.signUp("other@example.com", map[string]any{"username": "Other"})
		b := e.signUp("me@example.com", nil)
		steps := []struct {
			name string
			body map[string]any
			err  *errBody       // of a refusal
			want map[string]any // the names after the step
		}{
			{"set", map[string]any{"username": "Me_1"}, nil, map[string]any{"username": "me_1", "displayUsername": nil}},
			{"display", map[string]any{"displayUsername": "Me One"}, nil, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"own, other case", map[string]any{"username": "ME_1"}, nil, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"another user's", map[string]any{"username": "other"}, &taken, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"another user's, other case", map[string]any{"username": "OTHER", "name": "Changed"}, &taken, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"reserved", map[string]any{"username": "Staff"}, &taken, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"too short", map[string]any{"username": "me"}, &tooShort, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"invalid", map[string]any{"username": "me one"}, &invalid, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"NUL", map[string]any{"username": "me\x001"}, &invalid, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"bad display", map[string]any{"displayUsername": "x\x00y"}, &badDisplay, map[string]any{"username": "me_1", "displayUsername": "Me One"}},
			{"rename keeps the display", map[string]any{"username": "Me_2"}, nil, map[string]any{"username": "me_2", "displayUsername": "Me One"}},
			{"clear", map[string]any{"username": nil, "displayUsername": nil}, nil, map[string]any{"username": nil, "displayUsername": nil}},
			{"freed name is free", map[string]any{"username": "me_1"}, nil, map[string]any{"username": "me_1", "displayUsername": nil}},
		}
		for _, s := range steps {
			r := b.post("/update-user", s.body)
			if s.err != nil {
				if d := cmp.Diff(*s.err, r.err()); d != "" {
					t.Errorf("%s: answer (-want +got):\n%s", s.name, d)
				}
			} else if r.status != 200 || r.raw != `{"status":true}` {
				t.Errorf("%s: %d %s", s.name, r.status, r.raw)
			}
			u := b.sessionUser()
			if d := cmp.Diff(s.want, names(u)); d != "" {
				t.Errorf("%s: user (-want +got):\n%s", s.name, d)
			}
			if u["name"] != "Test User" {
				t.Errorf("%s: name changed to %v", s.name, u["name"])
			}
		}
		if n := e.count(plugin.TableUser, storage.W("username", "other")); n != 1 {
			t.Errorf("%d users named other", n)
		}

		// Without a session: refused, as Better Auth does (a taken name
		// is answered first, by the hook).
		anon := e.browser()
		if d := cmp.Diff(errBody{401, "UNAUTHORIZED", "Unauthorized"}, anon.post("/update-user", map[string]any{"username": "free_one"}).err()); d != "" {
			t.Errorf("no session (-want +got):\n%s", d)
		}
		if d := cmp.Diff(taken, anon.post("/update-user", map[string]any{"username": "other"}).err()); d != "" {
			t.Errorf("no session, taken name (-want +got):\n%s", d)
		}
	})
}

// TestImmutableUsername: once set, a username stays (whatever the
// session's cookie cache remembers); setting it again in another case is
// allowed, clearing it is not.
func TestImmutableUsername(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: username.Options{ImmutableUsername: true}, authCfg: func(c *auth.Config) {
		c.Session.CookieCache.Enabled = true
	}})
	a := e.signUp("me@example.com", nil)
	stale := e.browser() // signed in before the username was set: its cookie cache has none
	if r := stale.post("/sign-in/email", map[string]any{"email": "me@example.com", "password": password}); r.status != 200 {
		t.Fatalf("sign-in: %d %s", r.status, r.raw)
	}
	steps := []struct {
		name string
		b    *browser
		body map[string]any
		err  *errBody
	}{
		{"first", a, map[string]any{"username": "First"}, nil},
		{"again, other case", a, map[string]any{"username": "FIRST"}, nil},
		{"change", a, map[string]any{"username": "second"}, &immutable},
		{"clear", a, map[string]any{"username": nil}, &immutable},
		{"change from a stale cache", stale, map[string]any{"username": "third"}, &immutable},
		{"display name is not the username", a, map[string]any{"displayUsername": "The First"}, nil},
	}
	for _, s := range steps {
		r := s.b.post("/update-user", s.body)
		if s.err != nil {
			if d := cmp.Diff(*s.err, r.err()); d != "" {
				t.Errorf("%s: answer (-want +got):\n%s", s.name, d)
			}
		} else if r.status != 200 {
			t.Errorf("%s: %d %s", s.name, r.status, r.raw)
		}
	}
	if d := cmp.Diff(map[string]any{"username": "first", "displayUsername": "The First"}, names(a.sessionUser())); d != "" {
		t.Errorf("user (-want +got):\n%s", d)
	}
}
