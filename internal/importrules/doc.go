// Package importrules holds no code, only a test that keeps the module's
// layering: it lists the packages with go list -deps -json and fails when
// a package depends, directly or through others, on a package a rule
// forbids it, naming the chain of imports.
//
// The rules are the table rules in importrules_test.go; add a row for a
// new one. Only the packages' own imports count, not their tests'.
//
// Run it with go test ./internal/importrules.
package importrules
