package scrypt

import (
	"syscall"
	"unsafe"
)

// hugePage is the size of a transparent huge page (2 MiB with 4 KiB base
// pages, as on amd64 and most arm64 kernels).
const hugePage = 2 << 20

// hugePages returns the size bytes of b (which has size+hugePage) that
// start on a huge-page boundary, advised to Linux for transparent huge
// pages. It is only advice: with THP set to "never" (or the advice
// refused) the buffer keeps 4 KiB pages, which changes nothing but speed.
func hugePages(b []byte, size int) []byte {
	off := (hugePage - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%hugePage)) % hugePage
	v := b[off : off+size]
	_ = syscall.Madvise(v, syscall.MADV_HUGEPAGE)
	return v
}
