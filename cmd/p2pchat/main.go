// Command p2pchat is a peer-to-peer, end-to-end encrypted chat for the LAN.
//
// See README.md for a walk-through and docs/CLI.md for the command line and
// the --json event stream. The commands live in package
// [github.com/p2pchat/p2pchat/cmd/p2pchat/internal/cli].
package main

import "github.com/p2pchat/p2pchat/cmd/p2pchat/internal/cli"

func main() { cli.Main() }
