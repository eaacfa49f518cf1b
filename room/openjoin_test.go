package room_test

import (
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/room"
)

// TestOpenJoinOfPassphraseRoom: joining a passphrase room as an open room
// is refused (the open secret is the name's, not the passphrase's) and the
// joiner is told what to type, not that another group uses the name.
func TestOpenJoinOfPassphraseRoom(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, c := newPeer(t, "alice"), newPeer(t, "carol")
		connectAll(t, a, c)
		a.joinWith("vault", pass("correct horse battery staple"))
		<-mustRoom(t, a, "vault").Ready()

		c.join("vault")
		ev := c.waitEvent("the refusal", func(ev room.Event) bool {
			return ev.Type == room.EventError && ev.Reason == "wrong_passphrase"
		})
		if want := "vault needs a passphrase: /join -p vault"; !strings.Contains(ev.Err.Error(), want) {
			t.Errorf("carol was told %q, want %q", ev.Err, want)
		}
		// /join -p vault: joining again with the passphrase makes it a
		// passphrase room, and carol is admitted.
		c.joinWith("vault", pass("correct horse battery staple"))
		<-mustRoom(t, c, "vault").Ready()
		a.waitMember("vault", c)
		if k := mustRoom(t, c, "vault").Kind(); k != room.KindPassphrase {
			t.Errorf("carol's vault is %v", k)
		}
	})
}
