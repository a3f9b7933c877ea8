// Package plugintest holds checks that every plugin's tests share, as
// storagetest does for storage adapters.
//
//	func TestErrorCodes(t *testing.T) {
//		plugintest.CheckErrorCodes(t, bookmarks.New(), ".", []plugintest.ErrorCase{
//			{Name: "ErrBookmarkExists", Err: bookmarks.ErrBookmarkExists, Decl: bookmarks.ErrBookmarkExists},
//			{Name: "ErrNotOwner", Err: bookmarks.ErrNotOwner, Decl: auth.ErrUnauthorized}, // the core's code
//		})
//	}
package plugintest

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/managarten/mana-auth/plugin"
)

// ErrorCase is an error a plugin package declares (a package-level
// variable named Name set to plugin.NewError(…)) and Decl, the error that
// declares its code: Err itself, another error of the package with that
// code (the code on another route, with another status or message), or
// the core's error of that code, which the plugin must not declare.
type ErrorCase struct {
	Name      string
	Err, Decl *plugin.Error
}

// CheckErrorCodes checks src.ErrorCodes (plugin.ErrorSource) against
// cases: distinct codes, each with a status and a message; each case's
// code is its declaration's; the package's own declarations are all in
// ErrorCodes, and no core code is; ErrorCodes lists nothing the cases do
// not; and every package-level variable that the non-test Go files in dir
// set to plugin.NewError(…) is a case, so that a new error cannot be left
// undeclared.
func CheckErrorCodes(t *testing.T, src plugin.ErrorSource, dir string, cases []ErrorCase) {
	t.Helper()
	codes := src.ErrorCodes()
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
	for _, c := range cases {
		if !errors.Is(c.Err, c.Decl) {
			t.Errorf("%s: code %s, its declaration's %s", c.Name, c.Err.Code, c.Decl.Code)
		}
		own := slices.ContainsFunc(cases, func(o ErrorCase) bool { return o.Err == c.Decl })
		switch {
		case own && !slices.Contains(codes, c.Decl):
			t.Errorf("%s: ErrorCodes does not declare %s", c.Name, c.Decl.Code)
		case !own && declared[c.Decl.Code]:
			t.Errorf("%s: ErrorCodes declares the core's code %s", c.Name, c.Decl.Code)
		}
	}
	for _, e := range codes {
		if !slices.ContainsFunc(cases, func(c ErrorCase) bool { return c.Decl == e }) {
			t.Errorf("ErrorCodes declares %s, which the cases do not list", e.Code)
		}
	}
	for _, name := range errorVars(t, dir) {
		if !slices.ContainsFunc(cases, func(c ErrorCase) bool { return c.Name == name }) {
			t.Errorf("%s is not among the cases", name)
		}
	}
}

// errorVars returns the package-level variables that the non-test Go
// files in dir set to plugin.NewError(...).
func errorVars(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
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
