package vault_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/vault"
)

// errorCase is an error the package declares with plugin.NewError and the
// declaration of its code: the error itself, another error of the
// package with that code (the code on another route, with another status
// or message), or the core's error of that code, which the plugin must
// not declare.
type errorCase struct {
	name      string
	err, decl *plugin.Error
}

// TestErrorCodes checks ErrorCodes (plugin.ErrorSource): distinct codes,
// each with a status and a message, covering every error of the package.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	codes := vault.New(vault.Options{}).ErrorCodes()
	declared := map[string]bool{}
	for _, e := range codes {
		switch {
		case e == nil:
			t.Fatal("ErrorCodes holds nil")
		case e.Code == "" || e.Status == 0 || e.Message == "":
			t.Errorf("%+v: code, status and message must be set", *e)
		case declared[e.Code]:
			t.Errorf("code %s declared twice", e.Code)
		}
		declared[e.Code] = true
	}

	tests := []errorCase{
		{"ErrNotInitialised", vault.ErrNotInitialised, vault.ErrNotInitialised},
		{"ErrZKRotateForbidden", vault.ErrZKRotateForbidden, vault.ErrZKRotateForbidden},
		{"ErrZKActive", vault.ErrZKActive, vault.ErrZKActive},
		{"ErrZKActiveReplace", vault.ErrZKActiveReplace, vault.ErrZKActive},
		{"ErrRecoveryWrapMissing", vault.ErrRecoveryWrapMissing, vault.ErrRecoveryWrapMissing},
		{"ErrBadRequest", vault.ErrBadRequest, auth.ErrBadRequest},
		{"ErrUnwrapFailed", vault.ErrUnwrapFailed, vault.ErrUnwrapFailed},
		{"ErrKEKNotConfigured", vault.ErrKEKNotConfigured, vault.ErrKEKNotConfigured},
		{"ErrKEKMismatch", vault.ErrKEKMismatch, vault.ErrKEKMismatch},
		{"ErrKEKUnavailable", vault.ErrKEKUnavailable, vault.ErrKEKUnavailable},
		{"ErrConcurrentUpdate", vault.ErrConcurrentUpdate, vault.ErrConcurrentUpdate},
		{"ErrUnknownUser", vault.ErrUnknownUser, auth.ErrUserNotFound},
		{"ErrUnauthenticated", vault.ErrUnauthenticated, auth.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.decl) {
				t.Fatalf("code %s, its declaration's %s", tt.err.Code, tt.decl.Code)
			}
			own := slices.ContainsFunc(tests, func(c errorCase) bool { return c.err == tt.decl })
			switch {
			case own && !slices.Contains(codes, tt.decl):
				t.Errorf("ErrorCodes does not declare %s", tt.decl.Code)
			case !own && declared[tt.decl.Code]:
				t.Errorf("ErrorCodes declares the core's code %s", tt.decl.Code)
			}
		})
	}
	for _, e := range codes {
		if !slices.ContainsFunc(tests, func(tt errorCase) bool { return tt.decl == e }) {
			t.Errorf("ErrorCodes declares %s, which the table does not list", e.Code)
		}
	}
	for _, name := range errorVars(t) {
		if !slices.ContainsFunc(tests, func(tt errorCase) bool { return tt.name == name }) {
			t.Errorf("%s is not in the table", name)
		}
	}
}

// errorVars returns the package-level variables that the package's
// non-test files set to plugin.NewError(...).
func errorVars(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if i < len(vs.Values) && isNewError(vs.Values[i]) {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	return names
}

func isNewError(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "plugin" && sel.Sel.Name == "NewError"
}
