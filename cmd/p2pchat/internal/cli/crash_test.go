package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestCrashSafety kills a real p2pchat process with SIGKILL at random
// moments while it sends and receives; after every kill its database opens
// and holds every message the process had shown, sent or received.
func TestCrashSafety(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "p2pchat")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/p2pchat/p2pchat/cmd/p2pchat").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	alice := startChat(t, ctx, "--json", "--no-mdns", "--home", filepath.Join(dir, "alice"), "--nick", "alice", "--listen", "/ip4/127.0.0.1/tcp/0", "lobby")
	aliceAddr := alice.wait("ready", isEvent("ready"))["addrs"].([]any)[0].(string)
	home := filepath.Join(dir, "bob")
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("seed %d", seed)

	for round := range 4 {
		cmd := exec.Command(bin, "--json", "--no-mdns", "--home", home, "--nick", "bob", "--listen", "/ip4/127.0.0.1/tcp/0", "--peer", aliceAddr, "lobby")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		shown := map[string]string{} // id -> text
		joined := make(chan struct{})
		readDone := make(chan struct{})
		go func() {
			defer close(readDone)
			sc := bufio.NewScanner(stdout)
			once := sync.Once{}
			for sc.Scan() {
				var ev map[string]any
				if json.Unmarshal(sc.Bytes(), &ev) != nil {
					continue
				}
				switch ev["type"] {
				case "member_joined":
					once.Do(func() { close(joined) })
				case "message":
					mu.Lock()
					shown[ev["id"].(string)] = ev["text"].(string)
					mu.Unlock()
				}
			}
		}()
		select {
		case <-joined:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: bob never met alice", round)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(15 * time.Millisecond):
				}
				fmt.Fprintf(stdin, "bob %d/%d\n", round, i)
				alice.send(fmt.Sprintf("alice %d/%d", round, i))
			}
		})
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL, by the PID we started
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		cmd.Wait()
		<-readDone

		out, err := exec.Command(bin, "history", "lobby", "--json", "--home", home).Output()
		if err != nil {
			t.Fatalf("round %d: history after SIGKILL: %v", round, err)
		}
		stored := map[string]bool{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("history output is not JSON: %q", sc.Text())
			}
			stored[ev["id"].(string)] = true
		}
		mu.Lock()
		for id, text := range shown {
			if !stored[id] {
				t.Errorf("round %d: %q was shown before the kill but is not in the database", round, text)
			}
		}
		t.Logf("round %d: killed after showing %d messages; database holds %d", round, len(shown), len(stored))
		if len(shown) == 0 {
			t.Errorf("round %d: nothing was shown before the kill; the test proved nothing", round)
		}
		mu.Unlock()
	}
	alice.stdin.Close()
	if code := alice.exit(); code != exitOK {
		t.Errorf("alice exit %d", code)
	}
}
