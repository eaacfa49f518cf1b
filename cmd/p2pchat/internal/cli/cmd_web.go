package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

const webLong = `Open p2pchat in the web browser. The node of this state directory (a
daemon, or the node of a running p2pchat UI) serves the web UI on the
loopback interface and hands out a one-time login link, which this opens
in the default browser ($BROWSER if set); with --url it prints the link
instead. Each link works once, within 10 minutes, and logs one browser in.

When no node runs for this state directory, this starts one, in the
foreground, like p2pchat daemon with --web (the node flags apply): it
serves until Ctrl-C.`

// newWebCmd is p2pchat web: a login link to the node's web UI, opened in
// the browser.
func newWebCmd(o *options, stdout, stderr io.Writer) *cobra.Command {
	var printURL bool
	cmd := &cobra.Command{
		Use:   "web",
		Short: "open the web UI in the browser (starting a node if none runs)",
		Long:  webLong,
		Args:  args(0, 0, "[--url] [flags]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := newPrinter(stdout, o.json)
			home, err := resolveHome(o.home)
			if err != nil {
				return err
			}
			c, err := daemonClient(ctx, o, home)
			if err == nil {
				for _, f := range []string{"listen", "peer", "no-mdns", "nick", "web", "web-allow-remote"} {
					if cmd.Flags().Changed(f) {
						return usageError{fmt.Errorf("a p2pchat node runs for %s and serves the web UI: --%s configures a node, so it goes to the command that starts it (or stop it, or pass another --home)", home, f)}
					}
				}
				l, err := c.WebLogin(ctx)
				if err != nil {
					return fmt.Errorf("asking the running node for a login link: %w", err)
				}
				return showWebLogin(out, home, l, printURL, false)
			}
			if !errors.Is(err, api.ErrNoDaemon) {
				return err
			}
			// No node: run one here, with the web UI on (daemon checks
			// --web).
			if o.web == "" {
				o.web = defaultWebAddr
			}
			o.daemonReady = func(svc *apiService) error {
				l, err := svc.web.login(ctx)
				if err != nil {
					return err
				}
				return showWebLogin(out, home, l, printURL, true)
			}
			return daemon(ctx, o, stderr)
		},
	}
	nodeFlags(cmd, o)
	webFlags(cmd, o)
	cmd.Flags().BoolVar(&printURL, "url", false, "print the one-time login link instead of opening a browser")
	return cmd
}

// webFlags adds --web and --web-allow-remote.
func webFlags(cmd *cobra.Command, o *options) {
	f := cmd.Flags()
	f.StringVar(&o.web, "web", "", "serve the web UI on `HOST:PORT` from the start (loopback only without --web-allow-remote; p2pchat web asks for a login link)")
	f.BoolVar(&o.webRemote, "web-allow-remote", false, "let --web listen on an address other machines reach (plain HTTP: anyone on the way can read the login link and the session)")
}

// showWebLogin prints the login link l (printURL) or opens it in the
// browser; foreground says this process runs the node.
func showWebLogin(out *printer, home string, l api.WebLogin, printURL, foreground bool) error {
	fields := map[string]any{"url": l.URL, "addr": l.Addr, "opened": false}
	tail := ""
	if foreground {
		tail = "\nThis p2pchat runs the node for " + home + " and serves the web UI until Ctrl-C."
	}
	if printURL {
		out.info("web", fields, l.URL+tail)
		return nil
	}
	page, err := loginFile(home, l.URL)
	if err == nil {
		err = openBrowser(page)
	}
	if err != nil {
		out.info("web", fields, fmt.Sprintf("Could not open a browser (%v).\nOpen this one-time link in your browser: %s%s", err, l.URL, tail))
		return nil
	}
	fields["opened"] = true
	out.info("web", fields, "Opened p2pchat in your browser (web UI at http://"+l.Addr+"/; `p2pchat web` logs in another browser)."+tail)
	return nil
}
