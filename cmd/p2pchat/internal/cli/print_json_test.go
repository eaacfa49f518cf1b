package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// TestStatusAnswerJSON pins the bytes of line mode's status object, now
// built from api.RoomJSON: members sorted by name as when it was a map,
// large numbers exact, an empty room list null.
func TestStatusAnswerJSON(t *testing.T) {
	id, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	fp := id.Fingerprint()
	st := api.Status{Self: api.Self{PeerID: id.PeerID(), Fingerprint: fp, Nick: "a<b>"}, Peers: 2, Rooms: []room.RoomStatus{
		{Name: "lobby", Kind: room.KindOpen, Ready: true, Members: 1, Roster: 2, Buffered: 3, Epoch: 4294967295, KeyID: "abcd", Topic: "t",
			Drops: map[string]uint64{"replay": 18446744073709551615}},
	}}
	var b bytes.Buffer
	p := newPrinter(&b, true)
	typ, fields, _ := statusAnswer(st)
	p.info(typ, fields, "")
	want := `{"fingerprint":"` + fp.String() + `","nick":"a\u003cb\u003e","peer_id":"` + id.PeerID().String() + `","peers":2,"rooms":[` +
		`{"buffered":3,"dropped":{"replay":18446744073709551615},"epoch":4294967295,"key_id":"abcd","kind":"open","members":1,"ready":true,"room":"lobby","roster":2,"topic":"t"}],"type":"status"}` + "\n"
	if b.String() != want {
		t.Errorf("status:\n got %s\nwant %s", b.String(), want)
	}
	b.Reset()
	st.Rooms = nil
	typ, fields, _ = statusAnswer(st)
	p.info(typ, fields, "")
	if want := `"rooms":null`; !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("no rooms: %s, want %s", b.String(), want)
	}
}

// TestPeersAnswerMarks: p2pchat peers marks a verified peer ✓ and one whose
// fingerprint did not match at the last check with a warning, in --plain,
// and says both in --json.
func TestPeersAnswerMarks(t *testing.T) {
	var ps []api.PeerInfo
	for i, nick := range []string{"bob", "mallory", "carol"} {
		id, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, api.PeerInfo{PeerID: id.PeerID(), Fingerprint: id.Fingerprint(), Nick: nick, Verified: i == 0, Mismatch: i == 1})
	}
	_, fields, text := peersAnswer(ps)
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "bob#"+ps[0].Fingerprint.Short()+" ✓ ") ||
		!strings.Contains(lines[2], "mallory#"+ps[1].Fingerprint.Short()+" ! (fingerprint did not match: verify again) ") ||
		strings.ContainsAny(lines[3], "✓!") {
		t.Errorf("peers --plain:\n%s", text)
	}
	list := fields["peers"].([]map[string]any)
	for i, want := range [][2]bool{{true, false}, {false, true}, {false, false}} {
		if list[i]["verified"] != want[0] || list[i]["mismatch"] != want[1] {
			t.Errorf("peers[%d] = %v, want verified %v mismatch %v", i, list[i], want[0], want[1])
		}
	}
}
