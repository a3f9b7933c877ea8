// Package docscheck holds no code, only a test that keeps the
// documentation honest: it parses the Go sources and fails when
// docs/USER_GUIDE.md or docs/OPERATIONS.md miss (or still list) a
// configuration field or an environment variable.
//
// What it checks:
//
//   - every exported field of auth.Config and of the structs it nests
//     (EmailPasswordConfig, SessionConfig, …), and of each plugin's options
//     (jwt.Options, twofactor.Options, …) and of the plugin API's
//     plugin.Endpoint and plugin.Hooks, and of ratelimit.Rule (which
//     auth.RateLimitConfig uses), has a row in the table under the
//     heading naming that struct in docs/USER_GUIDE.md, and no row there
//     names a field that does not exist;
//   - every environment variable read with getenv("…") in server/config.go
//     has a row in the table of the "Environment variables" section of
//     docs/OPERATIONS.md, and every row there is read.
//
// Run it with go test ./internal/docscheck.
package docscheck
