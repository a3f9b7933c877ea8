//go:build !purego

package scrypt

import "golang.org/x/sys/cpu"

// wantKernels: AVX-512 where the CPU (and OS) has AVX512F and AVX512VL,
// SSE2 always, then pure Go.
func wantKernels() []string {
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		return []string{"avx512", "sse2", "go"}
	}
	return []string{"sse2", "go"}
}
