//go:build !purego

package scrypt

// wantKernels: NEON, which every arm64 CPU has, then pure Go.
func wantKernels() []string { return []string{"neon", "go"} }
