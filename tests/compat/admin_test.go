package compat_test

import (
	"context"
	"testing"

	"github.com/managarten/mana-auth/admin"
	"github.com/managarten/mana-auth/auth"
)

// The admin the admin client test starts with.
const (
	compatAdminEmail    = "root@example.com"
	compatAdminPassword = "root-password-123"
)

// TestAdminClient runs admin-client.mjs — Better Auth's client with
// adminClient() — against our server with the admin plugin (default
// options) and one admin, on SQLite and PostgreSQL, then against Better
// Auth: createUser, listUsers (search, filter, sort, paging), getUser,
// updateUser, setRole, banUser (the banned user's sign-in refused with
// BANNED_USER), unbanUser, impersonateUser and stopImpersonating (the
// cookies), listUserSessions, revokeUserSession(s), setUserPassword,
// removeUser, hasPermission, every route as a plain user (403 with the
// route's code) and without a session (401, empty body).
func TestAdminClient(t *testing.T) {
	pluginClientTest{
		script:    "admin-client.mjs",
		reference: "admin",
		env:       []string{"ADMIN_EMAIL=" + compatAdminEmail, "ADMIN_PASSWORD=" + compatAdminPassword},
		start: func(t *testing.T, db string) string {
			adm, err := admin.New(admin.Options{})
			if err != nil {
				t.Fatal(err)
			}
			base, a := startPluginServer(t, db, auth.Config{}, nil, adm)
			ctx := context.Background()
			res, err := a.SignUpEmail(ctx, auth.SignUpInput{Email: compatAdminEmail, Password: compatAdminPassword, Name: "Root"})
			if err != nil {
				t.Fatalf("signing the admin up: %v", err)
			}
			if _, err := adm.SetRole(ctx, nil, res.User.ID, []string{"admin"}); err != nil {
				t.Fatalf("making %s an admin: %v", compatAdminEmail, err)
			}
			return base
		},
	}.run(t)
}
