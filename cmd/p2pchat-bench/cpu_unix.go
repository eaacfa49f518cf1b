//go:build unix

package main

import (
	"syscall"
	"time"
)

// haveCPUTime reports whether cpuTime measures anything here.
const haveCPUTime = true

// cpuTime is the CPU time (user + system) used by this process so far, from
// getrusage(RUSAGE_SELF): every goroutine of both stacks, the garbage
// collector and the runtime included. Only one stack runs at a time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
