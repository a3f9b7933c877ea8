package auth_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// A reset link stops working once the password changed — by another reset
// or by change-password — and a reset ends every session unless
// KeepSessionsOnPasswordReset.
func TestResetLinksAndSessions(t *testing.T) {
	t.Parallel()
	reset := func(t *testing.T, env *emailEnv, _ *auth.AuthResult, newer string) {
		t.Helper()
		if r := env.do(t, "POST", "/api/auth/reset-password", map[string]any{"token": newer, "newPassword": "newer-password"}); r.status != 200 {
			t.Fatalf("reset with the newer link: %d %s", r.status, r.raw)
		}
	}
	for _, tc := range []struct {
		name string
		keep bool
		// between changes the password, given the sign-up and the newer of
		// two reset links, before the older link is used.
		between func(t *testing.T, env *emailEnv, su *auth.AuthResult, newer string)
		// sessionAlive is what becomes of the sign-up's session (nil: not
		// asked).
		sessionAlive *bool
	}{
		{"a newer link was used", false, reset, new(bool)},
		{"a newer link was used, sessions kept", true, reset, ptr(true)},
		{"the password was changed", false, func(t *testing.T, env *emailEnv, su *auth.AuthResult, _ string) {
			r := env.do(t, "POST", "/api/auth/change-password", map[string]any{"currentPassword": "password123", "newPassword": "changed-password"}, su.Cookies...)
			if r.status != 200 {
				t.Fatalf("change-password: %d %s", r.status, r.raw)
			}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newEmailEnv(t, func(c *auth.Config) { c.EmailPassword.KeepSessionsOnPasswordReset = tc.keep })
			ctx := context.Background()
			su, err := env.a.SignUpEmail(ctx, auth.SignUpInput{Name: "R", Email: "r@example.com", Password: "password123"})
			if err != nil {
				t.Fatal(err)
			}
			// A verified address: on an unverified one a reset is a take-over
			// (TestPreHijack), which ends the sessions whatever the setting.
			if _, err := env.a.Host().MarkEmailVerified(ctx, su.User, true); err != nil {
				t.Fatal(err)
			}
			var links []string
			for range 2 {
				env.do(t, "POST", "/api/auth/request-password-reset", map[string]any{"email": "r@example.com"})
				links = append(links, resetToken(t, env.box.last(t).URL))
			}
			tc.between(t, env, su, links[1])
			r := env.do(t, "POST", "/api/auth/reset-password", map[string]any{"token": links[0], "newPassword": "older-password"})
			if r.status != 400 || r.body["code"] != "INVALID_TOKEN" {
				t.Fatalf("the older link afterwards: %d %s, want 400 INVALID_TOKEN", r.status, r.raw)
			}
			if n, _ := env.db.Count(ctx, plugin.TableVerification, storage.Where{Field: "identifier", Op: storage.StartsWith, Value: "reset-password:"}); n != 0 {
				t.Fatalf("%d reset links left", n)
			}
			if tc.sessionAlive != nil {
				session := env.do(t, "GET", "/api/auth/get-session", nil, su.Cookies...)
				if alive := session.body != nil; alive != *tc.sessionAlive {
					t.Fatalf("the sign-up's session after the reset: %s, want alive %v", session.raw, *tc.sessionAlive)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// userFieldPlugin adds a user field the update-user route may not set.
type userFieldPlugin struct{}

func (userFieldPlugin) ID() string { return "user-field" }

func (userFieldPlugin) Schema() storage.Schema {
	return storage.Schema{Tables: []storage.Table{{Name: plugin.TableUser, Fields: []storage.Field{{Name: "role", Type: storage.String}}}}}
}

// update-user refuses a plugin's user field given a value with
// FIELD_NOT_ALLOWED, as Better Auth refuses an input:false field; keys that
// are no field, core fields and falsy values are dropped, and a body left
// with nothing answers Better Auth's code-less "No fields to update".
func TestUpdateUserFieldNotAllowed(t *testing.T) {
	t.Parallel()
	env := newEmailEnvWith(t, nil, userFieldPlugin{})
	su, err := env.a.SignUpEmail(context.Background(), auth.SignUpInput{Name: "U", Email: "u@example.com", Password: "password123"})
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Status int
		Body   map[string]any
	}
	notAllowed := answer{400, map[string]any{"message": "role is not allowed to be set", "code": "FIELD_NOT_ALLOWED"}}
	noFields := answer{400, map[string]any{"message": "No fields to update"}}
	for _, tc := range []struct {
		body map[string]any
		want answer
	}{
		{map[string]any{"role": "admin"}, notAllowed},
		{map[string]any{"name": "New", "role": "admin"}, notAllowed},
		{map[string]any{"role": ""}, noFields},
		{map[string]any{"role": nil}, noFields},
		{map[string]any{"emailVerified": true}, noFields},
		{map[string]any{"foo": 1}, noFields},
		{map[string]any{"email": "x@y.com"}, answer{400, map[string]any{"message": "Email can not be updated", "code": "EMAIL_CAN_NOT_BE_UPDATED"}}},
	} {
		r := env.do(t, "POST", "/api/auth/update-user", tc.body, su.Cookies...)
		if diff := cmp.Diff(tc.want, answer{r.status, r.body}); diff != "" {
			t.Errorf("update-user %v (-want +got):\n%s", tc.body, diff)
		}
	}
	u, err := env.a.Host().FindUserByID(context.Background(), su.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "U" || u.Extra["role"] != nil {
		t.Fatalf("user changed: %+v", u)
	}
}
