//go:build !unix

package main

import "time"

// haveCPUTime reports whether cpuTime measures anything here: not on this
// system, where CPU figures are null.
const haveCPUTime = false

func cpuTime() time.Duration { return 0 }
