package api

import (
	"time"

	"github.com/p2pchat/p2pchat/room"
)

// The JSON objects of the API, shared by the server and the client. The
// objects that line mode also prints (status, who, fingerprint, verified,
// nick, history, search_hit, message) have its fields (docs/CLI.md).
type (
	rootJSON struct {
		API     string `json:"api"`
		Version int    `json:"version"`
	}
	statusJSON struct {
		Type        string     `json:"type"`
		PeerID      string     `json:"peer_id"`
		Fingerprint string     `json:"fingerprint"`
		FP          string     `json:"fp"`
		Nick        string     `json:"nick"`
		Addrs       []string   `json:"addrs"`
		Peers       int        `json:"peers"`
		Rooms       []RoomJSON `json:"rooms"`
	}
	// RoomJSON is a room's status: the rooms of /v1/status and of line
	// mode's status answer.
	RoomJSON struct {
		Room     string            `json:"room"`
		Kind     room.Kind         `json:"kind"`
		Ready    bool              `json:"ready"`
		Members  int               `json:"members"`
		Roster   int               `json:"roster"`
		Buffered int               `json:"buffered"`
		Epoch    uint32            `json:"epoch"`
		KeyID    string            `json:"key_id"`
		Topic    string            `json:"topic"`
		Dropped  map[string]uint64 `json:"dropped"`
	}
	roomInfoJSON struct {
		RoomJSON
		MemberList []MemberJSON `json:"member_list"`
		AbsentList []MemberJSON `json:"absent_list"` // members before, not now
	}
	roomsJSON struct {
		Rooms []roomInfoJSON `json:"rooms"`
	}
	// MemberJSON is a room member: in /v1/rooms and line mode's who.
	MemberJSON struct {
		PeerID      string `json:"peer_id"`
		Nick        string `json:"nick"`
		FP          string `json:"fp"`
		Fingerprint string `json:"fingerprint"`
		Verified    bool   `json:"verified"`
		Mismatch    bool   `json:"mismatch"`
		Away        string `json:"away"`                // its away text, "" while available
		LastSeen    string `json:"last_seen,omitempty"` // RFC 3339, UTC: when this node last heard from it
	}
	whoJSON struct {
		Type    string       `json:"type"`
		Room    string       `json:"room"`
		Members []MemberJSON `json:"members"`
		Absent  []MemberJSON `json:"absent"`
	}
	storedJSON struct {
		Room string    `json:"room"`
		Kind room.Kind `json:"kind"`
	}
	leftJSON struct {
		Room string `json:"room"`
	}
	peerJSON struct {
		PeerID      string   `json:"peer_id"`
		FP          string   `json:"fp"`
		Fingerprint string   `json:"fingerprint"`
		Nick        string   `json:"nick"`
		Verified    bool     `json:"verified"`
		Mismatch    bool     `json:"mismatch"`
		Addrs       []string `json:"addrs"`
	}
	peersJSON struct {
		Peers []peerJSON `json:"peers"`
	}
	// fingerprintJSON is the fingerprint object, and without Verified the
	// verified one.
	fingerprintJSON struct {
		Type        string `json:"type"`
		PeerID      string `json:"peer_id"`
		Nick        string `json:"nick"`
		FP          string `json:"fp"`
		Fingerprint string `json:"fingerprint"`
		Verified    *bool  `json:"verified,omitempty"`
	}
	nickJSON struct {
		Type string `json:"type"`
		Nick string `json:"nick"`
	}
	awayJSON struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	historyJSON struct {
		Room     string           `json:"room"`
		Messages []map[string]any `json:"messages"`
	}
	searchJSON struct {
		Query string           `json:"query"`
		Hits  []map[string]any `json:"hits"`
	}
)

// Request bodies. Members tagged api:"required" must be present; no member
// may be null or unknown.
type (
	joinRequest struct {
		Room       string `json:"room" api:"required"`
		Passphrase secret `json:"passphrase"`
	}
	sendRequest struct {
		Text    string `json:"text" api:"required"`
		Action  bool   `json:"action"`
		ReplyTo string `json:"reply_to"`
	}
	reactRequest struct {
		Reaction string `json:"reaction" api:"required"`
	}
	editRequest struct {
		Text string `json:"text" api:"required"`
	}
	verifyRequest struct {
		PeerID      string `json:"peer_id" api:"required"`
		Fingerprint string `json:"fingerprint" api:"required"`
	}
	awayRequest struct {
		Text string `json:"text" api:"required"`
	}
	nickRequest struct {
		Nick string `json:"nick" api:"required"`
	}
	webRequest struct{}
)

// WebLogin is the answer of POST /v1/web: where the node's web UI listens
// and a one-time URL that logs a browser in to it.
type WebLogin struct {
	Type string `json:"type"` // "web"
	URL  string `json:"url"`
	Addr string `json:"addr"`
}

func roomStatusJSON(rs room.RoomStatus) RoomJSON {
	drops := rs.Drops
	if drops == nil {
		drops = map[string]uint64{}
	}
	return RoomJSON{Room: rs.Name, Kind: rs.Kind, Ready: rs.Ready, Members: rs.Members, Roster: rs.Roster,
		Buffered: rs.Buffered, Epoch: rs.Epoch, KeyID: rs.KeyID, Topic: rs.Topic, Dropped: drops}
}

func roomInfoToJSON(ri RoomInfo) roomInfoJSON {
	return roomInfoJSON{RoomJSON: roomStatusJSON(ri.RoomStatus), MemberList: MembersJSON(ri.Members), AbsentList: MembersJSON(ri.Absent)}
}

// MembersJSON is the member objects of ms, as who and member_list have them.
func MembersJSON(ms []room.Member) []MemberJSON {
	out := make([]MemberJSON, 0, len(ms))
	for _, m := range ms {
		mj := MemberJSON{PeerID: m.Peer.String(), Nick: m.Nick, FP: m.Fingerprint.Short(),
			Fingerprint: m.Fingerprint.String(), Verified: m.Verified, Mismatch: m.Mismatch, Away: m.Away}
		if !m.LastSeen.IsZero() {
			mj.LastSeen = m.LastSeen.UTC().Format(time.RFC3339)
		}
		out = append(out, mj)
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
