//go:build !(amd64 || arm64) || purego

package scrypt

// wantKernels: no assembly in this build, only pure Go.
func wantKernels() []string { return []string{"go"} }
