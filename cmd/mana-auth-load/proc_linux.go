//go:build linux

package main

import (
	"syscall"
	"time"
	"unsafe"
)

// childAttr makes the server die with the tool (the tool always stops it,
// but a killed tool must not leave it running).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

const clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID

// threadCPU returns the CPU time the calling OS thread has used (lock the
// goroutine to its thread around a measurement).
func threadCPU() (time.Duration, bool) {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// pinThread restricts the calling OS thread to cpus (lock the goroutine
// to its thread first, and let the goroutine end locked, so the thread is
// not reused).
func pinThread(cpus []int) error {
	var mask [64]uint64 // CPUs 0..4095
	for _, c := range cpus {
		mask[c/64] |= 1 << (c % 64)
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask))); errno != 0 {
		return errno
	}
	return nil
}
