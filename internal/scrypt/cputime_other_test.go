//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package scrypt

import "time"

// processCPU is not measured here.
func processCPU() (time.Duration, bool) { return 0, false }
