//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package scrypt

// newVBuffer returns a buffer of words uint32s on the Go heap (this
// platform has no anonymous mappings through package syscall); the GC
// frees it.
func newVBuffer(words int) ([]uint32, func()) {
	return make([]uint32, words), func() {}
}
