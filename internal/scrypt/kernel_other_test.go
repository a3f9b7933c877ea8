//go:build !amd64 || purego

package scrypt

// wantKernels: no assembly in this build, only pure Go.
func wantKernels() []string { return []string{"go"} }
