package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary be -load's hog, as the command is.
func TestMain(m *testing.M) {
	if hogMain() {
		return
	}
	os.Exit(m.Run())
}

// TestLoad: -load's hog runs as a child process that spends CPU until told
// to stop, and then ends by itself.
func TestLoad(t *testing.T) {
	pid, stop, err := startLoad(1)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for cpuTicks(t, pid) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hog used no CPU in 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped = true
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		t.Errorf("the hog (pid %d) is still there after stop", pid)
	}
}

// cpuTicks returns the user+system CPU ticks of process pid.
func cpuTicks(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	// The fields after the command name (which may hold spaces) start
	// after its closing parenthesis; utime and stime are fields 14 and 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return u + s
}
