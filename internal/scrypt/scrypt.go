// Package scrypt is scrypt (RFC 7914) with reused buffers, for Better
// Auth's password hash (auth.ScryptHasher).
//
// Key computes the same function as golang.org/x/crypto/scrypt.Key (which
// the tests use as the reference) but takes its two big buffers, V
// (128*N*r bytes: 32 MiB for Better Auth's N=16384, r=16) and XY (256*r
// bytes), from a cache instead of allocating them on every call:
//
//	key, err := scrypt.Key(password, salt, scrypt.BetterAuthN, scrypt.BetterAuthR,
//		scrypt.BetterAuthP, scrypt.BetterAuthKeyLen)
//
// A fresh 32 MiB allocation per hash costs the runtime's zeroing, page
// faults on new pages, and GC cycles that let the heap grow to about twice
// the buffers in flight; with the cache, the number of V buffers follows
// the number of hashes in flight (bounded by the caller's concurrency gate,
// auth.Config.HashConcurrency) and each is reused. Only Better Auth's size
// (BetterAuthN, BetterAuthR) is cached; other sizes are allocated per call.
// The inner loop also avoids two copies x/crypto makes: BlockMix writes
// V_i straight into V, and the second loop folds X xor V_j into
// BlockMix's Salsa20/8 input.
//
// # Assembly
//
// Nearly all of a hash's time goes to BlockMix with Salsa20/8 (2*N*2*r =
// about a million Salsa20/8 cores per Better Auth hash). On amd64 that is
// assembly, generated with avo by the program in _asm (a module of its
// own, so that avo is no dependency of this one: `go generate` here runs
// it, and TestAsmUpToDate checks the committed salsa_amd64.s and
// salsa_amd64.go against it). It keeps the Salsa20 state in four XMM
// registers in the diagonal word order of Colin Percival's SSE scrypt,
// and V, X and Y hold their 64-byte blocks in that order too (B is
// converted on the way in and out, Integerify reads word 13 for the RFC's
// word 1). There are two versions, chosen at start-up with
// golang.org/x/sys/cpu: AVX-512 (AVX512F and AVX512VL, on 128-bit
// registers) where the CPU has it, and SSE2, which every amd64 has;
// GODEBUG=cpu.avx512f=off makes an AVX-512 CPU take SSE2. With p=1,
// Salsa20/8's 32 steps and BlockMix's blocks are one serial chain, so the
// latency of a step, x ^= (a+b) <<< k, bounds the speed: four cycles with
// SSE2, three with AVX-512, whose VPTERNLOGD xors both halves of the
// rotation into x at once. Wider registers (AVX2) would only help by
// running two lanes side by side, which needs p > 1. The second loop
// prefetches V_j ahead of its use from the moment j is known, and on
// Linux V is backed by transparent huge pages where the kernel allows
// (newVBuffer). On arm64, BlockMix is hand-written NEON assembly
// (salsa_arm64.s, which every arm64 CPU can run) in the same diagonal
// order, a step being VADD, VSHL, VSRI and VEOR; it is tested under
// qemu user-mode emulation (testdata/arm64.sh), and its speed on arm64
// hardware has not been measured (emulated timings mean nothing). On
// other architectures, and with the purego build tag, BlockMix is the
// pure-Go code, as in the standard library's crypto packages. Every
// version computes the same function: the tests compare each one with
// x/crypto, Better Auth's stored hashes, the RFC's vectors and the others
// (TestKernelsMatchGo, FuzzBlockMix, FuzzScryptMatchesXCrypto).
//
// On a 2-core AMD EPYC (Zen 4) guest, one Better Auth hash took 33 ms of
// CPU with AVX-512, 41 ms with SSE2 and 65 ms in pure Go, against 53.5
// ms for Bun's scrypt (BoringSSL), 86 ms for Node 20's (OpenSSL) and 71
// ms for x/crypto's: medians of 21 rounds of testdata/compare-bun.sh,
// which times them side by side, with Bun 1.55-1.68 times as slow as the
// AVX-512 version in every round. Of the 32.5 ms of the best rounds,
// about 28.5 are the serial chain of Salsa20/8 steps (a million cores of
// about 100 cycles at 3.67 GHz), 1.5-2.5 the wait for V_j's first cache
// line in each of the second loop's 16384 rounds, and about 1 the calls
// and V's writes; V's memory traffic alone, without Salsa20/8
// (BenchmarkMemoryFloor), takes 2 ms.
//
// Reused buffers are not zeroed, and that cannot change a result: smix
// writes all of V_0..V_{N-1} in its first loop before the second loop
// reads any of them, and X and Y are written before they are read, so
// stale contents never reach an output, and one caller's state never
// reaches another caller. What a buffer holds after a hash is
// password-derived state: V_0 is a block of B = PBKDF2-HMAC-SHA256(password,
// salt, 1), and every V_i and the final X follow from it by cheap steps
// that need no memory. None of it can be inverted to the password, but
// whoever could read this process's memory could test password guesses
// for that one salt against it faster than scrypt allows. That exposure is
// not new: x/crypto's per-call buffers hold the same state and, once
// garbage, stay unwiped in the heap until the memory is reused, and the
// password string itself cannot be wiped in Go either. The cache keeps that
// kind of residue for no longer (the next hash overwrites it, and an idle
// buffer is let go after cacheIdle). The small buffers that hold the
// final, most directly useful state (B and XY) are cleared after each
// hash; clearing V as well would cost the 32 MiB memclr that reuse
// avoids.
package scrypt

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Better Auth's scrypt parameters (its hashPassword: N=16384, r=16, p=1,
// a 64-byte key). Key keeps the buffers of this (N, r) for reuse.
const (
	BetterAuthN      = 16384
	BetterAuthR      = 16
	BetterAuthP      = 1
	BetterAuthKeyLen = 64
)

var (
	errScryptN      = errors.New("scrypt: N must be a power of 2 greater than 1")
	errScryptParams = errors.New("scrypt: r, p and keyLen must be positive")
	errScryptLarge  = errors.New("scrypt: parameters are too large")
)

// maxV bounds V (128*N*r bytes) beyond the overflow checks shared with
// x/crypto, so that no accepted size makes the allocation itself panic
// ("len out of range") on 64-bit platforms. 1 TiB is far above anything
// that could be computed. keyLen is bounded by PBKDF2's (2^32-1)*32 bytes
// up front, so that a key too long fails before the work, not after.
const maxV = 1 << 40

// scratch holds the V and XY buffers for one (N, r).
type scratch struct {
	v       []uint32 // 32*N*r words
	xy      []uint32 // 64*r words
	release func()   // frees v when it lives outside the Go heap
}

// cache keeps the scratch buffers of Better Auth's parameters
// (BetterAuthN, BetterAuthR) for reuse: every auth.ScryptHasher hash uses
// that size, while other sizes (tests, RFC vectors) are allocated per call
// so that no unusual size is kept alive.
//
// It is not a sync.Pool: the GC empties a sync.Pool within two cycles, and
// under a flood of cheap refused requests GC cycles come many times a
// second, so each hash would again allocate 32 MiB and fault its pages in.
// The cache holds at most cacheMax buffers, as long as hashes keep
// coming, and frees each one after cacheIdle without use, so that a
// server that stops hashing goes back to its small footprint.
//
// Where the platform allows (newVBuffer), V lives outside the Go heap, in
// memory mapped for it alone: the GC lets garbage grow to about the size
// of the live heap before it collects (GOGC=100), so 32 MiB buffers on the
// heap would let every request's garbage pile up to twice their size
// (a sign-in flood reached 240-260 MB of RSS that way, against about 100
// MB off the heap), and an expired buffer goes back to the kernel at once
// instead of waiting for the scavenger.
var cache = scratchCache{max: cacheMax, idle: cacheIdle}

// freshV counts the V buffers of Better Auth's size made so far (a
// test sees the cache work by it).
var freshV atomic.Int64

const (
	// cacheMax is at least auth's hashing gate's default concurrency
	// on small machines; a larger gate still works, its extra hashes
	// allocate.
	cacheMax  = 8
	cacheIdle = time.Second
)

// scratchCache is a LIFO of idle scratch buffers that expire.
type scratchCache struct {
	max  int
	idle time.Duration

	mu    sync.Mutex
	free  []idleScratch // oldest first
	timer *time.Timer   // armed while free is not empty
}

type idleScratch struct {
	s     *scratch
	since time.Time
}

func (c *scratchCache) get() *scratch {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.free)
	if n == 0 {
		return nil
	}
	s := c.free[n-1].s
	c.free[n-1] = idleScratch{}
	c.free = c.free[:n-1]
	return s
}

func (c *scratchCache) put(s *scratch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.free) >= c.max {
		s.release()
		return
	}
	c.free = append(c.free, idleScratch{s, time.Now()})
	if c.timer == nil {
		c.timer = time.AfterFunc(c.idle, c.expire)
	}
}

// expire drops the buffers idle for c.idle and re-arms the timer for the
// oldest one left.
func (c *scratchCache) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	n := 0
	for n < len(c.free) && now.Sub(c.free[n].since) >= c.idle {
		n++
	}
	for _, e := range c.free[:n] {
		e.s.release()
	}
	clear(c.free[:n])
	c.free = append(c.free[:0], c.free[n:]...)
	if len(c.free) == 0 {
		c.timer = nil
		return
	}
	c.timer = time.AfterFunc(c.free[0].since.Add(c.idle).Sub(now), c.expire)
}

// len returns how many buffers are idle in the cache.
func (c *scratchCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.free)
}

func getScratch(N, r int) *scratch {
	if N == BetterAuthN && r == BetterAuthR {
		if s := cache.get(); s != nil {
			return s
		}
		freshV.Add(1)
		v, release := newVBuffer(32 * N * r)
		return &scratch{v: v, xy: make([]uint32, 64*r), release: release}
	}
	return &scratch{v: make([]uint32, 32*N*r), xy: make([]uint32, 64*r), release: func() {}}
}

// putScratch hands s back after a hash; s must not be used again.
func putScratch(s *scratch, N, r int) {
	clear(s.xy)
	if N == BetterAuthN && r == BetterAuthR {
		cache.put(s)
		return
	}
	s.release()
}

// Key returns scrypt(password, salt, N, r, p, keyLen) as defined
// in RFC 7914. N must be a power of 2 greater than 1, r, p and keyLen
// positive, and r*p < 2^30; parameters out of range, or sizes that would
// overflow, are an error (never a panic). It is safe for concurrent use.
func Key(password, salt []byte, N, r, p, keyLen int) ([]byte, error) {
	return key(kernels[0], password, salt, N, r, p, keyLen)
}

// key is Key with BlockMix kernel k.
func key(k *kernel, password, salt []byte, N, r, p, keyLen int) ([]byte, error) {
	if N <= 1 || N&(N-1) != 0 {
		return nil, errScryptN
	}
	if r <= 0 || p <= 0 || keyLen <= 0 {
		return nil, errScryptParams
	}
	if uint64(r)*uint64(p) >= 1<<30 || r > maxInt/128/p || r > maxInt/256 || N > maxInt/128/r ||
		uint64(N)*uint64(r) > maxV/128 || uint64(keyLen) > (1<<32-1)*sha256.Size {
		return nil, errScryptLarge
	}
	pw := string(password)
	// B = PBKDF2-HMAC-SHA256(P, S, 1, p*128*r): p blocks of 128*r bytes.
	b, err := pbkdf2.Key(sha256.New, pw, salt, 1, p*128*r)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	s := getScratch(N, r)
	for i := range p {
		smixWith(k, b[i*128*r:(i+1)*128*r], r, N, s.v, s.xy)
	}
	putScratch(s, N, r)
	return pbkdf2.Key(sha256.New, pw, b, 1, keyLen)
}

const maxInt = int(^uint(0) >> 1)

// The amd64 assembly (salsa_amd64.s and salsa_amd64.go) is generated by
// the avo program in _asm, a module of its own.
//go:generate go -C _asm generate

// A kernel is one implementation of BlockMix, the inner loop of smix.
type kernel struct {
	name string
	// diagonal: the kernel keeps each 64-byte block's words in the
	// diagonal order of the SIMD Salsa20/8 (word i of a stored block is
	// the RFC's word 5*i mod 16), not in the RFC's order.
	diagonal bool
	// mix sets out = BlockMix(in), mixXOR out = BlockMix(in xor vj): in,
	// vj and out are 2*r blocks of 16 words, and out overlaps neither.
	mix    func(in, out []uint32, r int)
	mixXOR func(in, vj, out []uint32, r int)
}

// word1 returns where a block's word 1 (in the RFC's order) is in k's
// order.
func (k *kernel) word1() int {
	if k.diagonal {
		return 13 // 5*13 mod 16 = 1
	}
	return 1
}

// goKernel is the portable BlockMix, the one used on architectures without
// assembly and with the purego build tag.
var goKernel = &kernel{name: "go", mix: blockMixGo, mixXOR: blockMixXORGo}

// kernels lists the BlockMix implementations this CPU can run, the one
// smix uses first; goKernel is always there, last.
var kernels = append(archKernels(), goKernel)

func blockMixGo(in, out []uint32, r int) {
	var tmp [16]uint32
	blockMix(&tmp, in, out, r)
}

func blockMixXORGo(in, vj, out []uint32, r int) {
	var tmp [16]uint32
	blockMixXOR(&tmp, in, vj, out, r)
}

// smixWith is scryptROMix (RFC 7914 section 5) on one 128*r-byte block
// b, in place, with BlockMix kernel k. v holds 32*N*r words and xy 64*r
// words; neither needs to be zeroed.
func smixWith(k *kernel, b []byte, r, N int, v, xy []uint32) {
	R := 32 * r // words per block
	x, y := xy[:R], xy[R:2*R]

	// V_0 = B; V_i = BlockMix(V_{i-1}) written straight into V (no copy
	// of X per step); then X = BlockMix(V_{N-1}).
	loadBlock(v[:R], b, k.diagonal)
	for i := 1; i < N; i++ {
		k.mix(v[(i-1)*R:i*R], v[i*R:(i+1)*R], r)
	}
	k.mix(v[(N-1)*R:N*R], x, r)

	// X = BlockMix(X xor V_j), j = Integerify(X) mod N, N times; the xor
	// is folded into BlockMix. N is even, so X and Y alternate in pairs.
	mask := uint64(N - 1)
	hi := k.word1()
	for i := 0; i < N; i += 2 {
		j := int(integerify(x, r, hi) & mask)
		k.mixXOR(x, v[j*R:(j+1)*R], y, r)
		j = int(integerify(y, r, hi) & mask)
		k.mixXOR(y, v[j*R:(j+1)*R], x, r)
	}

	storeBlock(b, x, k.diagonal)
}

// loadBlock sets x to the little-endian words of b, each 64-byte block's
// words in the diagonal order if diagonal is set.
func loadBlock(x []uint32, b []byte, diagonal bool) {
	if !diagonal {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(b[4*i:])
		}
		return
	}
	for k := 0; k < len(x); k += 16 {
		for i := range 16 {
			x[k+i] = binary.LittleEndian.Uint32(b[4*(k+i*5%16):])
		}
	}
}

// storeBlock is the inverse of loadBlock.
func storeBlock(b []byte, x []uint32, diagonal bool) {
	if !diagonal {
		for i, w := range x {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return
	}
	for k := 0; k < len(x); k += 16 {
		for i := range 16 {
			binary.LittleEndian.PutUint32(b[4*(k+i*5%16):], x[k+i])
		}
	}
}

// integerify returns the first 64 bits of the last 64-byte block of x,
// little-endian (RFC 7914 section 5, Integerify); the block's second word
// is its word hi (1, or 13 in the diagonal order).
func integerify(x []uint32, r, hi int) uint64 {
	j := (2*r - 1) * 16
	return uint64(x[j]) | uint64(x[j+hi])<<32
}

// blockMix is scryptBlockMix (RFC 7914 section 4) with Salsa20/8: in and
// out are 2*r blocks of 16 words and must not overlap. The even results
// go to out's first half, the odd ones to its second half.
func blockMix(tmp *[16]uint32, in, out []uint32, r int) {
	copy(tmp[:], in[(2*r-1)*16:2*r*16])
	for i := range r {
		salsaXOR(tmp, (*[16]uint32)(in[32*i:32*i+16]), (*[16]uint32)(out[16*i:16*i+16]))
		salsaXOR(tmp, (*[16]uint32)(in[32*i+16:32*i+32]), (*[16]uint32)(out[16*(r+i):16*(r+i)+16]))
	}
}

// blockMixXOR is blockMix applied to in xor vj, without writing the xor
// anywhere.
func blockMixXOR(tmp *[16]uint32, in, vj, out []uint32, r int) {
	last := (2*r - 1) * 16
	t, u := (*[16]uint32)(in[last:last+16]), (*[16]uint32)(vj[last:last+16])
	for k := range tmp {
		tmp[k] = t[k] ^ u[k]
	}
	for i := range r {
		salsaXOR2(tmp, (*[16]uint32)(in[32*i:32*i+16]), (*[16]uint32)(vj[32*i:32*i+16]), (*[16]uint32)(out[16*i:16*i+16]))
		salsaXOR2(tmp, (*[16]uint32)(in[32*i+16:32*i+32]), (*[16]uint32)(vj[32*i+16:32*i+32]), (*[16]uint32)(out[16*(r+i):16*(r+i)+16]))
	}
}

// salsaXOR sets tmp and out to Salsa20/8(tmp xor in).
func salsaXOR(tmp, in, out *[16]uint32) {
	for k := range tmp {
		tmp[k] ^= in[k]
	}
	salsa8(tmp, out)
}

// salsaXOR2 sets tmp and out to Salsa20/8(tmp xor a xor b): salsaXOR
// with the xor of V_j folded in.
func salsaXOR2(tmp, a, b, out *[16]uint32) {
	for k := range tmp {
		tmp[k] ^= a[k] ^ b[k]
	}
	salsa8(tmp, out)
}

// salsa8 sets tmp and out to Salsa20/8(tmp) (RFC 7914 section 3).
func salsa8(tmp, out *[16]uint32) {
	w0, w1, w2, w3, w4, w5, w6, w7 := tmp[0], tmp[1], tmp[2], tmp[3], tmp[4], tmp[5], tmp[6], tmp[7]
	w8, w9, w10, w11, w12, w13, w14, w15 := tmp[8], tmp[9], tmp[10], tmp[11], tmp[12], tmp[13], tmp[14], tmp[15]
	x0, x1, x2, x3, x4, x5, x6, x7 := w0, w1, w2, w3, w4, w5, w6, w7
	x8, x9, x10, x11, x12, x13, x14, x15 := w8, w9, w10, w11, w12, w13, w14, w15
	for range 4 { // 8 rounds: a column round and a row round each time
		// Columns.
		x4 ^= bits.RotateLeft32(x0+x12, 7)
		x8 ^= bits.RotateLeft32(x4+x0, 9)
		x12 ^= bits.RotateLeft32(x8+x4, 13)
		x0 ^= bits.RotateLeft32(x12+x8, 18)

		x9 ^= bits.RotateLeft32(x5+x1, 7)
		x13 ^= bits.RotateLeft32(x9+x5, 9)
		x1 ^= bits.RotateLeft32(x13+x9, 13)
		x5 ^= bits.RotateLeft32(x1+x13, 18)

		x14 ^= bits.RotateLeft32(x10+x6, 7)
		x2 ^= bits.RotateLeft32(x14+x10, 9)
		x6 ^= bits.RotateLeft32(x2+x14, 13)
		x10 ^= bits.RotateLeft32(x6+x2, 18)

		x3 ^= bits.RotateLeft32(x15+x11, 7)
		x7 ^= bits.RotateLeft32(x3+x15, 9)
		x11 ^= bits.RotateLeft32(x7+x3, 13)
		x15 ^= bits.RotateLeft32(x11+x7, 18)

		// Rows.
		x1 ^= bits.RotateLeft32(x0+x3, 7)
		x2 ^= bits.RotateLeft32(x1+x0, 9)
		x3 ^= bits.RotateLeft32(x2+x1, 13)
		x0 ^= bits.RotateLeft32(x3+x2, 18)

		x6 ^= bits.RotateLeft32(x5+x4, 7)
		x7 ^= bits.RotateLeft32(x6+x5, 9)
		x4 ^= bits.RotateLeft32(x7+x6, 13)
		x5 ^= bits.RotateLeft32(x4+x7, 18)

		x11 ^= bits.RotateLeft32(x10+x9, 7)
		x8 ^= bits.RotateLeft32(x11+x10, 9)
		x9 ^= bits.RotateLeft32(x8+x11, 13)
		x10 ^= bits.RotateLeft32(x9+x8, 18)

		x12 ^= bits.RotateLeft32(x15+x14, 7)
		x13 ^= bits.RotateLeft32(x12+x15, 9)
		x14 ^= bits.RotateLeft32(x13+x12, 13)
		x15 ^= bits.RotateLeft32(x14+x13, 18)
	}
	x0 += w0
	x1 += w1
	x2 += w2
	x3 += w3
	x4 += w4
	x5 += w5
	x6 += w6
	x7 += w7
	x8 += w8
	x9 += w9
	x10 += w10
	x11 += w11
	x12 += w12
	x13 += w13
	x14 += w14
	x15 += w15
	out[0], tmp[0] = x0, x0
	out[1], tmp[1] = x1, x1
	out[2], tmp[2] = x2, x2
	out[3], tmp[3] = x3, x3
	out[4], tmp[4] = x4, x4
	out[5], tmp[5] = x5, x5
	out[6], tmp[6] = x6, x6
	out[7], tmp[7] = x7, x7
	out[8], tmp[8] = x8, x8
	out[9], tmp[9] = x9, x9
	out[10], tmp[10] = x10, x10
	out[11], tmp[11] = x11, x11
	out[12], tmp[12] = x12, x12
	out[13], tmp[13] = x13, x13
	out[14], tmp[14] = x14, x14
	out[15], tmp[15] = x15, x15
}
