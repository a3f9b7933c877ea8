//go:build darwin || freebsd || netbsd || openbsd

package scrypt

// hugePage is 0: no transparent huge pages to ask for here.
const hugePage = 0

// hugePages returns b[:size].
func hugePages(b []byte, size int) []byte { return b[:size] }
