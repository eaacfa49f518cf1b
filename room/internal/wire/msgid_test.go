package wire

import (
	"crypto/ed25519"
	"encoding/hex"
	"testing"
)

// TestMessageID pins the v2 derivation (computed apart from this code:
// SHA-256 of the label, the room ID, the author's key and the big-endian
// seq, cut to 16 bytes) and checks that the room changes the id.
func TestMessageID(t *testing.T) {
	var room RoomID
	for i := range room {
		room[i] = byte(i)
	}
	author := make(ed25519.PublicKey, ed25519.PublicKeySize)
	for i := range author {
		author[i] = byte(100 + i)
	}
	id := MessageID(room, author, 7)
	if got, want := hex.EncodeToString(id[:]), "2fe726b25c0c0e608350c77810357847"; got != want {
		t.Errorf("MessageID = %s, want %s", got, want)
	}
	if other := MessageID(DeriveRoomID("vault"), author, 7); other == id {
		t.Error("another room gives the same id")
	}
	if next := MessageID(room, author, 8); next == id {
		t.Error("another seq gives the same id")
	}
}
