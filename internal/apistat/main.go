// Command apistat counts the exported API of Go packages: exported
// top-level names (functions, types, variables, constants), exported
// methods, and exported struct fields, from the non-test files of each
// package directory given (default: every package of the module).
//
// It is the measure of issue 18 ("package auth is a grab-bag"):
//
//	go run ./internal/apistat ./auth ./jwt ./org
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// counts is one package's exported API.
type counts struct {
	TopLevel, Methods, Fields int
}

func main() {
	dirs := os.Args[1:]
	if len(dirs) == 0 {
		_ = filepath.WalkDir(".", func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() && (name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".") && p != ".") {
				return filepath.SkipDir
			}
			if d.IsDir() {
				if m, _ := filepath.Glob(filepath.Join(p, "*.go")); len(m) > 0 {
					dirs = append(dirs, p)
				}
			}
			return nil
		})
	}
	sort.Strings(dirs)
	fmt.Printf("%-36s %9s %8s %7s %7s\n", "package", "top-level", "methods", "sum", "fields")
	for _, d := range dirs {
		c, err := count(d)
		if err != nil {
			fmt.Fprintln(os.Stderr, "apistat:", err)
			os.Exit(1)
		}
		if c.TopLevel+c.Methods+c.Fields == 0 {
			continue
		}
		fmt.Printf("%-36s %9d %8d %7d %7d\n", d, c.TopLevel, c.Methods, c.TopLevel+c.Methods, c.Fields)
	}
}

func count(dir string) (counts, error) {
	var c counts
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return c, err
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.PackageClauseOnly|parser.SkipObjectResolution)
		if err != nil {
			return c, err
		}
		if f.Name.Name == "main" {
			continue
		}
		if f, err = parser.ParseFile(fset, name, nil, parser.SkipObjectResolution); err != nil {
			return c, err
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv == nil {
					c.TopLevel++
				} else if exportedRecv(d.Recv) {
					c.Methods++
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if !s.Name.IsExported() {
							continue
						}
						c.TopLevel++
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, f := range st.Fields.List {
								for _, n := range f.Names {
									if n.IsExported() {
										c.Fields++
									}
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								c.TopLevel++
							}
						}
					}
				}
			}
		}
	}
	return c, nil
}

// exportedRecv reports whether a method's receiver type is exported.
func exportedRecv(fl *ast.FieldList) bool {
	t := fl.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.Ident:
			return x.IsExported()
		default:
			return false
		}
	}
}
