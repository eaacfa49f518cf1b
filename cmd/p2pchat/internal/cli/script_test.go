package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/localsock"
	"github.com/p2pchat/p2pchat/room"
)

func TestMain(m *testing.M) {
	// The scripts run the real command, in a subprocess, as "p2pchat".
	testscript.Main(m, map[string]func(){"p2pchat": Main})
}

// TestScripts runs the transcripts in testdata/script: the CLI against real
// daemons on loopback sockets.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			// A runtime dir of the script's own, so sockets never collide.
			dir := filepath.Join(e.WorkDir, "run")
			if err := os.Mkdir(dir, 0o700); err != nil {
				return err
			}
			e.Setenv("XDG_RUNTIME_DIR", dir)
			e.Setenv("P2PCHAT_PASSPHRASE", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitdaemon": cmdWaitDaemon,
			"waitmember": cmdWaitMember,
			"waitmsg":    cmdWaitMsg,
			"jsonfield":  cmdJSONField,
			"waitevent":  cmdWaitEvent,
		},
	})
}

// scriptWait bounds every wait in the scripts.
const scriptWait = 30 * time.Second

// scriptClient is a client of the daemon for home in the script's runtime
// dir.
func scriptClient(ts *testscript.TestScript, home string) *api.Client {
	sock, err := localsock.SocketPath(filepath.Join(ts.Getenv("XDG_RUNTIME_DIR"), "p2pchat"), ts.MkAbs(home))
	ts.Check(err)
	return api.NewClient(sock)
}

// scriptPoll calls f until it reports done or scriptWait passes.
func scriptPoll(ts *testscript.TestScript, what string, f func(ctx context.Context) (bool, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptWait)
	defer cancel()
	var last error
	for {
		done, err := f(ctx)
		if done {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			ts.Fatalf("%s: gave up after %v (last error: %v)", what, scriptWait, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitdaemon HOME NAME: wait until the daemon for HOME answers, then set
// $ADDR_NAME to its loopback address (with /p2p/ID), $PEER_NAME to its peer
// ID, $FP_NAME to its fingerprint and $TYPO_NAME to that with its last
// character mistyped.
func cmdWaitDaemon(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitdaemon HOME NAME")
	}
	c := scriptClient(ts, args[0])
	scriptPoll(ts, "waitdaemon "+args[0], func(ctx context.Context) (bool, error) {
		self, err := c.Self(ctx)
		if err != nil {
			return false, err
		}
		i := slices.IndexFunc(self.Addrs, func(a string) bool { return strings.HasPrefix(a, "/ip4/127.0.0.1/") })
		if i < 0 {
			return false, fmt.Errorf("no loopback address in %q", self.Addrs)
		}
		ts.Setenv("ADDR_"+args[1], self.Addrs[i])
		ts.Setenv("PEER_"+args[1], self.PeerID.String())
		fp := self.Fingerprint.String()
		ts.Setenv("FP_"+args[1], fp)
		last := map[bool]string{true: "B", false: "A"}[fp[len(fp)-1] == 'A']
		ts.Setenv("TYPO_"+args[1], fp[:len(fp)-1]+last)
		return true, nil
	})
}

// waitmember HOME ROOM N: wait until the daemon for HOME holds ROOM's key
// and has N other members in it.
func cmdWaitMember(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitmember HOME ROOM N")
	}
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	c := scriptClient(ts, args[0])
	scriptPoll(ts, "waitmember "+strings.Join(args, " "), func(ctx context.Context) (bool, error) {
		r, err := c.Room(ctx, args[1])
		if err != nil {
			return false, err
		}
		return r.Ready && len(r.Members) == n, fmt.Errorf("ready %v, %d members", r.Ready, len(r.Members))
	})
}

// waitmsg HOME ROOM TEXT: wait until the daemon for HOME has stored a
// message TEXT in ROOM.
func cmdWaitMsg(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: waitmsg HOME ROOM TEXT")
	}
	c := scriptClient(ts, args[0])
	scriptPoll(ts, "waitmsg "+strings.Join(args, " "), func(ctx context.Context) (bool, error) {
		msgs, err := c.History(ctx, args[1], 0)
		if err != nil {
			return false, err
		}
		return slices.ContainsFunc(msgs, func(m *room.Message) bool { return m.Text == args[2] }), nil
	})
}

// jsonfield VAR FIELD: set VAR to the string FIELD of the JSON object the
// last command printed on stdout.
func cmdJSONField(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonfield VAR FIELD")
	}
	var obj map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &obj))
	v, ok := obj[args[1]].(string)
	if !ok {
		ts.Fatalf("no string %q in %v", args[1], obj)
	}
	ts.Setenv(args[0], v)
}

// waitevent HOME REGEXP: wait until an event of the daemon for HOME (any
// it retains, then new ones), as its --json object, matches REGEXP; the
// object is the command's stdout.
func cmdWaitEvent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waitevent HOME REGEXP")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	c := scriptClient(ts, args[0])
	ctx, cancel := context.WithTimeout(context.Background(), scriptWait)
	defer cancel()
	found := errors.New("found")
	var line []byte
	err = c.Follow(ctx, api.EventsOptions{FromStart: true}, func(e api.Event) error {
		b, err := json.Marshal(e.JSON())
		if err != nil {
			return err
		}
		if re.Match(b) {
			line = b
			return found
		}
		return nil
	})
	if !errors.Is(err, found) {
		ts.Fatalf("waitevent %s: no event matched within %v (%v)", args[1], scriptWait, err)
	}
	ts.Logf("%s", line)
}
