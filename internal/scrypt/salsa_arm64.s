//go:build !purego

// scrypt's BlockMix with Salsa20/8 (RFC 7914 sections 3 and 4) with NEON
// (ASIMD, which every arm64 CPU has), hand-written. It is the amd64
// kernels of _asm (salsa_amd64.s) on arm64's vector registers: the 16
// words of a Salsa20 state sit in four registers in the diagonal order of
// Colin Percival's SSE scrypt,
//
//	V0 = x0  x5  x10 x15
//	V1 = x4  x9  x14 x3
//	V2 = x8  x13 x2  x7
//	V3 = x12 x1  x6  x11
//
// which is how package scrypt stores every 64-byte block of V, X and Y
// (word i of a block is the RFC's word 5*i mod 16), so a block loads and
// stores with one VLD1/VST1 of four registers. A step x ^= (a+b) <<< k is
// VADD, VSHL $k, VSRI $(32-k) into the same register (the rotation) and
// VEOR, as in golang.org/x/crypto/chacha20's chacha_arm64.s; VEXT rotates
// the lanes between the column and the row half-rounds (PSHUFD on amd64).
//
// Registers: V0-V3 the running state X, V4-V7 the block of in (xored with
// vj's, V16-V19, in blockMixXORNEON), V8-V11 the Salsa20/8 input kept for
// the final addition, V12 and V13 scratch. R1 in, R5 vj, R2 out's first
// half (the even results), R4 out's second half (the odd ones), R3 the
// pairs of blocks left. Nothing prefetches V_j (amd64's blockMixXOR
// does): without arm64 hardware to time it on, it was left out.

#include "textflag.h"

// STEP sets d ^= (a+b) <<< k, clobbering V12 and V13.
#define STEP(a, b, k, d) \
	VADD	a.S4, b.S4, V12.S4 \
	VSHL	$k, V12.S4, V13.S4 \
	VSRI	$(32-k), V12.S4, V13.S4 \
	VEOR	V13.B16, d.B16, d.B16

// DOUBLEROUND is a column round and a row round of Salsa20 on V0-V3.
// VEXT $n rotates a register's lanes down by n/4: $4 is PSHUFD $0x39,
// $8 is $0x4e, $12 is $0x93.
#define DOUBLEROUND \
	STEP(V0, V3, 7, V1) \
	STEP(V1, V0, 9, V2) \
	STEP(V2, V1, 13, V3) \
	STEP(V3, V2, 18, V0) \
	VEXT	$12, V1.B16, V1.B16, V1.B16 \
	VEXT	$8, V2.B16, V2.B16, V2.B16 \
	VEXT	$4, V3.B16, V3.B16, V3.B16 \
	STEP(V0, V1, 7, V3) \
	STEP(V3, V0, 9, V2) \
	STEP(V2, V3, 13, V1) \
	STEP(V1, V2, 18, V0) \
	VEXT	$4, V1.B16, V1.B16, V1.B16 \
	VEXT	$8, V2.B16, V2.B16, V2.B16 \
	VEXT	$12, V3.B16, V3.B16, V3.B16

// SALSA8 sets V0-V3 to Salsa20/8(V0-V3), clobbering V8-V13.
#define SALSA8 \
	VMOV	V0.B16, V8.B16 \
	VMOV	V1.B16, V9.B16 \
	VMOV	V2.B16, V10.B16 \
	VMOV	V3.B16, V11.B16 \
	DOUBLEROUND \
	DOUBLEROUND \
	DOUBLEROUND \
	DOUBLEROUND \
	VADD	V8.S4, V0.S4, V0.S4 \
	VADD	V9.S4, V1.S4, V1.S4 \
	VADD	V10.S4, V2.S4, V2.S4 \
	VADD	V11.S4, V3.S4, V3.S4

// XORIN sets V0-V3 ^= V4-V7.
#define XORIN \
	VEOR	V4.B16, V0.B16, V0.B16 \
	VEOR	V5.B16, V1.B16, V1.B16 \
	VEOR	V6.B16, V2.B16, V2.B16 \
	VEOR	V7.B16, V3.B16, V3.B16

// VJIN sets V4-V7 ^= V16-V19 (in's block xor vj's, off the chain).
#define VJIN \
	VEOR	V16.B16, V4.B16, V4.B16 \
	VEOR	V17.B16, V5.B16, V5.B16 \
	VEOR	V18.B16, V6.B16, V6.B16 \
	VEOR	V19.B16, V7.B16, V7.B16

// func blockMixNEON(in, out []uint32, r int)
TEXT ·blockMixNEON(SB), NOSPLIT, $0-56
	MOVD	in_base+0(FP), R1
	MOVD	out_base+24(FP), R2
	MOVD	r+48(FP), R3

	// The odd results go to out + 64*r.
	ADD	R3<<6, R2, R4

	// X = the last block of in, at in + 128*r - 64.
	ADD	R3<<7, R1, R5
	SUB	$64, R5, R5
	VLD1	(R5), [V0.S4, V1.S4, V2.S4, V3.S4]

neonLoop:
	// X = Salsa20/8(X xor in[0]) to out's first half.
	VLD1.P	64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	XORIN
	SALSA8
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R2)

	// X = Salsa20/8(X xor in[1]) to out's second half.
	VLD1.P	64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	XORIN
	SALSA8
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R4)

	SUB	$1, R3, R3
	CBNZ	R3, neonLoop
	RET

// func blockMixXORNEON(in, vj, out []uint32, r int)
TEXT ·blockMixXORNEON(SB), NOSPLIT, $0-80
	MOVD	in_base+0(FP), R1
	MOVD	vj_base+24(FP), R5
	MOVD	out_base+48(FP), R2
	MOVD	r+72(FP), R3

	// The odd results go to out + 64*r.
	ADD	R3<<6, R2, R4

	// X = the last block of in xor vj's, at 128*r - 64.
	LSL	$7, R3, R6
	SUB	$64, R6, R6
	ADD	R1, R6, R7
	VLD1	(R7), [V0.S4, V1.S4, V2.S4, V3.S4]
	ADD	R5, R6, R7
	VLD1	(R7), [V4.S4, V5.S4, V6.S4, V7.S4]
	XORIN

neonXORLoop:
	// X = Salsa20/8(X xor in[0] xor vj[0]) to out's first half.
	VLD1.P	64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P	64(R5), [V16.S4, V17.S4, V18.S4, V19.S4]
	VJIN
	XORIN
	SALSA8
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R2)

	// X = Salsa20/8(X xor in[1] xor vj[1]) to out's second half.
	VLD1.P	64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P	64(R5), [V16.S4, V17.S4, V18.S4, V19.S4]
	VJIN
	XORIN
	SALSA8
	VST1.P	[V0.S4, V1.S4, V2.S4, V3.S4], 64(R4)

	SUB	$1, R3, R3
	CBNZ	R3, neonXORLoop
	RET
