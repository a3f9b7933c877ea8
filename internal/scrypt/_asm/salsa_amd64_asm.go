// Command _asm generates package scrypt's amd64 assembly (salsa_amd64.s)
// and its Go declarations (salsa_amd64.go) with avo: scrypt's BlockMix
// with Salsa20/8 (RFC 7914 sections 3 and 4), once with SSE2 and once with
// AVX-512 (AVX512F and AVX512VL, on 128-bit registers). It is a module of
// its own so that avo stays out of the main module's dependencies. Run it
// from this directory:
//
//	go generate
//
// Package scrypt's TestAsmUpToDate runs it and compares its output with
// the committed files.
//
// # Layout
//
// The 16 words of a Salsa20 state sit in four XMM registers in the
// diagonal order of Colin Percival's crypto_scrypt-sse.c (and libsodium's
// SSE scrypt):
//
//	X0 = x0  x5  x10 x15
//	X1 = x4  x9  x14 x3
//	X2 = x8  x13 x2  x7
//	X3 = x12 x1  x6  x11
//
// so that each half-round is four vector steps over the four columns (or
// rows) at once, with three PSHUFDs to turn columns into rows and back.
// Package scrypt keeps every 64-byte block of V, X and Y in that order
// (word i of a stored block is the RFC's word 5*i mod 16), so blocks load
// and store with plain 16-byte moves; only the conversion of B at the start
// and end of smix and Integerify (which reads words 0 and 13) know about
// it. Xoring blocks is word by word and so unaffected.
//
// # Functions
//
//	blockMix<ISA>(in, out []uint32, r int)          // out = BlockMix(in)
//	blockMixXOR<ISA>(in, vj, out []uint32, r int)   // out = BlockMix(in xor vj)
//
// in, vj and out hold 2*r blocks (32*r words) in the diagonal order, and
// out overlaps neither in nor vj; the Go callers check the lengths and r >=
// 1. As in the RFC, the even results go to out's first half, the odd ones
// to its second half. The running state X stays in X0-X3 from one block to
// the next, X8-X11 keep the Salsa20/8 input for the final addition.
//
// # Speed
//
// The Salsa20/8 steps form one serial chain (each step reads the previous
// one's result, and each block's input is the previous block's output), so
// what counts is the latency of a step, x ^= (a+b) <<< k: with SSE2 an
// add, two shifts side by side and two xors, four cycles deep; with
// AVX-512 an add, the two shifts and one VPTERNLOGD that xors all three,
// three cycles. (VPROLD rotates in one instruction but has a latency of
// two cycles on AMD Zen 4, so add, VPROLD and xor take four.) A Salsa20/8
// of 32 steps thus takes about 130 cycles with SSE2 and 100 with AVX-512.
// AVX and AVX2 add no rotate: a VEX-encoded variant measured the same as
// SSE2, and AVX2's 256-bit registers could only run two independent
// lanes, which scrypt has only when p > 1, so neither is generated.
//
// Beside the chain, the cost is memory: blockMixXOR prefetches V_j
// prefetchAhead lines ahead of its use, so that mostly only the first of
// its cache misses is waited for (j is known only once the previous
// BlockMix is done, so that one cannot be hidden), and xors in and V_j
// into X with one VPTERNLOGD (AVX-512).
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

//go:generate go run . -out ../salsa_amd64.s -stubs ../salsa_amd64.go -pkg scrypt

// isa emits the vector instructions of one instruction set.
type isa struct {
	name string
	// load sets x to the 16 bytes at m (any alignment).
	load func(m Mem, x VecPhysical)
	// store writes x to the 16 bytes at m (any alignment).
	store func(x VecPhysical, m Mem)
	// xorMem sets x ^= the 16 bytes at m (any alignment), clobbering X6.
	xorMem func(m Mem, x VecPhysical)
	// xor2Mem sets x ^= a ^ b, 16 bytes each (any alignment), clobbering
	// X6 and X7.
	xor2Mem func(a, b Mem, x VecPhysical)
	// mov sets dst = src.
	mov func(src, dst VecPhysical)
	// add sets dst = a + b, addTo dst += a (32-bit lanes).
	add   func(a, b, dst VecPhysical)
	addTo func(a, dst VecPhysical)
	// rotXor sets x ^= t <<< k (32-bit lanes), clobbering t and X5.
	rotXor func(t VecPhysical, k int, x VecPhysical)
	// shuffle permutes x's lanes in place (PSHUFD).
	shuffle func(imm uint8, x VecPhysical)
}

var sse2 = isa{
	name:  "SSE2",
	load:  func(m Mem, x VecPhysical) { MOVOU(m, x) },
	store: func(x VecPhysical, m Mem) { MOVOU(x, m) },
	xorMem: func(m Mem, x VecPhysical) {
		// PXOR's memory operand must be 16-byte aligned; the slices
		// are only sure to be 4-byte aligned.
		MOVOU(m, X6)
		PXOR(X6, x)
	},
	xor2Mem: func(a, b Mem, x VecPhysical) {
		// Two xors on the chain: with AVX-512, x ^= a; x ^= b was
		// faster than x ^= (a xor b) with a xor b computed apart
		// (smix 0.7-1.9 ms), though the chain is one xor shorter.
		MOVOU(a, X6)
		PXOR(X6, x)
		MOVOU(b, X7)
		PXOR(X7, x)
	},
	mov:   func(src, dst VecPhysical) { MOVO(src, dst) },
	add:   func(a, b, dst VecPhysical) { MOVO(a, dst); PADDL(b, dst) },
	addTo: func(a, dst VecPhysical) { PADDL(a, dst) },
	rotXor: func(t VecPhysical, k int, x VecPhysical) {
		MOVO(t, X5)
		PSLLL(U8(k), t)
		PSRLL(U8(32-k), X5)
		PXOR(t, x)
		PXOR(X5, x)
	},
	shuffle: func(imm uint8, x VecPhysical) { PSHUFL(U8(imm), x, x) },
}

var avx512 = isa{
	name:   "AVX512",
	load:   func(m Mem, x VecPhysical) { VMOVDQU(m, x) },
	store:  func(x VecPhysical, m Mem) { VMOVDQU(x, m) },
	xorMem: func(m Mem, x VecPhysical) { VPXOR(m, x, x) },
	xor2Mem: func(a, b Mem, x VecPhysical) {
		// One VPTERNLOGD on the chain rather than two xors.
		VMOVDQU(a, X7)
		VPTERNLOGD(U8(0x96), b, X7, x) // x ^= X7 ^ b
	},
	mov:   func(src, dst VecPhysical) { VMOVDQA(src, dst) },
	add:   func(a, b, dst VecPhysical) { VPADDD(b, a, dst) },
	addTo: func(a, dst VecPhysical) { VPADDD(a, dst, dst) },
	rotXor: func(t VecPhysical, k int, x VecPhysical) {
		VPSLLD(U8(k), t, X5)
		VPSRLD(U8(32-k), t, t)
		VPTERNLOGD(U8(0x96), X5, t, x) // x ^= t ^ X5
	},
	shuffle: func(imm uint8, x VecPhysical) { VPSHUFD(U8(imm), x, x) },
}

// prefetchAhead is how many 64-byte blocks ahead blockMixXOR prefetches
// vj.
const prefetchAhead = 16

func main() {
	ConstraintExpr("!purego")
	for _, s := range []isa{sse2, avx512} {
		blockMix(s, false)
		blockMix(s, true)
	}
	Generate()
}

// blockMix emits blockMix<ISA> or, with xor, blockMixXOR<ISA>.
func blockMix(s isa, xor bool) {
	name := "blockMix" + s.name
	if xor {
		name = "blockMixXOR" + s.name
		TEXT(name, NOSPLIT, "func(in, vj, out []uint32, r int)")
		Pragma("noescape")
		Doc(name+" sets out to BlockMix(in xor vj) with Salsa20/8 ("+s.name+"):",
			"in, vj and out hold 2*r 64-byte blocks in the diagonal word order,",
			"r >= 1, and out overlaps neither in nor vj.")
	} else {
		TEXT(name, NOSPLIT, "func(in, out []uint32, r int)")
		Pragma("noescape")
		Doc(name+" sets out to BlockMix(in) with Salsa20/8 ("+s.name+"):",
			"in and out hold 2*r 64-byte blocks in the diagonal word order, r >= 1,",
			"and out does not overlap in.")
	}

	in := Mem{Base: Load(Param("in").Base(), RSI)}
	var vj Mem
	if xor {
		vj = Mem{Base: Load(Param("vj").Base(), RBX)}
	}
	even := Mem{Base: Load(Param("out").Base(), RDI)}
	r := Load(Param("r"), RCX)

	Comment("The odd results go to out + 64*r.")
	odd := Mem{Base: RDX}
	MOVQ(r, RDX)
	SHLQ(U8(6), RDX)
	ADDQ(RDI, RDX)

	x := [4]VecPhysical{X0, X1, X2, X3}
	if xor {
		Comment("X = the last block of in xor vj's.")
	} else {
		Comment("X = the last block of in.")
	}
	MOVQ(r, RAX)
	SHLQ(U8(7), RAX)
	for i, xi := range x {
		s.load(Mem{Base: RSI, Index: RAX, Scale: 1, Disp: -64 + 16*i}, xi)
		if xor {
			s.xorMem(Mem{Base: RBX, Index: RAX, Scale: 1, Disp: -64 + 16*i}, xi)
		}
	}

	// prefetch asks for the 64 bytes at vj+off, or for vj's last line if
	// that is past it (wasted reads of the next block of V would cost
	// bandwidth), clobbering R11.
	prefetch := func(off int) {
		LEAQ(vj.Offset(off), R11)
		CMPQ(R11, R10)
		CMOVQGT(R10, R11)
		PREFETCHT0(Mem{Base: R11})
	}
	if xor {
		// V_j is a random block of V, most likely in no cache: ask
		// for its first prefetchAhead lines now, and in each round for
		// the line prefetchAhead blocks on, so that their fetches
		// overlap instead of waiting one by one. (Prefetching all 2*r
		// lines up front in a loop measured no faster: the loop cost
		// about what it saved.)
		Commentf("Prefetch vj's first %d lines (R10: its last line).", prefetchAhead)
		LEAQ(Mem{Base: RBX, Index: RAX, Scale: 1, Disp: -64}, R10)
		for l := 0; l < prefetchAhead; l++ {
			prefetch(64 * l)
		}
	}

	Label(name + "_loop")
	for half, dst := range []Mem{even, odd} {
		Commentf("X = Salsa20/8(X xor in[%d]%s) to out's %s half.", half, map[bool]string{true: fmt.Sprintf(" xor vj[%d]", half)}[xor], []string{"first", "second"}[half])
		for i, xi := range x {
			if xor {
				s.xor2Mem(in.Offset(64*half+16*i), vj.Offset(64*half+16*i), xi)
			} else {
				s.xorMem(in.Offset(64*half+16*i), xi)
			}
		}
		if xor {
			prefetch(64 * (half + prefetchAhead))
		}
		salsa8(s, x, dst)
	}
	ADDQ(U32(128), RSI)
	if xor {
		ADDQ(U32(128), RBX)
	}
	ADDQ(U32(64), RDI)
	ADDQ(U32(64), RDX)
	DECQ(RCX)
	JNZ(LabelRef(name + "_loop"))
	RET()
}

// salsa8 sets x to Salsa20/8(x) and stores it at dst.
func salsa8(s isa, x [4]VecPhysical, dst Mem) {
	w := [4]VecPhysical{X8, X9, X10, X11}
	for i := range x {
		s.mov(x[i], w[i])
	}
	x0, x1, x2, x3 := x[0], x[1], x[2], x[3]
	t := X4
	// step sets d ^= (a+b) <<< k.
	step := func(a, b VecPhysical, k int, d VecPhysical) {
		s.add(a, b, t)
		s.rotXor(t, k, d)
	}
	for round := 1; round <= 4; round++ {
		Comment(fmt.Sprintf("Double round %d: columns.", round))
		step(x0, x3, 7, x1)
		step(x1, x0, 9, x2)
		step(x2, x1, 13, x3)
		step(x3, x2, 18, x0)
		s.shuffle(0x93, x1)
		s.shuffle(0x4e, x2)
		s.shuffle(0x39, x3)
		Comment("Rows.")
		step(x0, x1, 7, x3)
		step(x3, x0, 9, x2)
		step(x2, x3, 13, x1)
		step(x1, x2, 18, x0)
		s.shuffle(0x39, x1)
		s.shuffle(0x4e, x2)
		s.shuffle(0x93, x3)
	}
	for i := range x {
		s.addTo(w[i], x[i])
		s.store(x[i], dst.Offset(16*i))
	}
}
