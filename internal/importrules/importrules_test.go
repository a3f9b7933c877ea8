package importrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rule forbids the packages matching from (minus those matching except)
// to depend, directly or not, on a package matching forbid. Patterns are
// import paths relative to the module: "storage" is that package,
// "storage/..." it and every package below it, "..." every package of the
// module.
type rule struct {
	from, except, forbid []string
	why                  string
}

// rules are the module's import rules.
var rules = []rule{
	{
		from:   []string{"storage/..."},
		forbid: []string{"auth/..."},
		why:    "storage is below the SDK: auth uses the adapters, never the other way round",
	},
	{
		from:   []string{"..."},
		except: []string{"server/...", "cmd/...", "examples/...", "tests/...", "internal/..."},
		forbid: []string{"server/..."},
		why:    "the libraries must not depend on the reference server",
	},
	{
		from:   []string{"ratelimit/..."},
		forbid: []string{"auth/..."},
		why:    "rate limiting stands alone: auth uses it, never the other way round",
	},
	{
		from:   []string{"plugin/...", "keyring/..."},
		forbid: []string{"auth/..."},
		why:    "the plugin API is below the SDK: auth implements plugin.Host, plugins see nothing of auth's internals",
	},
	{
		from:   []string{"auth/...", "plugin/..."},
		forbid: []string{"jwt/...", "twofactor/...", "magiclink/...", "oauth/...", "org/...", "passkey/...", "vault/...", "admin/...", "apikey/...", "emailotp/...", "username/...", "multisession/...", "openapi/..."},
		why:    "the core knows no plugin by name: plugins are found through the plugin interfaces",
	},
	{
		from:   []string{"jwt/...", "twofactor/...", "magiclink/...", "oauth/...", "org/...", "passkey/...", "vault/...", "admin/...", "apikey/...", "emailotp/...", "username/...", "multisession/...", "openapi/..."},
		forbid: []string{"jwt", "twofactor", "magiclink", "oauth", "org", "passkey", "vault", "admin", "apikey", "emailotp", "username", "multisession", "openapi"},
		why:    "plugins stand alone: each is written on the plugin API only, as a third party would",
	},
	{
		from:   []string{"oauth/...", "admin/...", "apikey/...", "emailotp/...", "username/...", "multisession/...", "openapi/...", "plugin/otp/..."},
		forbid: []string{"auth/..."},
		why:    "the newer plugins are written on the plugin API alone (plugin.Host), as a third party writes a plugin",
	},
	{
		from:   []string{"vault/..."},
		forbid: []string{"storage/postgres/..."},
		why:    "the vault works through the storage API (ScopedTx, RowSecurity), on every adapter; vault's TestImportsNoPostgres also keeps pgx out",
	},
}

// pkg is what the rules need of go list's answer.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Module     *struct{ Path string }
}

// match reports whether path (relative to the module) matches pattern.
func match(pattern, path string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

func matchAny(patterns []string, path string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, path) })
}

// violations returns, for every package of the module (paths relative to
// module, sorted) that breaks a rule, the rule's reason and a chain of
// imports to the forbidden package.
func violations(module string, pkgs []pkg, rules []rule) []string {
	byPath := map[string]pkg{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	rel := func(path string) (string, bool) {
		if path == module {
			return ".", true
		}
		r, ok := strings.CutPrefix(path, module+"/")
		return r, ok
	}
	var out []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok || p.Module == nil || p.Module.Path != module {
			continue
		}
		for _, r := range rules {
			if !matchAny(r.from, from) || matchAny(r.except, from) {
				continue
			}
			for _, d := range p.Deps {
				if to, ok := rel(d); ok && matchAny(r.forbid, to) {
					out = append(out, from+" depends on "+to+" ("+strings.Join(chain(byPath, p.ImportPath, d), " → ")+"): "+r.why)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// chain returns a shortest chain of imports from one package to another.
func chain(byPath map[string]pkg, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var out []string
			for ; p != ""; p = prev[p] {
				out = append(out, p)
			}
			slices.Reverse(out)
			return out
		}
		for _, i := range byPath[p].Imports {
			if _, seen := prev[i]; !seen {
				prev[i] = p
				queue = append(queue, i)
			}
		}
	}
	return []string{from, "…", to}
}

// list runs go list -deps -json on the module's packages.
func list(t *testing.T) (module string, pkgs []pkg) {
	t.Helper()
	out, err := exec.Command("go", "list", "-m").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	module = strings.TrimSpace(string(out))
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Imports,Deps,Module", "./...")
	cmd.Dir = "../.." // the module's root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return module, pkgs
}

// TestImportRules holds the module's packages to the rules.
func TestImportRules(t *testing.T) {
	module, pkgs := list(t)
	var ours int
	for _, p := range pkgs {
		if p.Module != nil && p.Module.Path == module {
			ours++
		}
	}
	if ours < 20 {
		t.Fatalf("go list found only %d packages of %s", ours, module)
	}
	for _, v := range violations(module, pkgs, rules) {
		t.Error(v)
	}
}

// The rules' patterns and the search for violations, on a made-up module.
func TestViolations(t *testing.T) {
	t.Parallel()
	const m = "example.com/m"
	mod := &struct{ Path string }{m}
	pkgs := []pkg{
		{ImportPath: m + "/auth", Imports: []string{m + "/storage"}, Deps: []string{m + "/storage"}, Module: mod},
		{ImportPath: m + "/storage", Module: mod},
		{ImportPath: m + "/storage/bad", Imports: []string{m + "/storage/mid"}, Deps: []string{m + "/auth", m + "/storage", m + "/storage/mid"}, Module: mod},
		{ImportPath: m + "/storage/mid", Imports: []string{m + "/auth"}, Deps: []string{m + "/auth", m + "/storage"}, Module: mod},
		{ImportPath: m + "/storagex", Imports: []string{m + "/auth"}, Deps: []string{m + "/auth", m + "/storage"}, Module: mod},
		{ImportPath: m + "/server", Imports: []string{m + "/auth"}, Deps: []string{m + "/auth", m + "/storage"}, Module: mod},
		{ImportPath: m + "/cmd/x", Imports: []string{m + "/server"}, Deps: []string{m + "/auth", m + "/server", m + "/storage"}, Module: mod},
		{ImportPath: m + "/plugin", Imports: []string{m + "/server"}, Deps: []string{m + "/auth", m + "/server", m + "/storage"}, Module: mod},
		{ImportPath: m, Imports: []string{m + "/plugin"}, Deps: []string{m + "/auth", m + "/plugin", m + "/server", m + "/storage"}, Module: mod},
		{ImportPath: "other.org/lib", Imports: []string{m + "/server"}, Deps: []string{m + "/server"}, Module: &struct{ Path string }{"other.org/lib"}},
	}
	rules := []rule{
		{from: []string{"storage/..."}, forbid: []string{"auth"}, why: "a"},
		{from: []string{"..."}, except: []string{"server/...", "cmd/..."}, forbid: []string{"server/..."}, why: "b"},
	}
	want := []string{
		". depends on server (example.com/m → example.com/m/plugin → example.com/m/server): b",
		"plugin depends on server (example.com/m/plugin → example.com/m/server): b",
		"storage/bad depends on auth (example.com/m/storage/bad → example.com/m/storage/mid → example.com/m/auth): a",
		"storage/mid depends on auth (example.com/m/storage/mid → example.com/m/auth): a",
	}
	if d := cmp.Diff(want, violations(m, pkgs, rules)); d != "" {
		t.Errorf("violations (-want +got):\n%s", d)
	}
}
