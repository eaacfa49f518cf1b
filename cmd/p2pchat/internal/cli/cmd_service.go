package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/service"
)

// serviceRunner runs the service manager's commands; tests replace it.
var serviceRunner service.Runner = service.ExecRunner{}

const serviceLong = `Register the daemon (p2pchat daemon) to start when you log in, for
your user only, with no administrator rights:

  Linux    a systemd user unit, ~/.config/systemd/user/p2pchat.service
           (systemctl --user; logs: journalctl --user -u p2pchat)
  macOS    a launchd agent, ~/Library/LaunchAgents/com.github.p2pchat.daemon.plist
           (launchctl; logs: ~/Library/Logs/p2pchat.log)
  Windows  a scheduled task "p2pchat" started at logon (schtasks), its
           definition kept in %LocalAppData%\p2pchat\p2pchat-task.xml

install writes the file and starts the daemon (again, if it ran);
uninstall stops it and removes the file (the state directory stays);
status says whether the file is there and asks the service manager.
Each prints what it wrote and ran; --dry-run prints the file and the
commands without doing anything.

The service runs this binary (or --binary PATH) with the state directory
and socket given by --home and --socket (or $P2PCHAT_HOME and
$P2PCHAT_SOCKET) when set, else the defaults. On macOS the socket path is
always written into the agent, so that the daemon and your shell agree on
it.`

func newServiceCmd(o *options, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service install|uninstall|status",
		Short: "run the daemon as a per-user service: systemd, launchd or Task Scheduler",
		Long:  serviceLong,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("usage: %s install|uninstall|status [flags]", cmd.CommandPath())}
		},
	}
	var dryRun bool
	var binary string
	install := serviceActionCmd(o, stdout, stderr, serviceAction{use: "install", short: "write the service file and start the daemon with it",
		usage: "[--dry-run] [--binary PATH]", dryRun: &dryRun, binary: &binary, build: service.InstallActions})
	install.Flags().BoolVar(&dryRun, "dry-run", false, "print the file and the commands; write and run nothing")
	install.Flags().StringVar(&binary, "binary", "", "the p2pchat binary the service runs, absolute `PATH` (default: this one)")
	uninstall := serviceActionCmd(o, stdout, stderr, serviceAction{use: "uninstall", short: "stop the daemon and remove the service file",
		usage: "[--dry-run]", dryRun: &dryRun, build: service.UninstallActions})
	uninstall.Flags().BoolVar(&dryRun, "dry-run", false, "print the commands; run and remove nothing")
	status := &cobra.Command{
		Use:   "status",
		Short: "whether the service is installed, and what the service manager says of it",
		Args:  args(0, 0, "(no arguments)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := serviceConfig(o, "", false)
			if err != nil {
				return err
			}
			if err := service.Status(cmd.Context(), c, serviceRunner, stdout, stderr); err != nil {
				return fmt.Errorf("service status: %w", err)
			}
			return nil
		},
	}
	cmd.AddCommand(install, uninstall, status)
	return cmd
}

// serviceAction describes service install or uninstall.
type serviceAction struct {
	use, short, usage string
	dryRun            *bool   // --dry-run: describe the actions, do nothing
	binary            *string // --binary of install; nil: uninstall
	build             func(service.Config) ([]service.Action, error)
}

// serviceActionCmd is the command of a: the actions it builds for the
// current user's configuration, done, or described with --dry-run.
func serviceActionCmd(o *options, stdout, stderr io.Writer, a serviceAction) *cobra.Command {
	return &cobra.Command{
		Use: a.use, Short: a.short, Args: args(0, 0, a.usage),
		RunE: func(cmd *cobra.Command, _ []string) error {
			binary := ""
			if a.binary != nil {
				binary = *a.binary
			}
			c, err := serviceConfig(o, binary, a.binary != nil)
			if err != nil {
				return err
			}
			actions, err := a.build(c)
			if err != nil {
				return err
			}
			if *a.dryRun {
				service.Describe(stdout, actions, true)
				return nil
			}
			if err := service.Do(cmd.Context(), actions, serviceRunner, stdout, stderr); err != nil {
				return fmt.Errorf("service %s: %w", a.use, err)
			}
			return nil
		},
	}
}

// serviceConfig is the current user's service configuration. binary is
// the binary to run ("": this one, which must not be a `go run` build);
// uninstall and status (forInstall false) do not use it.
func serviceConfig(o *options, binary string, forInstall bool) (service.Config, error) {
	var err error
	switch {
	case binary != "":
		binary, err = filepath.Abs(binary)
	case forInstall:
		binary, err = service.Executable()
	default:
		binary, err = os.Executable()
	}
	if err != nil {
		return service.Config{}, err
	}
	c, err := service.Current(binary)
	if err != nil {
		return service.Config{}, err
	}
	abs := func(p string) (string, error) {
		if p == "" {
			return "", nil
		}
		return filepath.Abs(p)
	}
	explicitHome := o.home
	if explicitHome == "" {
		explicitHome = os.Getenv("P2PCHAT_HOME")
	}
	if c.StateDir, err = abs(explicitHome); err != nil {
		return service.Config{}, err
	}
	explicitSocket := o.socket
	if explicitSocket == "" {
		explicitSocket = os.Getenv(socketEnv)
	}
	if explicitSocket == "" && c.OS == "darwin" {
		// A launchd agent need not see the $TMPDIR of a login shell.
		if _, explicitSocket, err = homeAndSocket(o); err != nil {
			return service.Config{}, err
		}
	}
	if c.Socket, err = abs(explicitSocket); err != nil {
		return service.Config{}, err
	}
	return c, nil
}
