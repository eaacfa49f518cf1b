package room

import (
	"errors"
	"fmt"

	"github.com/p2pchat/p2pchat/room/internal/wire"
)

// DescribeKind says in words who can join a room of kind: what every face
// shows next to a room.
func DescribeKind(kind Kind) string {
	switch kind {
	case KindOpen:
		return "open: anyone on the network who knows the name can join"
	case KindPassphrase:
		return "passphrase: only peers that prove they know the passphrase can join"
	}
	return string(kind)
}

// ErrPassphrase is returned for an empty or oversized passphrase.
var ErrPassphrase = errors.New("passphrase must be 1 to 1024 bytes")

// MaxPassphrase is the longest passphrase in bytes.
const MaxPassphrase = 1024

// JoinOptions says how to join a room. The zero value joins an open room,
// unless a secret for the room is stored (Config.Store), in which case the
// stored one is used.
type JoinOptions struct {
	// Passphrase, if set, makes the room a passphrase room: only peers that
	// prove knowledge of the same passphrase (CPace) are admitted. It is
	// hashed with Argon2id and the hash is stored to rejoin after a restart;
	// the passphrase itself is not kept.
	Passphrase []byte
}

// secretFor derives the admission secret of a normalised room name.
func secretFor(name string, opts JoinOptions) (kind Kind, secret [32]byte, err error) {
	if opts.Passphrase == nil {
		return KindOpen, wire.OpenRoomSecret(name), nil
	}
	if len(opts.Passphrase) == 0 || len(opts.Passphrase) > MaxPassphrase {
		return "", secret, fmt.Errorf("room %q: %w", name, ErrPassphrase)
	}
	return KindPassphrase, testOnlyPassphraseSecret(name, opts.Passphrase), nil
}

// testOnlyPassphraseSecret is wire.PassphraseRoomSecret (Argon2id); room's
// tests replace it with a cheap hash (export_test.go), as age's tests do
// with testOnlyConfigureScryptIdentity. Nothing else may change it.
var testOnlyPassphraseSecret = wire.PassphraseRoomSecret
