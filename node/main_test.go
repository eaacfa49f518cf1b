package node

import (
	"os"
	"testing"
)

// TestMain lets Publish wait longer for the mesh than it does in use: the
// tests check that a message published right after peers appear reaches
// them (the wait works), not how fast a loaded machine grafts, and a
// deadline of three heartbeats is missed when the race detector and other
// packages' tests share two cores. Ten heartbeats (2 s) were missed once
// too (TestValidator in CI under -race: B never got the message), so the
// tests wait up to 50 (10 s, below waitTimeout).
func TestMain(m *testing.M) {
	meshWait = 50 * heartbeat
	os.Exit(m.Run())
}
