//go:build linux || darwin || freebsd || netbsd || openbsd

package scrypt

import (
	"syscall"
	"unsafe"
)

// newVBuffer returns a zeroed buffer of words uint32s mapped outside the Go
// heap, and the func that unmaps it (call it once, when nothing uses the
// buffer any more). If the mapping fails it falls back to the heap.
//
// On Linux the buffer also starts on a huge-page boundary and is advised
// to use transparent huge pages (hugePages): smix's second loop reads V at
// random, and with 4 KiB pages nearly every read of a V_j misses the TLB
// too (32 MiB is 8192 pages). The mapping is then one huge page longer
// than the buffer so that it can be aligned; the slack is never touched,
// so it takes no memory.
func newVBuffer(words int) ([]uint32, func()) {
	size := words * 4
	b, err := syscall.Mmap(-1, 0, size+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil || len(b) != size+hugePage {
		return make([]uint32, words), func() {}
	}
	v := hugePages(b, size)
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(v))), words), func() { _ = syscall.Munmap(b) }
}
