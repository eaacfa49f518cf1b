package service

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// TestWindowsInstall runs only on Windows (it has never run: see
// docs/PLATFORMS.md): the current user's Config, and an install into a
// temporary %LocalAppData% with the schtasks commands recorded.
func TestWindowsInstall(t *testing.T) {
	t.Setenv("LocalAppData", t.TempDir())
	c, err := Current(`C:\p2pchat\p2pchat.exe`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.User, `\`) {
		t.Errorf("user %q is not DOMAIN\\name", c.User)
	}
	install, err := InstallActions(c)
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeRunner{}
	if err := Do(context.Background(), install, r, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(install[0].Write.Path)
	if err != nil || !bytes.Equal(b, install[0].Write.Bytes()) {
		t.Errorf("task XML: %v", err)
	}
	if len(r.ran) != 3 || r.ran[1][1] != "/Create" {
		t.Errorf("ran %q", r.ran)
	}
}
