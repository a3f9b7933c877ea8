package scrypt

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// TestVBufferHugePages: on Linux a V buffer starts on a huge-page boundary
// (so that transparent huge pages can back all of it) and holds zeros.
// Whether the kernel gave it huge pages depends on its THP setting and
// free memory, so that is only logged.
func TestVBufferHugePages(t *testing.T) {
	t.Parallel()
	words := 32 * BetterAuthN * BetterAuthR
	v, release := newVBuffer(words)
	defer release()
	start := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	if len(v) != words || start%hugePage != 0 {
		t.Fatalf("V: %d words at %#x; want %d words at a multiple of %d", len(v), start, words, hugePage)
	}
	for i := range v {
		if v[i] != 0 {
			t.Fatalf("V[%d] = %#x, want a zeroed buffer", i, v[i])
		}
		v[i] = uint32(i)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") {
			in = lo <= start && start < hi
			continue
		}
		if in && strings.HasPrefix(line, "AnonHugePages:") {
			t.Logf("V's mapping: %s", line)
		}
	}
}
