//go:build (amd64 || arm64) && !purego

package scrypt

// checked and checkedXOR wrap an assembly BlockMix (amd64's or arm64's)
// with the checks it relies on: r >= 1 and 2*r blocks in every slice.
func checked(f func(in, out []uint32, r int)) func(in, out []uint32, r int) {
	return func(in, out []uint32, r int) {
		if r < 1 || len(in) != 32*r || len(out) != 32*r {
			panic("scrypt: BlockMix with r < 1 or blocks of the wrong size")
		}
		f(in, out, r)
	}
}

// checkedXOR is checked for a BlockMix with the xor of V_j.
func checkedXOR(f func(in, vj, out []uint32, r int)) func(in, vj, out []uint32, r int) {
	return func(in, vj, out []uint32, r int) {
		if r < 1 || len(in) != 32*r || len(vj) != 32*r || len(out) != 32*r {
			panic("scrypt: BlockMix with r < 1 or blocks of the wrong size")
		}
		f(in, vj, out, r)
	}
}
