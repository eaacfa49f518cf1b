package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestParseWait(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"3", 3 * time.Second, ""},
		{"1.5", 1500 * time.Millisecond, ""},
		{"0", 0, ""},
		{"30s", 30 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{" 2 ", 2 * time.Second, ""},
		{"-1", 0, "negative"},
		{"-2s", 0, "negative"},
		{"1e300", 0, "too long"},
		{"soon", 0, "not a number of seconds"},
		{"", 0, "not a number of seconds"},
		{"3 s", 0, "not a number of seconds"},
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseWait(%q) = %v, %v; want an error mentioning %q", tt.in, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("parseWait(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestWaitFlag(t *testing.T) {
	var d time.Duration
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	waitFlag(fs, &d, 15*time.Second, "how long")
	if d != 15*time.Second || fs.Lookup("wait").DefValue != "15s" {
		t.Fatalf("default %v (shown %q), want 15s", d, fs.Lookup("wait").DefValue)
	}
	if err := fs.Parse([]string{"--wait", "3"}); err != nil || d != 3*time.Second {
		t.Fatalf("--wait 3: %v, %v", d, err)
	}
}

func TestPeerAddrError(t *testing.T) {
	good := "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWD8BYwSYDqkoTKT5eXx4ieAW9XtaQoFnwThY6ygZrg7iz"
	if err := peerAddrError(good); err != nil {
		t.Errorf("full address refused: %v", err)
	}
	for in, want := range map[string]string{
		"10.79.0.1:35337":     "/ip4/10.79.0.1/tcp/35337/p2p/",
		"[fd00::1]:4001":      "/ip6/fd00::1/tcp/4001/p2p/",
		"/ip4/1.2.3.4/tcp/1":  "not a full address",
		"host.example:4001":   "not a full address",
		"12D3KooWD8BYwSYDqko": "not a full address",
	} {
		err := peerAddrError(in)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "listening on") {
			t.Errorf("peerAddrError(%q) = %v; want it to mention %q and where to copy an address from", in, err, want)
		}
	}
}
