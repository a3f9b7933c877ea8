//go:build !purego

package scrypt

// The NEON kernel (salsa_arm64.s, hand-written; see its header for the
// register layout). Both functions have the semantics of the amd64 ones
// (blockMixSSE2, blockMixXORSSE2) and rely on the same checks by their Go
// callers (checked, checkedXOR).

// blockMixNEON sets out to BlockMix(in) with Salsa20/8 (NEON):
// in and out hold 2*r 64-byte blocks in the diagonal word order, r >= 1,
// and out does not overlap in.
//
//go:noescape
func blockMixNEON(in []uint32, out []uint32, r int)

// blockMixXORNEON sets out to BlockMix(in xor vj) with Salsa20/8 (NEON):
// in, vj and out hold 2*r 64-byte blocks in the diagonal word order,
// r >= 1, and out overlaps neither in nor vj.
//
//go:noescape
func blockMixXORNEON(in []uint32, vj []uint32, out []uint32, r int)
