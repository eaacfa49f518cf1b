package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCmd is p2pchat man: it writes the man pages, generated from the commands.
func newManCmd(root *cobra.Command, stdout io.Writer) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "man",
		Short: "write the man pages (p2pchat.1, p2pchat-daemon.1, …) into a directory",
		Args:  args(0, 0, "[--dir DIR]"),
		RunE: func(*cobra.Command, []string) error {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			hdr := &doc.GenManHeader{Title: "P2PCHAT", Section: "1", Source: "p2pchat", Manual: "p2pchat manual"}
			if err := doc.GenManTree(root, hdr, dir); err != nil {
				return fmt.Errorf("man: %w", err)
			}
			pages, _ := filepath.Glob(filepath.Join(dir, "p2pchat*.1"))
			fmt.Fprintf(stdout, "wrote %d man pages to %s (try: man %s)\n", len(pages), dir, filepath.Join(dir, "p2pchat.1"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "man", "directory to write the pages to")
	return cmd
}
