package admin_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/username"
)

// TestPasswordBounds: create-user and set-user-password use the host's
// password bounds (here 10 to 20), and set-user-password checks the
// length before it looks the user up, as Better Auth does.
func TestPasswordBounds(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		e := newEnv(t, envOpts{db: kind, authCfg: func(c *auth.Config) {
			c.EmailPassword.MinPasswordLength, c.EmailPassword.MaxPasswordLength = 10, 20
		}})
		adm := e.admin("admin@example.com")
		target := e.signUp("target@example.com")
		tooShort, tooLong := errBody{400, "PASSWORD_TOO_SHORT", "Password too short"}, errBody{400, "PASSWORD_TOO_LONG", "Password too long"}
		notFound := errBody{404, "USER_NOT_FOUND", "User not found"}
		cases := []struct {
			name string
			path string
			body map[string]any
			want errBody // zero: success
		}{
			{"create: over the maximum", "/admin/create-user", map[string]any{"email": "a@example.com", "name": "A", "password": strings.Repeat("x", 21)}, tooLong},
			{"create: the maximum", "/admin/create-user", map[string]any{"email": "b@example.com", "name": "B", "password": strings.Repeat("x", 20)}, errBody{}},
			{"create: no minimum", "/admin/create-user", map[string]any{"email": "c@example.com", "name": "C", "password": "x"}, errBody{}},
			{"set: under the minimum", "/admin/set-user-password", map[string]any{"userId": target.user, "newPassword": "123456789"}, tooShort},
			{"set: over the maximum", "/admin/set-user-password", map[string]any{"userId": target.user, "newPassword": strings.Repeat("x", 21)}, tooLong},
			{"set: unknown user, short password", "/admin/set-user-password", map[string]any{"userId": "nobody", "newPassword": "short"}, tooShort},
			{"set: unknown user, long password", "/admin/set-user-password", map[string]any{"userId": "nobody", "newPassword": strings.Repeat("x", 21)}, tooLong},
			{"set: unknown user", "/admin/set-user-password", map[string]any{"userId": "nobody", "newPassword": "long-enough"}, notFound},
			{"set", "/admin/set-user-password", map[string]any{"userId": target.user, "newPassword": strings.Repeat("y", 20)}, errBody{}},
		}
		for _, tc := range cases {
			r := adm.post(tc.path, tc.body)
			if tc.want == (errBody{}) {
				if r.status != 200 {
					t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
				}
				continue
			}
			if d := cmp.Diff(tc.want, r.err()); d != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, d)
			}
		}
		if r := e.browser().post("/sign-in/email", map[string]any{"email": "target@example.com", "password": strings.Repeat("y", 20)}); r.status != 200 {
			t.Errorf("sign-in with the password set: %d %s", r.status, r.raw)
		}
	})
}

// TestUpdateUserUsername: admin's update-user runs the username plugin's
// BeforeUserUpdate hook, as Better Auth's database hooks do: a username
// is stored normalised, an invalid or taken one is refused with the
// plugin's codes and nothing is written, and the user's own username
// may be given again.
func TestUpdateUserUsername(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, kind string) {
		up, err := username.New(username.Options{ReservedUsernames: []string{"root"}, ImmutableUsername: true})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, envOpts{db: kind, plugins: []auth.Plugin{up}})
		adm := e.admin("admin@example.com")
		target := e.signUp("target@example.com")
		other := e.browser()
		if r := other.post("/sign-up/email", map[string]any{"email": "other@example.com", "password": "password123", "name": "Other", "username": "Taken.Name"}); r.status != 200 {
			t.Fatalf("sign-up: %d %s", r.status, r.raw)
		}
		update := func(data map[string]any) reply {
			return adm.post("/admin/update-user", map[string]any{"userId": target.user, "data": data})
		}
		cases := []struct {
			name    string
			data    map[string]any
			want    errBody // zero: success
			stored  any     // the target's username afterwards
			display any
		}{
			{"mixed case", map[string]any{"username": "Mixed.Case"}, errBody{}, "mixed.case", nil},
			{"too short", map[string]any{"username": "ab", "name": "Changed"}, errBody{400, "USERNAME_TOO_SHORT", "Username is too short"}, "mixed.case", nil},
			{"invalid", map[string]any{"username": "no spaces"}, errBody{400, "INVALID_USERNAME", "Username is invalid"}, "mixed.case", nil},
			{"taken", map[string]any{"username": "TAKEN.name"}, errBody{400, "USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another."}, "mixed.case", nil},
			{"reserved", map[string]any{"username": "Root"}, errBody{400, "USERNAME_IS_ALREADY_TAKEN", "Username is already taken. Please try another."}, "mixed.case", nil},
			{"hidden characters in the display username", map[string]any{"displayUsername": "A\u202eB"}, errBody{400, "INVALID_DISPLAY_USERNAME", "Display username is invalid"}, "mixed.case", nil},
			{"its own again", map[string]any{"username": "MIXED.case", "displayUsername": "MIXED.case"}, errBody{}, "mixed.case", "MIXED.case"},
			{"an admin may change an immutable one", map[string]any{"username": "New_Name"}, errBody{}, "new_name", "MIXED.case"},
			{"cleared", map[string]any{"username": nil}, errBody{}, nil, "MIXED.case"},
		}
		for _, tc := range cases {
			r := update(tc.data)
			if tc.want == (errBody{}) {
				if r.status != 200 {
					t.Errorf("%s: %d %s", tc.name, r.status, r.raw)
				} else if got := r.body["username"]; got != tc.stored {
					t.Errorf("%s: answered username %v, want %v", tc.name, got, tc.stored)
				}
			} else if d := cmp.Diff(tc.want, r.err()); d != "" {
				t.Errorf("%s (-want +got):\n%s", tc.name, d)
			}
			u := e.user(target.user)
			if u.Extra["username"] != tc.stored || u.Extra["displayUsername"] != tc.display || u.Name != "Target" {
				t.Errorf("%s: stored username %v, displayUsername %v, name %q; want %v, %v, Target",
					tc.name, u.Extra["username"], u.Extra["displayUsername"], u.Name, tc.stored, tc.display)
			}
		}
	})
}

// TestSignUpBanFields: the user that sign-up answers shows the plugin's
// fields no hook set as null (banReason, banExpires), as Better Auth's
// does.
func TestSignUpBanFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: admin.Options{}})
	r := e.browser().post("/sign-up/email", map[string]any{"email": "new@example.com", "password": "password123", "name": "New"})
	if r.status != 200 {
		t.Fatalf("sign-up: %d %s", r.status, r.raw)
	}
	u := r.obj("user")
	got := map[string]any{}
	for _, k := range []string{"role", "banned", "banReason", "banExpires"} {
		v, ok := u[k]
		if !ok {
			v = "(absent)"
		}
		got[k] = v
	}
	if d := cmp.Diff(map[string]any{"role": "user", "banned": false, "banReason": nil, "banExpires": nil}, got); d != "" {
		t.Errorf("sign-up's user (-want +got):\n%s", d)
	}
}
