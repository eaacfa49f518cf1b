package cli

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/pflag"
)

// waitValue is a --wait flag: a Go duration ("1m30s", "500ms") or plain
// seconds ("3", "1.5"), never negative.
type waitValue time.Duration

var _ pflag.Value = (*waitValue)(nil)

// waitFlag registers a --wait flag on fs that sets *d, defaulting to def.
func waitFlag(fs *pflag.FlagSet, d *time.Duration, def time.Duration, usage string) {
	*d = def
	fs.Var((*waitValue)(d), "wait", usage+" (seconds, or a duration such as 1m30s)")
}

func (w *waitValue) String() string { return time.Duration(*w).String() }

func (w *waitValue) Type() string { return "duration" }

func (w *waitValue) Set(s string) error {
	d, err := parseWait(s)
	if err != nil {
		return err
	}
	*w = waitValue(d)
	return nil
}

// parseWait reads plain seconds or a Go duration.
func parseWait(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		if secs > (1<<63-1)/float64(time.Second) {
			return 0, fmt.Errorf("%q seconds is too long", s)
		}
		d = time.Duration(secs * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%q is not a number of seconds or a duration such as 30s or 1m30s", s)
	}
	if d < 0 {
		return 0, errors.New("it cannot be negative")
	}
	return d, nil
}

// peerAddrError explains a --peer value that is not a full libp2p address,
// with what one looks like and where to copy one from.
func peerAddrError(a string) error {
	const where = "copy one from the \"* listening on\" line that p2pchat prints on the other machine (or from `p2pchat status --json` there)"
	if host, port, err := net.SplitHostPort(a); err == nil && net.ParseIP(host) != nil {
		proto := "ip4"
		if strings.Contains(host, ":") {
			proto = "ip6"
		}
		return fmt.Errorf("--peer %q is a host and port, not a full address: it looks like /%s/%s/tcp/%s/p2p/12D3KooW… (the peer ID is needed to check that the node answering is the one you meant); %s", a, proto, host, port, where)
	}
	if _, err := peer.AddrInfoFromString(a); err != nil {
		return fmt.Errorf("--peer %q is not a full address: it looks like /ip4/192.168.1.20/tcp/40123/p2p/12D3KooW…; %s", a, where)
	}
	return nil
}
