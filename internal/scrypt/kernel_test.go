package scrypt

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// The BlockMix kernels (assembly and pure Go) against each other and the
// RFC; the whole of Key per kernel against x/crypto and Better Auth is in
// scrypt_test.go (checkAgainstXCrypto, TestScryptBetterAuthVectors).

// toLayout returns words (RFC order) in kernel k's word order.
func toLayout(k *kernel, words []uint32) []uint32 {
	out := slices.Clone(words)
	if k.diagonal {
		for b := 0; b < len(words); b += 16 {
			for i := range 16 {
				out[b+i] = words[b+i*5%16]
			}
		}
	}
	return out
}

// fromLayout is the inverse of toLayout.
func fromLayout(k *kernel, words []uint32) []uint32 {
	out := slices.Clone(words)
	if k.diagonal {
		for b := 0; b < len(words); b += 16 {
			for i := range 16 {
				out[b+i*5%16] = words[b+i]
			}
		}
	}
	return out
}

// TestKernelsAvailable: the kernels this build and CPU should have, best
// first, the pure-Go one last.
func TestKernelsAvailable(t *testing.T) {
	t.Parallel()
	var got []string
	for _, k := range kernels {
		got = append(got, k.name)
	}
	if want := wantKernels(); !slices.Equal(got, want) {
		t.Errorf("kernels %v, want %v", got, want)
	}
	if kernels[len(kernels)-1] != goKernel {
		t.Error("the pure-Go kernel is not last")
	}
	t.Logf("kernels: %v (Key uses %s)", got, kernels[0].name)
}

// TestKernelsRFC7914: RFC 7914's Salsa20/8 (section 8) and BlockMix
// (section 9) vectors through every kernel.
func TestKernelsRFC7914(t *testing.T) {
	t.Parallel()
	for _, k := range kernels {
		t.Run(k.name, func(t *testing.T) {
			// BlockMix(B0 = 0, B1 = in) starts with Salsa20/8(0 xor in).
			in := append(make([]uint32, 16), leWords(unhex(t, rfcSalsaIn))...)
			out := junk(32, 10)
			k.mix(toLayout(k, in), out, 1)
			if got, want := fromLayout(k, out)[:16], leWords(unhex(t, rfcSalsaOut)); !slices.Equal(got, want) {
				t.Errorf("Salsa20/8 = %08x, want %08x", got, want)
			}

			in = leWords(unhex(t, rfcMixIn))
			want := leWords(unhex(t, rfcBlockMixOut))
			out = junk(32, 11)
			k.mix(toLayout(k, in), out, 1)
			if got := fromLayout(k, out); !slices.Equal(got, want) {
				t.Errorf("BlockMix = %08x, want %08x", got, want)
			}
			// mixXOR(in^m, m) is BlockMix(in).
			m := junk(32, 12)
			inm := make([]uint32, 32)
			for i := range inm {
				inm[i] = in[i] ^ m[i]
			}
			out = junk(32, 13)
			k.mixXOR(toLayout(k, inm), toLayout(k, m), out, 1)
			if got := fromLayout(k, out); !slices.Equal(got, want) {
				t.Errorf("BlockMix xor = %08x, want %08x", got, want)
			}
		})
	}
}

// checkKernelsAgree runs every kernel's mix and mixXOR on in and vj (2*r
// blocks, RFC order) and compares them with the pure-Go kernel's. Each
// out sits between guard words that must stay as they were, and in and vj
// must not change.
func checkKernelsAgree(t *testing.T, in, vj []uint32, r int) {
	t.Helper()
	R := 32 * r
	want, wantXOR := make([]uint32, R), make([]uint32, R)
	goKernel.mix(slices.Clone(in), want, r)
	goKernel.mixXOR(slices.Clone(in), slices.Clone(vj), wantXOR, r)
	const guard = 16
	for _, k := range kernels {
		if k == goKernel {
			continue
		}
		for _, xor := range []bool{false, true} {
			kin, kvj := toLayout(k, in), toLayout(k, vj)
			buf := junk(R+2*guard, uint64(r))
			before := slices.Clone(buf)
			out := buf[guard : guard+R]
			w := want
			if xor {
				k.mixXOR(kin, kvj, out, r)
				w = wantXOR
			} else {
				k.mix(kin, out, r)
			}
			if got := fromLayout(k, out); !slices.Equal(got, w) {
				t.Fatalf("%s (xor %v, r=%d) differs from the pure-Go kernel:\n got %08x\nwant %08x", k.name, xor, r, got, w)
			}
			if !slices.Equal(buf[:guard], before[:guard]) || !slices.Equal(buf[guard+R:], before[guard+R:]) {
				t.Fatalf("%s (xor %v, r=%d) wrote outside out", k.name, xor, r)
			}
			if !slices.Equal(fromLayout(k, kin), in) || !slices.Equal(fromLayout(k, kvj), vj) {
				t.Fatalf("%s (xor %v, r=%d) changed its input", k.name, xor, r)
			}
		}
	}
}

// TestKernelsMatchGo compares the assembly kernels with the pure-Go one on
// random blocks of many sizes, and on blocks of all zeros and all ones.
func TestKernelsMatchGo(t *testing.T) {
	t.Parallel()
	for _, r := range []int{1, 2, 3, 4, 7, 8, 15, 16, 17, 33} {
		for seed := range uint64(4) {
			checkKernelsAgree(t, junk(32*r, 100+seed), junk(32*r, 200+seed), r)
		}
		ones := make([]uint32, 32*r)
		for i := range ones {
			ones[i] = ^uint32(0)
		}
		checkKernelsAgree(t, make([]uint32, 32*r), make([]uint32, 32*r), r)
		checkKernelsAgree(t, ones, ones, r)
		checkKernelsAgree(t, ones, make([]uint32, 32*r), r)
	}
}

// TestKernelArgumentChecks: the assembly kernels' Go wrappers refuse r < 1
// and blocks of the wrong size instead of reading or writing out of
// bounds.
func TestKernelArgumentChecks(t *testing.T) {
	t.Parallel()
	for _, k := range kernels {
		if k == goKernel {
			continue
		}
		for _, tt := range []struct {
			name         string
			in, vj, out  int
			r            int
			xor, mustRun bool
		}{
			{"ok", 64, 64, 64, 2, false, true},
			{"ok xor", 64, 64, 64, 2, true, true},
			{"r=0", 0, 0, 0, 0, false, false},
			{"r=0 xor", 0, 0, 0, 0, true, false},
			{"r<0", 32, 32, 32, -1, false, false},
			{"in short", 63, 64, 64, 2, false, false},
			{"out short", 64, 64, 32, 2, false, false},
			{"vj short", 64, 32, 64, 2, true, false},
			{"out long", 64, 64, 96, 2, true, false},
		} {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				panicked := func() (p bool) {
					defer func() { p = recover() != nil }()
					in, vj, out := make([]uint32, tt.in), make([]uint32, tt.vj), make([]uint32, tt.out)
					if tt.xor {
						k.mixXOR(in, vj, out, tt.r)
					} else {
						k.mix(in, out, tt.r)
					}
					return false
				}()
				if panicked == tt.mustRun {
					t.Errorf("panicked = %v, want %v", panicked, !tt.mustRun)
				}
			})
		}
	}
}

// FuzzBlockMix compares every assembly kernel's BlockMix (plain and with
// the xor of V_j) with the pure-Go kernel's on blocks made from the fuzz
// input (r 1..20).
func FuzzBlockMix(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 256), uint8(0))
	f.Add([]byte("scrypt"), uint8(15))
	f.Fuzz(func(t *testing.T, data []byte, rr uint8) {
		r := 1 + int(rr%20)
		words := make([]uint32, 2*32*r)
		if len(data) > 0 {
			// The input repeated, each repetition xored with its
			// number so that short inputs still make distinct blocks
			// (and all-zero or all-one inputs stay so while they fit).
			for i := range words {
				var b [4]byte
				for j := range b {
					n := 4*i + j
					b[j] = data[n%len(data)] ^ byte(n/len(data))
				}
				words[i] = binary.LittleEndian.Uint32(b[:])
			}
		}
		checkKernelsAgree(t, words[:32*r], words[32*r:], r)
	})
}

// TestAsmUpToDate runs the avo generator (_asm, a module of its own) in a
// copy of the package directory and compares its output with the
// committed salsa_amd64.s and salsa_amd64.go. It needs the go command
// and avo (from the module cache or the module proxy); it is skipped with
// -short.
func TestAsmUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the avo generator: skipped with -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	// The generated files name the command line (with the relative
	// output paths) in their header, so run it from a copy laid out
	// like the package: <tmp>/_asm writes to <tmp>/.
	dir := t.TempDir()
	asm := filepath.Join(dir, "_asm")
	if err := os.CopyFS(asm, os.DirFS("_asm")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goCmd, "generate")
	cmd.Dir = asm
	// The generator runs on this machine, whatever GOARCH the test binary
	// was built for (testdata/arm64.sh runs it under qemu with GOARCH=arm64).
	cmd.Env = append(os.Environ(), "GOARCH=", "GOOS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go generate in _asm: %v\n%s", err, out)
	}
	for _, name := range []string{"salsa_amd64.s", "salsa_amd64.go"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what _asm generates: run go generate in internal/scrypt/_asm and commit the result", name)
		}
	}
}

// TestIntegerifyLayout: Integerify reads the same 64 bits (the RFC's words
// 0 and 1 of the last block) from a block in every kernel's order (word 1
// is word 13 in the diagonal order). Only N > 2^32 would let the high
// word change j, so the hashes cannot check it.
func TestIntegerifyLayout(t *testing.T) {
	t.Parallel()
	for _, r := range []int{1, 2, 16} {
		x := junk(32*r, uint64(300+r))
		want := integerify(x, r, 1)
		if got := uint64(x[(2*r-1)*16]) | uint64(x[(2*r-1)*16+1])<<32; got != want {
			t.Fatalf("r=%d: integerify = %#x, want %#x", r, want, got)
		}
		for _, k := range kernels {
			if got := integerify(toLayout(k, x), r, k.word1()); got != want {
				t.Errorf("%s, r=%d: integerify = %#x, want %#x", k.name, r, got, want)
			}
		}
	}
}
