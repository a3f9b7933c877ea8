//go:build linux || darwin || freebsd || netbsd || openbsd

package scrypt

import (
	"syscall"
	"unsafe"
)

// newVBuffer returns a zeroed buffer of words uint32s mapped outside the Go
// heap, and the func that unmaps it (call it once, when nothing uses the
// buffer any more). If the mapping fails it falls back to the heap.
func newVBuffer(words int) ([]uint32, func()) {
	b, err := syscall.Mmap(-1, 0, words*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil || len(b) != words*4 {
		return make([]uint32, words), func() {}
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), words), func() { _ = syscall.Munmap(b) }
}
