package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/p2pchat/p2pchat/room"
)

// passphraseEnv names the environment variable that holds the passphrase of
// the rooms joined at start, when --passphrase-file is not given.
const passphraseEnv = "P2PCHAT_PASSPHRASE"

// startPassphrase returns the passphrase for the rooms joined at start:
// the contents of --passphrase-file, else $P2PCHAT_PASSPHRASE, else nil (open
// rooms, or the secrets stored for them). An empty or oversized passphrase
// is a usage error; an unreadable file a runtime error. The caller clears
// the result when done.
func startPassphrase(file string) ([]byte, error) {
	if file == "" {
		if p := os.Getenv(passphraseEnv); p != "" {
			if len(p) > room.MaxPassphrase {
				return nil, usageError{fmt.Errorf("$%s is longer than %d bytes", passphraseEnv, room.MaxPassphrase)}
			}
			return []byte(p), nil
		}
		return nil, nil
	}
	return readPassphraseFile(file)
}

// readPassphraseFile returns the whole of file minus one trailing "\n" or
// "\r\n".
func readPassphraseFile(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--passphrase-file: %w", err)
	}
	defer f.Close()
	// Read at most what a maximal passphrase and its line ending take, plus
	// one byte to notice a longer file, so a wrong path cannot eat memory.
	b, err := io.ReadAll(io.LimitReader(f, room.MaxPassphrase+3))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("--passphrase-file: %w", err)
	}
	p := trimLineEnd(b)
	switch {
	case len(p) == 0:
		return nil, usageError{fmt.Errorf("--passphrase-file %s: the file is empty; put the passphrase in it", file)}
	case len(p) > room.MaxPassphrase || len(b) > room.MaxPassphrase+2:
		clear(b)
		return nil, usageError{fmt.Errorf("--passphrase-file %s: the passphrase is longer than %d bytes", file, room.MaxPassphrase)}
	}
	return p, nil
}

// trimLineEnd removes one trailing "\r\n" or "\n".
func trimLineEnd(b []byte) []byte {
	if p, ok := bytes.CutSuffix(b, []byte("\r\n")); ok {
		return p
	}
	p, _ := bytes.CutSuffix(b, []byte("\n"))
	return p
}
