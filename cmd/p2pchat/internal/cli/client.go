package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
)

// clientCmd describes a subcommand that drives the running daemon.
type clientCmd struct {
	use, short, long string
	args             cobra.PositionalArgs
	// check, if set, checks the arguments before the daemon is reached, so
	// that a usage error is one whether or not a daemon runs.
	check func(cmd *cobra.Command, a []string) error
	// run runs with a client of the daemon; out prints to stdout.
	run func(ctx context.Context, c *api.Client, a []string, out *printer) error
}

// newClientCmd builds the cobra command of s, printing to stdout.
func newClientCmd(o *options, stdout io.Writer, s clientCmd) *cobra.Command {
	return &cobra.Command{
		Use: s.use, Short: s.short, Long: s.long, Args: s.args,
		RunE: func(cmd *cobra.Command, a []string) error {
			if s.check != nil {
				if err := s.check(cmd, a); err != nil {
					return err
				}
			}
			return remote(o, func(ctx context.Context, c *api.Client) error {
				return s.run(ctx, c, a, newPrinter(stdout, o.json))
			})(cmd, a)
		},
	}
}

// answer is a clientCmd's run that prints what get returns as show
// formats it: the info object for --json, else the text.
func answer[T any](get func(*api.Client, context.Context) (T, error), show func(T) (typ string, fields map[string]any, text string)) func(context.Context, *api.Client, []string, *printer) error {
	return func(ctx context.Context, c *api.Client, _ []string, out *printer) error {
		v, err := get(c, ctx)
		if err != nil {
			return err
		}
		out.info(show(v))
		return nil
	}
}

// remote runs f with a client of the running daemon.
func remote(o *options, f func(ctx context.Context, c *api.Client) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		home, err := resolveHome(o.home)
		if err != nil {
			return err
		}
		c, err := daemonClient(cmd.Context(), o, home)
		if err != nil {
			return err
		}
		return f(cmd.Context(), c)
	}
}

// clientCmds are the subcommands that drive a running daemon, and paths.
func clientCmds(o *options, stdin io.Reader, stdout, stderr io.Writer) []*cobra.Command {
	return []*cobra.Command{
		newStatusCmd(o, stdout),
		newRoomsCmd(o, stdout),
		newJoinCmd(o, stdin, stdout, stderr),
		newLeaveCmd(o, stdout),
		newSendCmd(o, stdin, stdout),
		newReactCmd(o, stdout),
		newEditCmd(o, stdin, stdout),
		newDeleteCmd(o, stdout),
		newAwayCmd(o, stdout),
		newWhoCmd(o, stdout),
		newTailCmd(o, stdout),
		newPeersCmd(o, stdout),
		newVerifyCmd(o, stdout),
		newPathsCmd(o, stdout),
	}
}

// daemonClient returns a client of the daemon for home, or an error
// wrapping api.ErrNoDaemon (with a hint) if none answers.
func daemonClient(ctx context.Context, o *options, home string) (*api.Client, error) {
	sock, err := socketPath(o, home)
	if err != nil {
		return nil, err
	}
	c := api.NewClient(sock)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx); err != nil {
		if errors.Is(err, api.ErrNoDaemon) {
			return nil, fmt.Errorf("%w for state directory %s; start one with `p2pchat daemon` (or as a service, see README)", err, home)
		}
		return nil, err
	}
	return c, nil
}
