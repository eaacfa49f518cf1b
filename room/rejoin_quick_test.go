package room_test

import (
	"context"
	"testing"
	"time"

	"github.com/p2pchat/p2pchat/room"
)

// TestLeaveAndJoinAgain: a member of a passphrase room leaves and joins
// again a few seconds later; it is admitted into the others' epoch, not
// left alone in one it made itself.
func TestLeaveAndJoinAgain(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		pass := []byte("pw-" + t.Name())
		a, b, c := newPeer(t, "alice"), newPeer(t, "bob"), newPeer(t, "carol")
		connect(t, a, b)
		connect(t, a, c)
		connect(t, b, c)
		a.joinWith("vault", room.JoinOptions{Passphrase: pass})
		<-mustRoom(t, a, "vault").Ready()
		b.joinWith("vault", room.JoinOptions{Passphrase: pass})
		c.joinWith("vault", room.JoinOptions{Passphrase: pass})
		a.waitMember("vault", b)
		a.waitMember("vault", c)
		if err := c.m.Leave(context.Background(), "vault"); err != nil {
			t.Fatal(err)
		}
		quiet(t, 3*time.Second)
		c.joinWith("vault", room.JoinOptions{Passphrase: pass})
		a.waitMember("vault", c)
		quiet(t, 5*time.Second)
		sa, sc := a.m.Status().Rooms[0], c.m.Status().Rooms[0]
		if sa.KeyID != sc.KeyID || sa.Roster != 3 {
			t.Errorf("after carol joined again: alice %+v, carol %+v", sa, sc)
		}
	})
}
