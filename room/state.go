package room

import (
	"context"

	"github.com/p2pchat/p2pchat/room/store"
)

// Store is a state directory's database, for [Config.Store]: what a node
// remembers across runs (room secrets, verified peers, message history).
type Store = store.Store

// DatabaseFile is the name of the database in a state directory.
const DatabaseFile = store.FileName

// OpenStore opens the database of the state directory dir, creating it if
// need be.
func OpenStore(ctx context.Context, dir string) (*Store, error) { return store.Open(ctx, dir) }

// LastNick returns the nick remembered in st by the last run, if it is a
// valid nick.
func LastNick(ctx context.Context, st *Store) (string, bool) {
	nick, ok, err := st.Setting(ctx, store.SettingNick)
	if err != nil || !ok || !ValidNick(nick) {
		return "", false
	}
	return nick, true
}
