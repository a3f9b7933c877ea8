package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImports keeps the verifier importable without the SDK: the
// dependency closure of this package, and of examples/protect-api (a
// service that uses only it), holds the standard library, go-jose and
// this package, nothing else (never auth or storage, nor what they pull
// in: argon2, x/text, database drivers).
func TestImports(t *testing.T) {
	t.Parallel()
	const self = "github.com/managarten/mana-auth/jwt/verify"
	allowedModules := []string{"github.com/go-jose/go-jose/v4"}
	for _, pkg := range []string{self, "github.com/managarten/mana-auth/examples/protect-api"} {
		t.Run(pkg, func(t *testing.T) {
			t.Parallel()
			deps := goListDeps(t, pkg)
			if len(deps) < 10 {
				t.Fatalf("go list -deps %s listed only %d packages: %v", pkg, len(deps), deps)
			}
			var bad []string
			for _, d := range deps {
				switch {
				case d.Standard, d.ImportPath == self, d.ImportPath == pkg:
				case d.Module != nil && slices.Contains(allowedModules, d.Module.Path):
				default:
					bad = append(bad, d.ImportPath)
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s depends on packages outside the standard library, go-jose and jwt/verify:\n\t%s",
					pkg, strings.Join(bad, "\n\t"))
			}
		})
	}
}

type listedPackage struct {
	ImportPath string
	Standard   bool
	Module     *struct{ Path string }
}

// goListDeps runs `go list -deps -json pkg` (go test puts the go command
// that runs it first in PATH).
func goListDeps(t *testing.T, pkg string) []listedPackage {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	cmd := exec.Command(gocmd, "list", "-deps", "-json=ImportPath,Standard,Module", pkg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr.Bytes())
	}
	var deps []listedPackage
	for d := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listedPackage
		if err := d.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		deps = append(deps, p)
	}
	return deps
}
