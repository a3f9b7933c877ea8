package scrypt

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	xscrypt "golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

// x/crypto's scrypt is the reference throughout; production code does not
// import it. Better Auth's own hashes (auth/testdata/betterauth-vectors.json)
// are the reference for its parameters.

// raceBuild reports whether the test binary was built with -race, where
// scrypt is about ten times slower.
func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// leWords reads b as little-endian 32-bit words.
func leWords(b []byte) []uint32 {
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w
}

func junk(n int, seed uint64) []uint32 {
	rng := rand.New(rand.NewPCG(seed, 0x5c))
	w := make([]uint32, n)
	for i := range w {
		w[i] = rng.Uint32()
	}
	return w
}

// RFC 7914 sections 8 (Salsa20/8 core), 9 (BlockMix, r=1) and 10 (ROMix,
// r=1, N=16).
const (
	rfcSalsaIn = `7e879a214f3ec9867ca940e641718f26 baee555b8c61c1b50df846116dcd3b1d
		ee24f319df9b3d8514121e4b5ac5aa32 76021d2909c74829edebc68db8b8c25e`
	rfcSalsaOut = `a41f859c6608cc993b81cacb020cef05 044b2181a2fd337dfd7b1c6396682f29
		b4393168e3c9e6bcfe6bc5b7a06d96ba e424cc102c91745c24ad673dc7618f81`
	rfcMixIn = `f7ce0b653d2d72a4108cf5abe912ffdd 777616dbbb27a70e8204f3ae2d0f6fad
		89f68f4811d1e87bcc3bd7400a9ffd29 094f0184639574f39ae5a1315217bcd7
		894991447213bb226c25b54da86370fb cd984380374666bb8ffcb5bf40c254b0
		67d27c51ce4ad5fed829c90b505a571b 7f4d1cad6a523cda770e67bceaaf7e89`
	rfcBlockMixOut = `a41f859c6608cc993b81cacb020cef05 044b2181a2fd337dfd7b1c6396682f29
		b4393168e3c9e6bcfe6bc5b7a06d96ba e424cc102c91745c24ad673dc7618f81
		20edc975323881a80540f64c162dcd3c 21077cfe5f8d5fe2b1a4168f953678b7
		7d3b3d803b60e4ab920996e59b4d53b6 5d2a225877d5edf5842cb9f14eefe425`
	rfcROMixOut = `79ccc193629debca047f0b70604bf6b6 2ce3dd4a9626e355fafc6198e6ea2b46
		d58413673b99b029d665c357601fb426 a0b2f4bba200ee9f0a43d19b571a9c71
		ef1142e65d5a266fddca832ce59faa7c ac0b9cf1be2bffca300d01ee387619c4
		ae12fd4438f203a0e4e1c47ec314861f 4e9087cb33396a6873e8f9d2539a4b8e`
)

func TestScryptRFC7914Components(t *testing.T) {
	t.Parallel()
	t.Run("Salsa20/8", func(t *testing.T) {
		var tmp, out [16]uint32 // tmp zero: salsaXOR(0, in) = Salsa20/8(in)
		salsaXOR(&tmp, (*[16]uint32)(leWords(unhex(t, rfcSalsaIn))), &out)
		if want := leWords(unhex(t, rfcSalsaOut)); !equalWords(out[:], want) || tmp != out {
			t.Errorf("Salsa20/8 = %08x (tmp %08x), want %08x", out, tmp, want)
		}
		// salsaXOR2 with the input split over two xor operands.
		in := leWords(unhex(t, rfcSalsaIn))
		mask := junk(16, 1)
		a := make([]uint32, 16)
		for i := range a {
			a[i] = in[i] ^ mask[i]
		}
		tmp, out = [16]uint32{}, [16]uint32{}
		salsaXOR2(&tmp, (*[16]uint32)(a), (*[16]uint32)(mask), &out)
		if want := leWords(unhex(t, rfcSalsaOut)); !equalWords(out[:], want) || tmp != out {
			t.Errorf("salsaXOR2 = %08x, want %08x", out, want)
		}
	})
	t.Run("BlockMix", func(t *testing.T) {
		in := leWords(unhex(t, rfcMixIn))
		want := leWords(unhex(t, rfcBlockMixOut))
		var tmp [16]uint32
		out := junk(32, 2)
		blockMix(&tmp, in, out, 1)
		if !equalWords(out, want) {
			t.Errorf("BlockMix = %08x, want %08x", out, want)
		}
		// blockMixXOR(in^m, m) is BlockMix(in).
		m := junk(32, 3)
		inm := make([]uint32, 32)
		for i := range inm {
			inm[i] = in[i] ^ m[i]
		}
		out = junk(32, 4)
		blockMixXOR(&tmp, inm, m, out, 1)
		if !equalWords(out, want) {
			t.Errorf("blockMixXOR = %08x, want %08x", out, want)
		}
	})
	for _, k := range kernels {
		t.Run("ROMix/"+k.name, func(t *testing.T) {
			b := unhex(t, rfcMixIn)
			// Dirty scratch: smix must not depend on V's or XY's old contents.
			smixWith(k, b, 1, 16, junk(32*16, 5), junk(64, 6))
			if want := unhex(t, rfcROMixOut); !bytes.Equal(b, want) {
				t.Errorf("ROMix = %x, want %x", b, want)
			}
		})
	}
}

func equalWords(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestScryptRFC7914Vectors: RFC 7914 section 12. The N=1048576 vector
// needs 1 GiB and seconds of CPU; it runs only without -short and -race.
func TestScryptRFC7914Vectors(t *testing.T) {
	// Not parallel: real scrypt work (32 MiB and ~50 ms a hash, ~1 s under -race).
	tests := []struct {
		password, salt string
		N, r, p        int
		want           string
	}{
		{"", "", 16, 1, 1, `77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442
			fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906`},
		{"password", "NaCl", 1024, 8, 16, `fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162
			2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640`},
		{"pleaseletmein", "SodiumChloride", 16384, 8, 1, `7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2
			d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887`},
		{"pleaseletmein", "SodiumChloride", 1048576, 8, 1, `2101cb9b6a511aaeaddbbe09cf70f881ec568d574a2ffd4dabe5ee9820adaa47
			8e56fd8f4ba5d09ffa1c6d927c40f4c337304049e8a952fbcbf45c6fa77a41a4`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("N=%d,r=%d,p=%d", tt.N, tt.r, tt.p), func(t *testing.T) {
			if tt.N > 1<<16 && (testing.Short() || raceBuild()) {
				t.Skip("1 GiB vector skipped in -short and under -race")
			}
			want := unhex(t, tt.want)
			got, err := Key([]byte(tt.password), []byte(tt.salt), tt.N, tt.r, tt.p, len(want))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("scrypt = %x, %v; want %x", got, err, want)
			}
		})
	}
}

// scryptCase is one random small parameter set.
type scryptCase struct {
	password, salt  []byte
	N, r, p, keyLen int
}

func (c scryptCase) String() string {
	return fmt.Sprintf("P=%x S=%x N=%d r=%d p=%d keyLen=%d", c.password, c.salt, c.N, c.r, c.p, c.keyLen)
}

func randomScryptCase(rng *rand.Rand) scryptCase {
	bytesN := func(max int) []byte {
		b := make([]byte, rng.IntN(max+1))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	c := scryptCase{
		N:      2 << rng.IntN(10), // 2..1024
		r:      1 + rng.IntN(8),
		p:      1 + rng.IntN(4),
		keyLen: 1 + rng.IntN(200),
	}
	// Mostly short, sometimes longer than SHA-256's block, so that HMAC
	// hashes the key.
	if rng.IntN(5) == 0 {
		c.password = bytesN(200)
	} else {
		c.password = bytesN(40)
	}
	if rng.IntN(5) == 0 {
		c.salt = bytesN(200)
	} else {
		c.salt = bytesN(40)
	}
	return c
}

// checkAgainstXCrypto compares Key and every kernel this build and CPU
// can run (assembly and pure Go) with x/crypto's scrypt.Key.
func checkAgainstXCrypto(t testing.TB, c scryptCase) {
	t.Helper()
	want, err := xscrypt.Key(c.password, c.salt, c.N, c.r, c.p, c.keyLen)
	if err != nil {
		t.Fatalf("%v: x/crypto: %v", c, err)
	}
	got, err := Key(c.password, c.salt, c.N, c.r, c.p, c.keyLen)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%v: got %x, %v; x/crypto %x", c, got, err, want)
	}
	for _, k := range kernels[1:] {
		got, err := key(k, c.password, c.salt, c.N, c.r, c.p, c.keyLen)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%v: kernel %s: got %x, %v; x/crypto %x", c, k.name, got, err, want)
		}
	}
}

// TestScryptMatchesXCrypto compares many random small parameter sets with
// x/crypto's scrypt.Key, for every kernel.
func TestScryptMatchesXCrypto(t *testing.T) {
	// Not parallel: real scrypt work (32 MiB and ~50 ms a hash, ~1 s under -race).
	n := 300
	if raceBuild() || testing.Short() {
		n = 60
	}
	rng := rand.New(rand.NewPCG(7914, 1))
	for range n {
		checkAgainstXCrypto(t, randomScryptCase(rng))
	}
	// Edge cases: the smallest parameters, key lengths around SHA-256's
	// 32-byte blocks, p > 1 with r = 1.
	for _, c := range []scryptCase{
		{N: 2, r: 1, p: 1, keyLen: 1},
		{password: []byte("p"), salt: []byte("s"), N: 2, r: 1, p: 1, keyLen: 16},
		{password: []byte("password"), salt: []byte("salt"), N: 2, r: 10, p: 10, keyLen: 32},
		{password: []byte("password"), salt: []byte("salt"), N: 16, r: 1, p: 7, keyLen: 31},
		{password: []byte("password"), salt: []byte("salt"), N: 16, r: 3, p: 1, keyLen: 33},
		{password: []byte("password"), salt: []byte("salt"), N: 4, r: 2, p: 2, keyLen: 65},
	} {
		checkAgainstXCrypto(t, c)
	}
}

// TestScryptParams: out-of-range parameters are errors, never panics, and
// x/crypto agrees wherever it answers without panicking.
func TestScryptParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		N, r, p, keyLen int
		xcrypto         bool // x/crypto returns an error too (no panic, no huge allocation)
	}{
		{"N=0", 0, 1, 1, 32, true},
		{"N=1", 1, 1, 1, 32, true},
		{"N=-2", -2, 1, 1, 32, true},
		{"N not a power of 2", 7, 8, 1, 32, true},
		{"N min int", -maxInt - 1, 1, 1, 32, true},
		{"r=0", 2, 0, 1, 32, true},
		{"p=0", 2, 1, 0, 32, true},
		{"r<0", 2, -1, 1, 32, true},
		{"p<0", 2, 1, -1, 32, true},
		{"r*p too large", 16, maxInt / 2, maxInt / 2, 32, true},
		{"r*p = 2^30", 2, 1 << 15, 1 << 15, 32, true},
		{"r too large", 2, maxInt/256 + 1, 1, 32, true},
		{"N*r overflows", 1 << 40, 1 << 20, 1, 32, true},
		{"V over 1 TiB", 1 << 34, 1, 1, 32, false},
		{"keyLen=0", 2, 1, 1, 0, false},
		{"keyLen<0", 2, 1, 1, -1, false},
		{"keyLen over PBKDF2's limit", 2, 1, 1, (1<<32-1)*32 + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v", r)
				}
			}()
			if k, err := Key([]byte("p"), []byte("s"), tt.N, tt.r, tt.p, tt.keyLen); err == nil || k != nil {
				t.Errorf("Key = %x, %v; want an error", k, err)
			}
			if tt.xcrypto {
				if _, err := xscrypt.Key([]byte("p"), []byte("s"), tt.N, tt.r, tt.p, tt.keyLen); err == nil {
					t.Errorf("x/crypto accepts what we refuse")
				}
			}
		})
	}
}

type betterAuthScryptVector struct {
	Label    string `json:"label"`
	Password string `json:"password"`
	Hash     string `json:"hash"`
}

func loadScryptVectors(t testing.TB) []betterAuthScryptVector {
	t.Helper()
	// Made by Better Auth itself (tests/compat/gen-vectors.mjs); shared
	// with package auth's tests and tests/compat.
	data, err := os.ReadFile(filepath.Join("..", "..", "auth", "testdata", "betterauth-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		PasswordHashes []betterAuthScryptVector `json:"passwordHashes"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.PasswordHashes) == 0 {
		t.Fatal("no password vectors")
	}
	return v.PasswordHashes
}

// checkBetterAuthVector derives a Better Auth vector's key directly (the
// cached path) and compares it with the stored one.
func checkBetterAuthVector(t testing.TB, v betterAuthScryptVector) {
	t.Helper()
	checkBetterAuthVectorWith(t, kernels[0], v)
}

func checkBetterAuthVectorWith(t testing.TB, k *kernel, v betterAuthScryptVector) {
	t.Helper()
	saltHex, keyHex, _ := strings.Cut(v.Hash, ":")
	got, err := key(k, []byte(norm.NFKC.String(v.Password)), []byte(saltHex), BetterAuthN, BetterAuthR, BetterAuthP, BetterAuthKeyLen)
	if err != nil || hex.EncodeToString(got) != keyHex {
		t.Errorf("%s: kernel %s: key %x, %v; Better Auth stored %s", v.Label, k.name, got, err, keyHex)
	}
}

// TestScryptBetterAuthVectors derives every Better Auth vector with every
// kernel (the pure-Go one on three vectors under -race or -short).
func TestScryptBetterAuthVectors(t *testing.T) {
	// Not parallel: real scrypt work (32 MiB and ~50 ms a hash, ~1 s under -race).
	vectors := loadScryptVectors(t)
	for _, k := range kernels {
		vs := vectors
		if k == goKernel && (raceBuild() || testing.Short()) {
			vs = vs[:3]
		}
		for _, v := range vs {
			checkBetterAuthVectorWith(t, k, v)
		}
	}
}

// TestScryptConcurrent hashes from many goroutines at once under -race:
// small random parameter sets (checked against x/crypto) and Better
// Auth's size through the cache (checked against Better Auth's stored keys,
// and against x/crypto without -race).
func TestScryptConcurrent(t *testing.T) {
	// Not parallel: real scrypt work (32 MiB and ~50 ms a hash, ~1 s under -race).
	vectors := loadScryptVectors(t)
	small, big := 16, 4
	if raceBuild() {
		big = 2
	}
	var wg sync.WaitGroup
	for g := range small {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range 4 {
				checkAgainstXCrypto(t, randomScryptCase(rng))
			}
		})
	}
	for g := range big {
		wg.Go(func() {
			v := vectors[g%len(vectors)]
			checkBetterAuthVector(t, v)
			if !raceBuild() {
				saltHex, _, _ := strings.Cut(v.Hash, ":")
				checkAgainstXCrypto(t, scryptCase{password: []byte(norm.NFKC.String(v.Password)), salt: []byte(saltHex),
					N: BetterAuthN, r: BetterAuthR, p: BetterAuthP, keyLen: BetterAuthKeyLen})
			}
		})
	}
	wg.Wait()
}

// TestScryptStaleScratch: a cached scratch full of another hash's state
// (here: junk) does not change the result.
func TestScryptStaleScratch(t *testing.T) {
	// Not parallel: real scrypt work (32 MiB and ~50 ms a hash, ~1 s under -race).
	v := loadScryptVectors(t)[0]
	s := getScratch(BetterAuthN, BetterAuthR)
	copy(s.v, junk(len(s.v), 8))
	copy(s.xy, junk(len(s.xy), 9))
	putScratch(s, BetterAuthN, BetterAuthR)
	checkBetterAuthVector(t, v)
}

// TestScryptCacheReuse: sequential Better Auth hashes reuse one V buffer
// instead of allocating 32 MiB each, other sizes are not kept, and an idle
// buffer is let go after cacheIdle.
func TestScryptCacheReuse(t *testing.T) {
	// Not parallel: real scrypt, it measures the heap and uses the
	// package's cache.
	const hashes = 6
	password, salt := []byte("correct horse"), []byte("cb467e7f0070180a3332022c1abb8d75")
	if _, err := Key(password, salt, BetterAuthN, BetterAuthR, BetterAuthP, BetterAuthKeyLen); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fresh := freshV.Load()
	for range hashes {
		if _, err := Key(password, salt, BetterAuthN, BetterAuthR, BetterAuthP, BetterAuthKeyLen); err != nil {
			t.Fatal(err)
		}
		runtime.GC() // a sync.Pool would lose the buffer here
	}
	runtime.ReadMemStats(&after)
	if got := freshV.Load() - fresh; got != 0 {
		t.Errorf("%d hashes made %d new V buffers; want the cached one reused", hashes, got)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got >= 1<<20 {
		t.Errorf("%d hashes allocated %d KiB on the heap; want V off the heap and reused", hashes, got>>10)
	}
	// Other sizes are not kept.
	n := cache.len()
	s := getScratch(1024, 8)
	putScratch(s, 1024, 8)
	if got := cache.len(); got != n {
		t.Errorf("cache holds %d buffers after an odd size was put back, want %d", got, n)
	}
	// Idle buffers go.
	deadline := time.Now().Add(cacheIdle + 5*time.Second)
	for cache.len() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := cache.len(); got != 0 {
		t.Errorf("%d buffers still cached %v after the last hash", got, cacheIdle+5*time.Second)
	}
}

// The cache is bounded, LIFO, and expires its oldest buffers first.
func TestScratchCache(t *testing.T) {
	t.Parallel()
	// Long enough that a loaded machine's scheduling delays (tens of
	// ms) stay well inside each window: a expires at 1 s, b at 1.5 s,
	// and the check between them comes at 1.2 s.
	c := &scratchCache{max: 2, idle: time.Second}
	var released sync.Map // *scratch -> times released
	mk := func() *scratch {
		s := &scratch{}
		s.release = func() {
			n, _ := released.LoadOrStore(s, new(atomic.Int32))
			n.(*atomic.Int32).Add(1)
		}
		return s
	}
	releases := func(s *scratch) int32 {
		n, ok := released.Load(s)
		if !ok {
			return 0
		}
		return n.(*atomic.Int32).Load()
	}
	a, b, d := mk(), mk(), mk()
	if c.get() != nil {
		t.Fatal("empty cache gave a buffer")
	}
	c.put(a)
	time.Sleep(500 * time.Millisecond)
	c.put(b)
	c.put(d) // over max: dropped
	if got := c.len(); got != 2 || releases(d) != 1 {
		t.Fatalf("len = %d, d released %d times; want 2 and 1", got, releases(d))
	}
	time.Sleep(700 * time.Millisecond) // a idle 1.2 s, b 0.7 s
	if got := c.len(); got != 1 || releases(a) != 1 || releases(b) != 0 {
		t.Fatalf("after a's idle time: len = %d, releases a %d b %d; want 1, 1, 0", got, releases(a), releases(b))
	}
	if got := c.get(); got != b {
		t.Fatal("the buffer left is not the newest")
	}
	c.put(b)
	time.Sleep(1500 * time.Millisecond)
	if got := c.len(); got != 0 || releases(b) != 1 {
		t.Fatalf("len = %d, b released %d times after everything idled out; want 0, 1", got, releases(b))
	}
	e := mk()
	c.put(e) // the timer re-arms after emptying
	time.Sleep(1500 * time.Millisecond)
	if got := c.len(); got != 0 || releases(e) != 1 {
		t.Fatalf("len = %d, e released %d times; want 0, 1 (timer re-armed)", got, releases(e))
	}
}

// FuzzScryptMatchesXCrypto compares Key and every kernel (assembly and
// pure Go) with x/crypto on small parameters derived from the fuzz input
// (N 2..256, r 1..8, p 1..4, keyLen 1..300).
func FuzzScryptMatchesXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("NaCl"), uint8(3), uint8(7), uint8(1), uint16(63))
	f.Add([]byte{}, []byte{}, uint8(0), uint8(0), uint8(0), uint16(0))
	f.Fuzz(func(t *testing.T, password, salt []byte, logN, r, p uint8, keyLen uint16) {
		checkAgainstXCrypto(t, scryptCase{
			password: password, salt: salt,
			N: 2 << (logN % 8), r: 1 + int(r%8), p: 1 + int(p%4), keyLen: 1 + int(keyLen%300),
		})
	})
}

var scryptSink []byte

// warmUp runs one Better Auth hash before a benchmark's loop (b.Loop runs
// the body once, so the loop's first hash would otherwise count): ours
// then runs with its V buffer cached and its pages faulted in, as in a
// server after its first hash, and the measurement sees the steady state
// (compare-bun.sh warms Bun and Node up too). A hash with a fresh V took
// 5-10 ms of CPU more, up to 70 when the kernel had to compact memory for
// huge pages.
func warmUp(b *testing.B, key func(password, salt []byte, N, r, p, keyLen int) ([]byte, error)) {
	if _, err := key([]byte("warm-up"), []byte("salt"), BetterAuthN, BetterAuthR, BetterAuthP, BetterAuthKeyLen); err != nil {
		b.Fatal(err)
	}
}

// reportCPU reports the process's CPU time per operation (cpu-ms/op)
// beside the wall time: on a shared machine the wall time also counts
// the time other processes held the core. Call the returned func after
// b.Loop.
func reportCPU(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		if end, ok2 := processCPU(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N)/1e6, "cpu-ms/op")
		}
	}
}

// benchScrypt runs Better Auth's parameters (N=16384, r=16, p=1, 64-byte
// key) serially and with b.RunParallel.
func benchScrypt(b *testing.B, key func(password, salt []byte, N, r, p, keyLen int) ([]byte, error)) {
	password, salt := []byte("password-123"), []byte("cb467e7f0070180a3332022c1abb8d75")
	b.Run("serial", func(b *testing.B) {
		warmUp(b, key)
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			k, err := key(password, salt, BetterAuthN, BetterAuthR, BetterAuthP, BetterAuthKeyLen)
			if err != nil {
				b.Fatal(err)
			}
			scryptSink = k
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := key(password, salt, BetterAuthN, BetterAuthR, BetterAuthP, BetterAuthKeyLen); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkScrypt: ours, with reused buffers.
func BenchmarkScrypt(b *testing.B) { benchScrypt(b, Key) }

// BenchmarkXCryptoScrypt: golang.org/x/crypto/scrypt.Key, the reference.
func BenchmarkXCryptoScrypt(b *testing.B) { benchScrypt(b, xscrypt.Key) }

// BenchmarkScryptKernel: one Better Auth hash, serially, with each kernel
// this build and CPU can run (avx512, sse2, go on an AVX-512 amd64; go
// alone with -tags purego). Key uses the first.
func BenchmarkScryptKernel(b *testing.B) {
	password, salt := []byte("password-123"), []byte("cb467e7f0070180a3332022c1abb8d75")
	for _, k := range kernels {
		b.Run(k.name, func(b *testing.B) {
			warmUp(b, func(password, salt []byte, N, r, p, keyLen int) ([]byte, error) {
				return key(k, password, salt, N, r, p, keyLen)
			})
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				key, err := key(k, password, salt, BetterAuthN, BetterAuthR, BetterAuthP, BetterAuthKeyLen)
				if err != nil {
					b.Fatal(err)
				}
				scryptSink = key
			}
		})
	}
}

// BenchmarkMemoryFloor is smix's memory traffic at Better Auth's size
// without Salsa20/8, the floor under any BlockMix: V (32 MiB, the cached
// buffer) written block by block from the previous block, then N reads of
// a whole 2 KiB V_j at an index taken from the block read before (so the
// reads wait on each other as smix's do).
func BenchmarkMemoryFloor(b *testing.B) {
	s := getScratch(BetterAuthN, BetterAuthR)
	defer putScratch(s, BetterAuthN, BetterAuthR)
	N, R := BetterAuthN, 32*BetterAuthR
	v, x := s.v, s.xy[:R]
	copy(v[:R], junk(R, 14))
	memoryPass(v, x, N, R) // fault V in, if it is new
	defer reportCPU(b)()
	for b.Loop() {
		memoryPass(v, x, N, R)
	}
}

func memoryPass(v, x []uint32, N, R int) {
	last := R - 16
	for i := 1; i < N; i++ {
		copy(v[i*R:(i+1)*R], v[(i-1)*R:i*R])
		v[i*R+last] = v[(i-1)*R+last]*0x9e3779b9 + 1
	}
	copy(x, v[(N-1)*R:N*R])
	shift := 32 - bits.Len(uint(N-1))
	for i := range N {
		j := int((x[last]*0x85ebca6b + uint32(i)) >> shift)
		copy(x, v[j*R:(j+1)*R])
	}
}
