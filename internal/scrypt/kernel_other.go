//go:build !(amd64 || arm64) || purego

package scrypt

// archKernels returns no kernel: this build has only the portable one.
func archKernels() []*kernel { return nil }
