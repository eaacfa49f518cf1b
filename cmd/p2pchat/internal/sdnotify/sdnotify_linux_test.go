package sdnotify

import (
	"fmt"
	"os"
	"testing"
	"time"
)

func TestNotifyAbstract(t *testing.T) {
	name := fmt.Sprintf("@p2pchat-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := listen(t, name)
	if err := Ready("x"); err != nil {
		t.Fatal(err)
	}
	if got, want := receive(t, c, 10*time.Second), "READY=1\nSTATUS=x"; got != want {
		t.Errorf("datagram = %q, want %q", got, want)
	}
}
