//go:build !purego

package scrypt

// archKernels returns the NEON kernel (salsa_arm64.s). Every arm64 CPU has
// NEON (ASIMD), so there is nothing to check.
func archKernels() []*kernel {
	return []*kernel{{name: "neon", diagonal: true,
		mix: checked(blockMixNEON), mixXOR: checkedXOR(blockMixXORNEON)}}
}
