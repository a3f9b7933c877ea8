//go:build !linux

package main

import (
	"errors"
	"syscall"
	"time"
)

func childAttr() *syscall.SysProcAttr { return nil }

func threadCPU() (time.Duration, bool) { return 0, false }

func pinThread([]int) error { return errors.New("pinning needs Linux") }
