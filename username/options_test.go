package username_test

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/plugin/plugintest"
	"github.com/managarten/mana-auth/username"
)

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts username.Options
		want string // in the error; "" for none
	}{
		{"defaults", username.Options{}, ""},
		{"negative min", username.Options{MinUsernameLength: -1}, "must not be negative"},
		{"negative max", username.Options{MaxUsernameLength: -1}, "must not be negative"},
		{"max below min", username.Options{MinUsernameLength: 10, MaxUsernameLength: 5}, "MaxUsernameLength 5 is below MinUsernameLength 10"},
		{"max below the default min", username.Options{MaxUsernameLength: 2}, "MaxUsernameLength 2 is below MinUsernameLength 3"},
		{"unknown order", username.Options{ValidationOrder: username.ValidationOrder{Username: "later"}}, `ValidationOrder "later"`},
		{"unknown display order", username.Options{ValidationOrder: username.ValidationOrder{DisplayUsername: "pre"}}, `ValidationOrder "pre"`},
		{"empty reserved name", username.Options{ReservedUsernames: []string{"admin", ""}}, "empty string among ReservedUsernames"},
	}
	for _, tc := range cases {
		_, err := username.New(tc.opts)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	p, err := username.New(username.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plugintest.CheckErrorCodes(t, p, ".", []plugintest.ErrorCase{
		{Name: "ErrInvalidUsernameOrPassword", Err: username.ErrInvalidUsernameOrPassword, Decl: username.ErrInvalidUsernameOrPassword},
		{Name: "ErrUsernameIsAlreadyTaken", Err: username.ErrUsernameIsAlreadyTaken, Decl: username.ErrUsernameIsAlreadyTaken},
		{Name: "ErrUsernameTooShort", Err: username.ErrUsernameTooShort, Decl: username.ErrUsernameTooShort},
		{Name: "ErrUsernameTooLong", Err: username.ErrUsernameTooLong, Decl: username.ErrUsernameTooLong},
		{Name: "ErrInvalidUsername", Err: username.ErrInvalidUsername, Decl: username.ErrInvalidUsername},
		{Name: "ErrInvalidDisplayUsername", Err: username.ErrInvalidDisplayUsername, Decl: username.ErrInvalidDisplayUsername},
		{Name: "ErrUsernameIsImmutable", Err: username.ErrUsernameIsImmutable, Decl: username.ErrUsernameIsImmutable},
	})
	// The plugin mounts beside every other plugin's codes.
	if _, err := auth.New(auth.Config{BaseURL: "http://localhost:3000", Secret: testSecret}, openDB(t, "memory"), p); err != nil {
		t.Fatal(err)
	}
}

// TestCustomRules: a normalisation that keeps case, validation after
// normalisation, length limits, display-name rules.
func TestCustomRules(t *testing.T) {
	t.Parallel()
	t.Run("case kept", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{opts: username.Options{UsernameNormalization: func(s string) string { return s }}})
		e.signUp("a@example.com", map[string]any{"username": "Ada"})
		e.signUp("b@example.com", map[string]any{"username": "ada"}) // another username
		if d := cmp.Diff(wrongSignIn, e.browser().post("/sign-in/username", map[string]any{"username": "ADA", "password": password}).err()); d != "" {
			t.Errorf("other case (-want +got):\n%s", d)
		}
		b := e.browser()
		if r := b.post("/sign-in/username", map[string]any{"username": "Ada", "password": password}); r.status != 200 || b.sessionUser()["email"] != "a@example.com" {
			t.Errorf("%d %s", r.status, r.raw)
		}
	})
	t.Run("post-normalization", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{opts: username.Options{
			UsernameNormalization: func(s string) string { return strings.ToLower(strings.TrimSpace(s)) },
			ValidationOrder:       username.ValidationOrder{Username: username.PostNormalization},
			MinUsernameLength:     4, MaxUsernameLength: 8,
		}})
		b := e.signUp("a@example.com", map[string]any{"username": "  Ada_L "})
		if d := cmp.Diff(map[string]any{"username": "ada_l", "displayUsername": "  Ada_L "}, names(b.sessionUser())); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
		for body, want := range map[string]errBody{
			" abc ":      at422(tooShort),
			"abcdefghi ": at422(tooLong),
		} {
			if d := cmp.Diff(want, e.browser().post("/is-username-available", map[string]any{"username": body}).err()); d != "" {
				t.Errorf("%q (-want +got):\n%s", body, d)
			}
		}
		if r := e.browser().post("/sign-in/username", map[string]any{"username": " ADA_L", "password": password}); r.status != 200 {
			t.Errorf("sign-in: %d %s", r.status, r.raw)
		}
	})
	t.Run("display rules", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{opts: username.Options{
			DisplayUsernameValidator:     func(s string) bool { return !strings.Contains(s, "admin") },
			DisplayUsernameNormalization: strings.TrimSpace,
			ValidationOrder:              username.ValidationOrder{DisplayUsername: username.PostNormalization},
		}})
		b := e.signUp("a@example.com", map[string]any{"username": "ada_l", "displayUsername": "  Ada  "})
		if d := cmp.Diff(map[string]any{"username": "ada_l", "displayUsername": "Ada"}, names(b.sessionUser())); d != "" {
			t.Errorf("sign-up (-want +got):\n%s", d)
		}
		if d := cmp.Diff(badDisplay, b.post("/update-user", map[string]any{"displayUsername": "the admin"}).err()); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
		if r := b.post("/update-user", map[string]any{"displayUsername": " Ada L "}); r.status != 200 {
			t.Errorf("update: %d %s", r.status, r.raw)
		}
		if got := b.sessionUser()["displayUsername"]; got != "Ada L" {
			t.Errorf("displayUsername %v", got)
		}
		r := e.browser().post("/sign-up/email", map[string]any{"name": "X", "email": "x@example.com", "password": password, "displayUsername": "admin"})
		if d := cmp.Diff(badDisplay, r.err()); d != "" {
			t.Errorf("sign-up (-want +got):\n%s", d)
		}
	})
	t.Run("no displayUsername", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOpts{opts: username.Options{DisableDisplayUsername: true}})
		schema := e.a.Schema()
		if _, ok := schema.Table(plugin.TableUser).Field("displayUsername"); ok {
			t.Error("the schema has displayUsername")
		}
		b := e.browser()
		r := b.post("/sign-up/email", map[string]any{"name": "X", "email": "x@example.com", "password": password, "displayUsername": "Ada_L"})
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.raw)
		}
		var keys []string
		for k := range r.user() {
			if strings.Contains(strings.ToLower(k), "username") {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		if d := cmp.Diff([]string{"username"}, keys); d != "" || r.user()["username"] != "ada_l" {
			t.Errorf("user %v (-want +got keys):\n%s", r.user(), d)
		}
	})
}

// TestGo: the Go API and the hooks on paths other than the routes.
func TestGo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{opts: username.Options{ImmutableUsername: true, ReservedUsernames: []string{"root"}}})
	ctx := context.Background()
	h := e.a.Host()
	create := func(email string, extra map[string]any) (*plugin.User, error) {
		u := &plugin.User{Name: "Go", Email: email, Extra: extra}
		return u, h.CreateUser(ctx, u, nil)
	}
	u, err := create("go@example.com", map[string]any{"username": "Go_User"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]any{"username": "go_user", "displayUsername": "Go_User"}, u.Extra); d != "" {
		t.Errorf("created (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		extra map[string]any
		want  *plugin.Error
	}{
		{map[string]any{"username": "GO_USER"}, username.ErrUsernameIsAlreadyTaken},
		{map[string]any{"username": "root"}, username.ErrUsernameIsAlreadyTaken},
		{map[string]any{"username": "x"}, username.ErrUsernameTooShort},
		{map[string]any{"username": "no way"}, username.ErrInvalidUsername},
		{map[string]any{"username": 7}, username.ErrInvalidUsername},
		{map[string]any{"username": "fine_name", "displayUsername": 7}, username.ErrInvalidDisplayUsername},
	} {
		if _, err := create("other@example.com", tc.extra); !errors.Is(err, tc.want) {
			t.Errorf("CreateUser %v: %v, want %s", tc.extra, err, tc.want.Code)
		}
	}
	plain, err := create("plain@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]any{"username": nil, "displayUsername": nil}, plain.Extra); d != "" {
		t.Errorf("without a username (-want +got):\n%s", d)
	}

	if ok, err := e.p.Available(ctx, "Go_user"); ok || err != nil {
		t.Errorf("Available(taken) = %t, %v", ok, err)
	}
	if ok, err := e.p.Available(ctx, "free_one"); !ok || err != nil {
		t.Errorf("Available(free) = %t, %v", ok, err)
	}
	var pe *plugin.Error
	if _, err := e.p.Available(ctx, "a"); !errors.As(err, &pe) || pe.Code != "USERNAME_TOO_SHORT" || pe.Status != 422 {
		t.Errorf("Available(short) = %v", err)
	}
	if err := e.p.Validate("ok_name"); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := e.p.Validate("no-name"); !errors.Is(err, username.ErrInvalidUsername) {
		t.Errorf("Validate(no-name) = %v", err)
	}

	if _, err := e.p.SetUsername(ctx, plain.ID, "go_user"); !errors.Is(err, username.ErrUsernameIsAlreadyTaken) {
		t.Errorf("SetUsername(taken) = %v", err)
	}
	got, err := e.p.SetUsername(ctx, plain.ID, "Plain_One")
	if err != nil || got.Extra["username"] != "plain_one" {
		t.Fatalf("SetUsername = %v, %v", got, err)
	}
	if _, err := e.p.SetUsername(ctx, plain.ID, "plain_two"); !errors.Is(err, username.ErrUsernameIsImmutable) {
		t.Errorf("SetUsername(immutable) = %v", err)
	}

	res, err := e.p.SignIn(ctx, "GO_USER", "whatever-password", true)
	if !errors.Is(err, username.ErrInvalidUsernameOrPassword) || res != nil {
		t.Errorf("SignIn(no password) = %v, %v", res, err)
	}

	// Export (GDPR) carries the names with the user row; no table of
	// the plugin's holds more.
	exp, err := e.a.ExportUser(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	eu, _ := exp["user"].(*plugin.User)
	if eu == nil || eu.Extra["username"] != "go_user" || eu.Extra["displayUsername"] != "Go_User" {
		t.Errorf("export %v", exp["user"])
	}
}

// TestSyntheticSignUp: with sign-ups that create no session, a taken
// email answers like a new one, username included; a taken username is
// refused either way.
func TestSyntheticSignUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{authCfg: func(c *auth.Config) { c.EmailPassword.RequireEmailVerification = true }})
	e.signUp("ada@example.com", map[string]any{"username": "ada_l"})
	shape := func(email string) map[string]any {
		r := e.browser().post("/sign-up/email", map[string]any{"name": "N", "email": email, "password": password, "username": "New_" + email[:2]})
		if r.status != 200 {
			t.Fatalf("%s: %d %s", email, r.status, r.raw)
		}
		u := r.user()
		return map[string]any{"token": r.body["token"], "username": u["username"], "displayUsername": u["displayUsername"]}
	}
	if d := cmp.Diff(map[string]any{"token": nil, "username": "new_ad", "displayUsername": "New_ad"}, shape("ada@example.com")); d != "" {
		t.Errorf("taken email (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]any{"token": nil, "username": "new_bo", "displayUsername": "New_bo"}, shape("bob@example.com")); d != "" {
		t.Errorf("new email (-want +got):\n%s", d)
	}
	for _, email := range []string{"ada@example.com", "carl@example.com"} {
		r := e.browser().post("/sign-up/email", map[string]any{"name": "N", "email": email, "password": password, "username": "ADA_L"})
		if d := cmp.Diff(taken, r.err()); d != "" {
			t.Errorf("%s with a taken username (-want +got):\n%s", email, d)
		}
	}
}
