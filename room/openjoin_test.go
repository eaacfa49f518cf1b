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

// TestGuesserNamedByNick: the line members see for a peer that tried too
// many passphrases names it as nick#fp when it is known from another room,
// not as peer#fp.
func TestGuesserNamedByNick(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		a, c := newPeer(t, "alice"), newPeer(t, "carol")
		connect(t, a, c)
		a.join("lobby")
		c.join("lobby")
		a.waitMember("lobby", c)
		<-a.joinWith("vault", pass("right")).Ready()
		refusals := func() int {
			c.mu.Lock()
			defer c.mu.Unlock()
			n := 0
			for _, ev := range c.events {
				if ev.Type == room.EventError && ev.Reason == room.ReasonWrongPassphrase {
					n++
				}
			}
			return n
		}
		for i := range 5 {
			c.joinWith("vault", pass("wrong "+string(rune('a'+i))))
			waitFor(t, "the attempt's refusal", func() bool { return refusals() == i+1 })
		}
		ev := a.waitEvent("the rate-limit line", func(ev room.Event) bool {
			return ev.Type == room.EventError && ev.Room == "vault" && strings.Contains(ev.Err.Error(), "admissions without proving")
		})
		want := "carol#" + c.id.Fingerprint().Short() + " tried 5 admissions"
		if !strings.Contains(ev.Err.Error(), want) {
			t.Errorf("alice was told %q, want %q", ev.Err, want)
		}
	})
}
