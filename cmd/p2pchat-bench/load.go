package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"
)

// loadEnv, set in the environment of a child of this command, makes it a
// CPU hog (see hog) instead of a benchmark: -load runs one beside the
// benchmark, so that the nodes compete with another process for the CPUs,
// as on a busy laptop.
const loadEnv = "P2PCHAT_BENCH_HOG"

// startLoad starts a child process that keeps n cores busy until the
// returned stop is called, or until this process exits (the child ends when
// its standard input closes). It returns the child's PID; stop waits for it
// and reports how it ended.
func startLoad(n int) (pid int, stop func() error, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, nil, fmt.Errorf("load: %w", err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), loadEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, nil, fmt.Errorf("load: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("load: %w", err)
	}
	return cmd.Process.Pid, func() error {
		in.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			cmd.Process.Kill() // the PID we started
			<-done
			return errors.New("load: the hog did not stop when told; killed")
		}
	}, nil
}

// hogSink keeps the busy loops' work observable, so the compiler keeps it.
var hogSink atomic.Uint64

// hog keeps n cores busy until stdin reaches its end (the parent closed it
// or exited).
func hog(n int, stdin io.Reader) {
	runtime.GOMAXPROCS(n)
	for range n {
		go func() {
			x := uint64(1)
			for i := 0; ; i++ {
				x = x*6364136223846793005 + 1442695040888963407
				if i%(1<<20) == 0 {
					hogSink.Store(x)
				}
			}
		}()
	}
	io.Copy(io.Discard, stdin)
}

// hogMain runs hog and reports true if this process was started as one.
func hogMain() bool {
	v := os.Getenv(loadEnv)
	if v == "" {
		return false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1024 {
		fmt.Fprintf(os.Stderr, "p2pchat-bench: %s=%q: want a number of cores from 1 to 1024\n", loadEnv, v)
		os.Exit(2)
	}
	hog(n, os.Stdin)
	return true
}
