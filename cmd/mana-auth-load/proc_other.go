//go:build !linux

package main

import (
	"syscall"
	"time"
)

func childAttr() *syscall.SysProcAttr { return nil }

func threadCPU() (time.Duration, bool) { return 0, false }
