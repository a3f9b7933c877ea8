package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/managarten/mana-auth/internal/testproc"
	"github.com/managarten/mana-auth/server"
)

// The command line helps whatever the environment holds, lists every
// command, and names what is wrong with the configuration all at once.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	bad := map[string]string{"AUTH_SECRET": "short", "NODE_ENV": "prod"} // would stop any command
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		out     []string // substrings of the output
		errWant string   // substring of the error; "" for none
	}{
		{"help", []string{"help"}, bad, []string{"serve", "migrate [-dry-run]", "admin grant|revoke", "vault rewrap", "version", "docs/OPERATIONS.md"}, ""},
		{"-h", []string{"-h"}, bad, []string{"admin grant|revoke", "vault rewrap"}, ""},
		{"-help", []string{"-help"}, bad, []string{"admin grant|revoke"}, ""},
		{"--help", []string{"--help"}, bad, []string{"admin grant|revoke"}, ""},
		{"serve -h does not serve", []string{"serve", "-h"}, bad, []string{"mana-auth [serve]", "admin grant|revoke"}, ""},
		{"migrate -h", []string{"migrate", "-h"}, bad, []string{"usage: mana-auth migrate [-dry-run]", "-dry-run"}, ""},
		{"vault -h", []string{"vault", "-h"}, bad, []string{"usage: mana-auth vault rewrap [-batch N]"}, ""},
		{"version", []string{"version"}, bad, []string{"mana-auth ", "go1."}, ""},
		{"openapi -h", []string{"openapi", "-h"}, bad, []string{"usage: mana-auth openapi"}, ""},
		{"openapi", []string{"openapi"}, map[string]string{"DATA_DIR": "/nonexistent/never-created"}, []string{`"openapi": "3.1.1"`,
			`"/sign-in/email"`, `"/admin/list-users"`, `"/api-key/create"`, `"/sign-in/username"`, `"/multi-session/set-active"`}, ""},
		{"openapi without the optional plugins", []string{"openapi"}, map[string]string{"DATA_DIR": "/nonexistent/never-created",
			"DISABLED_PLUGINS": "admin,api-key,email-otp,username,multi-session,open-api"}, []string{`"/sign-in/email"`}, ""},
		{"--version", []string{"--version"}, bad, []string{"mana-auth "}, ""},
		{"-version", []string{"-version"}, bad, []string{"mana-auth "}, ""},
		{"unknown command", []string{"start"}, nil, nil, "commands: serve, migrate, check-db, admin, vault, openapi, version, help"},
		{"NODE_ENV typo", []string{"migrate"}, map[string]string{"NODE_ENV": "prod"}, nil, `NODE_ENV: "prod" is not one of development, production, test`},
		{"production names every missing variable", []string{"migrate"}, map[string]string{"NODE_ENV": "production"}, nil,
			"BASE_URL: is required"},
		{"not PostgreSQL", []string{"migrate"}, map[string]string{"DATABASE_URL": "mysql://u:p@db/mana"}, nil, `"mysql" databases are not supported`},
		{"no scheme", []string{"migrate"}, map[string]string{"DATABASE_URL": "postgres//bad"}, nil, "DATABASE_URL: must be a PostgreSQL URL"},
		{"misspelt OAUTH_ variable", []string{"migrate"}, map[string]string{"OAUTH_GOOGLE_CLIENTID": "g-id"}, nil,
			"OAUTH_GOOGLE_CLIENTID: is not a variable mana-auth reads"},
		{"Apple half configured, in one line", []string{"migrate"}, map[string]string{"OAUTH_APPLE_CLIENT_ID": "how.mana.web"}, nil,
			"OAUTH_APPLE_TEAM_ID: is required when OAUTH_APPLE_CLIENT_ID is set (the Apple developer team id); OAUTH_APPLE_KEY_ID: is required"},
		{"a generic provider without its client id", []string{"migrate"}, map[string]string{"OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL": "https://sso.example.com/"}, nil,
			"OAUTH_OIDC_LOCAL_OIDC_CLIENT_ID: is required when OAUTH_OIDC_LOCAL_OIDC_DISCOVERY_URL is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := run(tc.args, environOf(tc.env), &out)
			switch {
			case tc.errWant == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.errWant != "" && (err == nil || !strings.Contains(oneLine(err), tc.errWant)):
				t.Fatalf("error %v, want one containing %q", err, tc.errWant)
			}
			for _, s := range tc.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// environOf is m as os.Environ would list it.
func environOf(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// NODE_ENV=production alone reports every missing variable in one line.
func TestMissingVariablesInOneLine(t *testing.T) {
	t.Parallel()
	err := run([]string{"migrate"}, environOf(map[string]string{"NODE_ENV": "production"}), &bytes.Buffer{})
	line := oneLine(err)
	for _, v := range []string{"BASE_URL", "MANA_SERVICE_KEY", "SMTP_HOST", "MANA_AUTH_KEK", "AUTH_SECRET"} {
		if !strings.Contains(line, v+": ") {
			t.Errorf("%q does not name %s", line, v)
		}
	}
	if strings.Contains(line, "\n") || strings.Count(line, "; ") != 4 {
		t.Errorf("not one line of five: %q", line)
	}
}

// A dry run writes nothing: no data directory, no database file, no
// generated secret; a bad DATABASE_URL stops before anything is written.
func TestDryRunAndBadURLWriteNothing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantOut string
	}{
		{"migrate -dry-run on a fresh DATA_DIR", []string{"migrate", "-dry-run"}, nil, "CREATE TABLE"},
		{"a bad DATABASE_URL", []string{"serve"}, map[string]string{"DATABASE_URL": "postgres//bad"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			env := map[string]string{"DATA_DIR": dir}
			for k, v := range tc.env {
				env[k] = v
			}
			var out bytes.Buffer
			err := run(tc.args, environOf(env), &out)
			if tc.wantOut != "" && (err != nil || !strings.Contains(out.String(), tc.wantOut)) {
				t.Fatalf("output %q, error %v", out.String(), err)
			}
			if tc.wantOut == "" && err == nil {
				t.Fatal("no error")
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s exists (%v): the command wrote to it", dir, err)
			}
		})
	}
}

// Without HOST a development server listens on loopback only, a
// production server on every interface; HOST chooses.
func TestListenAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  server.Config
		want func(ip net.IP) bool
	}{
		{"development", server.Config{}, func(ip net.IP) bool { return ip.IsLoopback() }},
		{"production", server.Config{Production: true}, func(ip net.IP) bool { return ip.IsUnspecified() }},
		{"HOST=127.0.0.1 in production", server.Config{Production: true, Host: "127.0.0.1"}, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A port found free can be taken by another test process
			// before it is bound: try a few.
			var lns []net.Listener
			var err error
			for range 5 {
				tc.cfg.Port = testproc.FreePort(t)
				if lns, err = listen(tc.cfg); err == nil || !errors.Is(err, syscall.EADDRINUSE) {
					break
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, ln := range lns {
					ln.Close()
				}
			}()
			if len(lns) == 0 {
				t.Fatal("no listener")
			}
			for _, ln := range lns {
				if ip := ln.Addr().(*net.TCPAddr).IP; !tc.want(ip) {
					t.Errorf("listening on %s", ln.Addr())
				}
			}
		})
	}
}

// TestMain lets a test run the command itself: with MANA_AUTH_TEST_MAIN
// set, the test binary is mana-auth.
func TestMain(m *testing.M) {
	if os.Getenv("MANA_AUTH_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// An unreachable REDIS_URL stops the start with one line, not with the
// driver's retries printed first.
func TestUnreachableRedisIsOneLine(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(os.Environ(), "MANA_AUTH_TEST_MAIN=1", "REDIS_URL=redis://127.0.0.1:1",
		"DATA_DIR="+t.TempDir(), "PORT=1", "NODE_ENV=development")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started with an unreachable Redis:\n%s", out)
	}
	var redisLines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "redis:") {
			redisLines = append(redisLines, l)
		}
	}
	if len(redisLines) != 1 || !strings.HasPrefix(redisLines[0], "mana-auth: REDIS_URL: ") {
		t.Fatalf("lines about Redis: %q\nall output:\n%s", redisLines, out)
	}
}
