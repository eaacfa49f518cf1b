package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/p2pchat/p2pchat/cmd/p2pchat/internal/api"
	"github.com/p2pchat/p2pchat/room"
)

// joinBackend is a Backend that records joins and leaves; rooms holds the
// joined rooms, stored the kinds remembered in the state directory.
type joinBackend struct {
	api.Backend // nil: any other call panics
	rooms       map[string]room.RoomStatus
	stored      map[string]room.Kind
	calls       []string
}

func (b *joinBackend) Room(_ context.Context, name string) (api.RoomInfo, error) {
	st, ok := b.rooms[name]
	if !ok {
		return api.RoomInfo{}, fmt.Errorf("room %q: %w", name, room.ErrNotJoined)
	}
	return api.RoomInfo{RoomStatus: st}, nil
}

func (b *joinBackend) StoredKind(_ context.Context, name string) (room.Kind, error) {
	if k, ok := b.stored[name]; ok {
		return k, nil
	}
	return "", room.ErrNotJoined
}

func (b *joinBackend) Join(_ context.Context, name string, pass []byte) (api.RoomInfo, error) {
	b.calls = append(b.calls, fmt.Sprintf("join %s %q", name, pass))
	kind := room.KindOpen
	if pass != nil || b.stored[name] == room.KindPassphrase {
		kind = room.KindPassphrase
	}
	st := room.RoomStatus{Name: name, Kind: kind}
	b.rooms[name] = st
	return api.RoomInfo{RoomStatus: st}, nil
}

func (b *joinBackend) Leave(_ context.Context, name string) error {
	b.calls = append(b.calls, "leave "+name)
	delete(b.rooms, name)
	return nil
}

func (b *joinBackend) Rooms(context.Context) ([]api.RoomInfo, error) { return nil, nil }

// promptRecorder answers every passphrase prompt with pass and records it.
type promptRecorder struct {
	pass    string
	prompts []string
}

func (p *promptRecorder) readHidden(_ context.Context, prompt string) ([]byte, error) {
	p.prompts = append(p.prompts, prompt)
	return []byte(p.pass), nil
}

// TestJoinAsksOnlyWithP: /join ROOM joins an open room, or a remembered
// passphrase room with its stored secret, without a prompt; /join -p asks,
// also for a joined open room a member refused (it needs a passphrase),
// which is joined again with it.
func TestJoinAsksOnlyWithP(t *testing.T) {
	tests := []struct {
		name    string
		rooms   map[string]room.RoomStatus
		stored  map[string]room.Kind
		line    string
		prompts []string
		calls   []string
		err     string
	}{
		{name: "open", line: "/join lobby", calls: []string{`join lobby ""`}},
		{name: "remembered", stored: map[string]room.Kind{"vault": room.KindPassphrase}, line: "/join vault", calls: []string{`join vault ""`}},
		{name: "remembered open", stored: map[string]room.Kind{"lobby": room.KindOpen}, line: "/join Lobby", calls: []string{`join lobby ""`}},
		{name: "-p", line: "/join -p vault", prompts: []string{"passphrase for vault: "}, calls: []string{`join vault "pw"`}},
		{name: "-p after an open refusal",
			rooms:   map[string]room.RoomStatus{"vault": {Name: "vault", Kind: room.KindOpen}},
			line:    "/join -p vault",
			prompts: []string{"passphrase for vault: "}, calls: []string{`join vault "pw"`}},
		{name: "-p after a wrong passphrase",
			rooms:   map[string]room.RoomStatus{"vault": {Name: "vault", Kind: room.KindPassphrase}},
			line:    "/join -p vault",
			prompts: []string{"passphrase for vault: "}, calls: []string{`join vault "pw"`}},
		{name: "-p on a room with its key",
			rooms: map[string]room.RoomStatus{"vault": {Name: "vault", Kind: room.KindOpen, Ready: true}},
			line:  "/join -p vault",
			err:   `already in room "vault"; /leave it first to join it with another passphrase`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rooms == nil {
				tt.rooms = map[string]room.RoomStatus{}
			}
			b := &joinBackend{rooms: tt.rooms, stored: tt.stored}
			tty := &promptRecorder{pass: "pw"}
			col := &collector{}
			c := &commands{b: b, out: col, tty: tty}
			c.handle(context.Background(), tt.line)
			if !slices.Equal(tty.prompts, tt.prompts) {
				t.Errorf("prompts %q, want %q", tty.prompts, tt.prompts)
			}
			if !slices.Equal(b.calls, tt.calls) {
				t.Errorf("calls %q, want %q", b.calls, tt.calls)
			}
			var errs []string
			for _, o := range col.out {
				if o.Event != nil && o.Event.Err != nil {
					errs = append(errs, o.Event.Err.Error())
				}
			}
			if got := strings.Join(errs, "; "); got != tt.err {
				t.Errorf("errors %q, want %q", got, tt.err)
			}
		})
	}
}
