package docscheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// root is the repository root, relative to this package.
const root = "../.."

// documentedStructs are the roots of the configuration reference in
// docs/USER_GUIDE.md: a package directory and a struct type. The structs
// their fields nest (declared in the same package) are checked too.
var documentedStructs = []struct{ dir, pkg, typ string }{
	{"keyring", "keyring", "Version"},
	{"auth", "auth", "Config"},
	{"plugin", "plugin", "Endpoint"},
	{"plugin", "plugin", "Hooks"},
	{"jwt", "jwt", "Options"},
	{"jwt/verify", "verify", "MiddlewareOptions"},
	{"magiclink", "magiclink", "Options"},
	{"oauth", "oauth", "Config"},
	{"admin", "admin", "Options"},
	{"apikey", "apikey", "Options"},
	{"emailotp", "emailotp", "Options"},
	{"username", "username", "Options"},
	{"multisession", "multisession", "Options"},
	{"openapi", "openapi", "Options"},
	{"oauth", "oauth", "AppleConfig"},
	{"oauth", "oauth", "MicrosoftConfig"},
	{"oauth", "oauth", "GitLabConfig"},
	{"twofactor", "twofactor", "Options"},
	{"org", "org", "Options"},
	{"passkey", "passkey", "Options"},
	{"vault", "vault", "Options"},
	{"vault", "vault", "HandlerOptions"},
	{"ratelimit", "ratelimit", "Rule"},
}

// parseDir parses the non-test Go files of a package directory.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// structTypes returns the package's struct types by name.
func structTypes(files []*ast.File) map[string]*ast.StructType {
	out := map[string]*ast.StructType{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok {
				if st, ok := ts.Type.(*ast.StructType); ok {
					out[ts.Name.Name] = st
				}
			}
			return true
		})
	}
	return out
}

// namedTypes returns the local type names a field type mentions through
// pointers, slices, arrays and maps (not through func signatures).
func namedTypes(e ast.Expr) []string {
	switch x := e.(type) {
	case *ast.Ident:
		return []string{x.Name}
	case *ast.StarExpr:
		return namedTypes(x.X)
	case *ast.ArrayType:
		return namedTypes(x.Elt)
	case *ast.MapType:
		return append(namedTypes(x.Key), namedTypes(x.Value)...)
	}
	return nil
}

// exportedFields returns the exported field names of st in order.
func exportedFields(st *ast.StructType) []string {
	var out []string
	for _, f := range st.Fields.List {
		for _, n := range f.Names {
			if n.IsExported() {
				out = append(out, n.Name)
			}
		}
	}
	return out
}

// section returns the lines of doc after the first heading that contains
// needle, up to the next heading, and whether there was one.
func section(doc, needle string) ([]string, bool) {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") && strings.Contains(l, needle) {
			var out []string
			for _, m := range lines[i+1:] {
				if strings.HasPrefix(m, "#") {
					break
				}
				out = append(out, m)
			}
			return out, true
		}
	}
	return nil, false
}

var rowName = regexp.MustCompile("^\\|\\s*`([A-Za-z_][A-Za-z0-9_]*)`")

// tableNames returns the names in the first column of the table rows
// among lines (rows whose first cell is a `code` name).
func tableNames(lines []string) []string {
	var out []string
	for _, l := range lines {
		if m := rowName.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfigReference checks the configuration reference of
// docs/USER_GUIDE.md against the structs.
func TestConfigReference(t *testing.T) {
	guide := readDoc(t, "USER_GUIDE.md")
	for _, root := range documentedStructs {
		types := structTypes(parseDir(t, root.dir))
		seen := map[string]bool{}
		queue := []string{root.typ}
		for len(queue) > 0 {
			name := queue[0]
			queue = queue[1:]
			st, ok := types[name]
			if !ok || seen[name] {
				if name == root.typ && !ok {
					t.Errorf("%s.%s: no such struct in %s/", root.pkg, name, root.dir)
				}
				continue
			}
			seen[name] = true
			for _, f := range st.Fields.List {
				for _, n := range namedTypes(f.Type) {
					if _, ok := types[n]; ok && !seen[n] {
						queue = append(queue, n)
					}
				}
			}
			qual := root.pkg + "." + name
			lines, ok := section(guide, "`"+qual+"`")
			if !ok {
				t.Errorf("docs/USER_GUIDE.md has no heading naming `%s` (fields %s)", qual, strings.Join(exportedFields(st), ", "))
				continue
			}
			documented := tableNames(lines)
			fields := exportedFields(st)
			for _, f := range fields {
				if !slices.Contains(documented, f) {
					t.Errorf("docs/USER_GUIDE.md, table under `%s`: field %s is not documented (add a row \"| `%s` | … |\")", qual, f, f)
				}
			}
			for _, d := range documented {
				if !slices.Contains(fields, d) {
					t.Errorf("docs/USER_GUIDE.md, table under `%s`: %s is not a field of %s (any more?)", qual, d, qual)
				}
			}
		}
	}
}

// envVars returns the string literals passed to getenv(…) in a file.
func envVars(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, path), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return true
		}
		if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "getenv" {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if s, err := strconv.Unquote(lit.Value); err == nil {
				set[s] = true
			}
		}
		return true
	})
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestEnvironmentVariables checks the environment table of
// docs/OPERATIONS.md against server/config.go.
func TestEnvironmentVariables(t *testing.T) {
	vars := envVars(t, "server/config.go")
	if len(vars) < 10 {
		t.Fatalf("found only %d getenv calls in server/config.go: %v", len(vars), vars)
	}
	lines, ok := section(readDoc(t, "OPERATIONS.md"), "Environment variables")
	if !ok {
		t.Fatal("docs/OPERATIONS.md has no \"Environment variables\" heading")
	}
	documented := tableNames(lines)
	for _, v := range vars {
		if !slices.Contains(documented, v) {
			t.Errorf("docs/OPERATIONS.md, Environment variables: %s (read in server/config.go) has no row \"| `%s` | … |\"", v, v)
		}
	}
	for _, d := range documented {
		if !slices.Contains(vars, d) {
			t.Errorf("docs/OPERATIONS.md, Environment variables: %s is documented but server/config.go does not read it", d)
		}
	}
}
