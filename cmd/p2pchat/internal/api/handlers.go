package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/p2pchat/p2pchat/room"
)

func (s *Server) getRoot(_ http.ResponseWriter, r *http.Request) (any, error) {
	return rootJSON{API: "p2pchat", Version: Version}, nil
}

func (s *Server) getStatus(_ http.ResponseWriter, r *http.Request) (any, error) {
	st, err := s.backend.Status(r.Context())
	if err != nil {
		return nil, err
	}
	out := statusJSON{Type: "status", PeerID: st.PeerID.String(), Fingerprint: st.Fingerprint.String(), FP: st.Fingerprint.Short(),
		Nick: st.Nick, Addrs: nonNil(st.Addrs), Peers: st.Peers, Rooms: []RoomJSON{}}
	for _, rs := range st.Rooms {
		out.Rooms = append(out.Rooms, roomStatusJSON(rs))
	}
	return out, nil
}

func (s *Server) getRooms(_ http.ResponseWriter, r *http.Request) (any, error) {
	rooms, err := s.backend.Rooms(r.Context())
	if err != nil {
		return nil, err
	}
	out := roomsJSON{Rooms: []roomInfoJSON{}}
	for _, ri := range rooms {
		out.Rooms = append(out.Rooms, roomInfoToJSON(ri))
	}
	return out, nil
}

func (s *Server) postRoom(w http.ResponseWriter, r *http.Request) (any, error) {
	var req joinRequest
	defer func() { clear(req.Passphrase) }()
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	name, err := normalize(req.Room)
	if err != nil {
		return nil, err
	}
	var pass []byte
	if req.Passphrase != nil {
		pass = req.Passphrase
	}
	ri, err := s.backend.Join(r.Context(), name, pass)
	if err != nil {
		return nil, err
	}
	return roomInfoToJSON(ri), nil
}

func (s *Server) getRoom(_ http.ResponseWriter, r *http.Request) (any, error) {
	ri, err := s.pathRoomInfo(r)
	if err != nil {
		return nil, err
	}
	return roomInfoToJSON(ri), nil
}

// pathRoomInfo returns the joined room that r's path names.
func (s *Server) pathRoomInfo(r *http.Request) (RoomInfo, error) {
	name, _, err := pathRoom(r)
	if err != nil {
		return RoomInfo{}, err
	}
	return s.backend.Room(r.Context(), name)
}

func (s *Server) deleteRoom(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, _, err := pathRoom(r)
	if err != nil {
		return nil, err
	}
	if err := s.backend.Leave(r.Context(), name); err != nil {
		return nil, err
	}
	return leftJSON{Room: name}, nil
}

func (s *Server) getMembers(_ http.ResponseWriter, r *http.Request) (any, error) {
	ri, err := s.pathRoomInfo(r)
	if err != nil {
		return nil, err
	}
	return whoJSON{Type: "who", Room: ri.Name, Members: MembersJSON(ri.Members), Absent: MembersJSON(ri.Absent)}, nil
}

func (s *Server) getStored(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, _, err := pathRoom(r)
	if err != nil {
		return nil, err
	}
	kind, err := s.backend.StoredKind(r.Context(), name)
	if err != nil {
		return nil, err
	}
	return storedJSON{Room: name, Kind: kind}, nil
}

func (s *Server) getMessages(_ http.ResponseWriter, r *http.Request) (any, error) {
	name, q, err := pathRoom(r, "n")
	if err != nil {
		return nil, err
	}
	n, err := intParam(q, "n", defaultHistory, 0, MaxHistory)
	if err != nil {
		return nil, err
	}
	msgs, err := s.backend.History(r.Context(), name, n)
	if err != nil {
		return nil, err
	}
	out := historyJSON{Room: name, Messages: make([]map[string]any, 0, len(msgs))}
	for _, m := range msgs {
		obj := map[string]any{"type": "history", "room": name}
		AddMessage(obj, m)
		out.Messages = append(out.Messages, obj)
	}
	return out, nil
}

func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) (any, error) {
	name, wait, err := roomAndWait(r)
	if err != nil {
		return nil, err
	}
	var req sendRequest
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	if req.Text == "" {
		return nil, fmt.Errorf("%w: text is empty", ErrBadRequest)
	}
	if req.Action && req.ReplyTo != "" {
		return nil, fmt.Errorf("%w: a reply cannot be an action", ErrBadRequest)
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	var m *room.Message
	if req.ReplyTo != "" {
		m, err = s.backend.Annotate(ctx, name, room.Annotation{Kind: room.AnnotateReply, Target: req.ReplyTo, Text: req.Text})
	} else {
		m, err = s.backend.Send(ctx, name, req.Text, req.Action)
	}
	if err != nil {
		return nil, err
	}
	return messageJSON(name, m), nil
}

// roomAndWait reads the room of a send's path and its wait query
// parameter: how long it may wait for the room key.
func roomAndWait(r *http.Request) (string, time.Duration, error) {
	name, q, err := pathRoom(r, "wait")
	if err != nil {
		return "", 0, err
	}
	v, ok := q["wait"]
	if !ok {
		return name, DefaultWait, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > MaxWait {
		return "", 0, fmt.Errorf("%w: wait=%q: want a duration such as 10s, at most %v", ErrBadRequest, v, MaxWait)
	}
	return name, d, nil
}

// messageJSON is a message as a response: the message event's object.
func messageJSON(roomName string, m *room.Message) map[string]any {
	obj := map[string]any{"type": "message", "room": roomName}
	AddMessage(obj, m)
	return obj
}

func (s *Server) postReaction(w http.ResponseWriter, r *http.Request) (any, error) {
	var req reactRequest
	return s.annotate(w, r, room.AnnotateReact, &req, func() string { return req.Reaction })
}

func (s *Server) patchMessage(w http.ResponseWriter, r *http.Request) (any, error) {
	var req editRequest
	return s.annotate(w, r, room.AnnotateEdit, &req, func() string { return req.Text })
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.annotate(w, r, room.AnnotateDelete, nil, func() string { return "" })
}

// annotate answers a request naming message {id} of {room}: body (nil:
// none is read) is decoded, text says what it carries.
func (s *Server) annotate(w http.ResponseWriter, r *http.Request, kind room.AnnotationKind, body any, text func() string) (any, error) {
	name, wait, err := roomAndWait(r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		if err := readBody(w, r, body); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	m, err := s.backend.Annotate(ctx, name, room.Annotation{Kind: kind, Target: r.PathValue("id"), Text: text()})
	if err != nil {
		return nil, err
	}
	return messageJSON(name, m), nil
}

func (s *Server) getSearch(_ http.ResponseWriter, r *http.Request) (any, error) {
	q, err := queryParams(r, "q", "room", "n")
	if err != nil {
		return nil, err
	}
	if q["q"] == "" {
		return nil, fmt.Errorf("%w: missing q (the text to search for)", ErrBadRequest)
	}
	var roomName string
	if v, ok := q["room"]; ok {
		if roomName, err = normalize(v); err != nil {
			return nil, err
		}
	}
	n, err := intParam(q, "n", DefaultSearch, 1, MaxSearch)
	if err != nil {
		return nil, err
	}
	hits, err := s.backend.Search(r.Context(), q["q"], roomName, n)
	if err != nil {
		return nil, err
	}
	out := searchJSON{Query: q["q"], Hits: make([]map[string]any, 0, len(hits))}
	for _, h := range hits {
		obj := map[string]any{"type": "search_hit", "room": h.Room, "snippet": h.Snippet}
		AddMessage(obj, h.Message)
		out.Hits = append(out.Hits, obj)
	}
	return out, nil
}

func (s *Server) getPeers(_ http.ResponseWriter, r *http.Request) (any, error) {
	peers, err := s.backend.Peers(r.Context())
	if err != nil {
		return nil, err
	}
	out := peersJSON{Peers: make([]peerJSON, 0, len(peers))}
	for _, p := range peers {
		out.Peers = append(out.Peers, peerJSON{PeerID: p.PeerID.String(), FP: p.Fingerprint.Short(), Fingerprint: p.Fingerprint.String(),
			Nick: p.Nick, Verified: p.Verified, Mismatch: p.Mismatch, Addrs: nonNil(p.Addrs)})
	}
	return out, nil
}

func (s *Server) getPeer(_ http.ResponseWriter, r *http.Request) (any, error) {
	p, fp, err := parsePeer(r.PathValue("peer"))
	if err != nil {
		return nil, err
	}
	verified, err := s.backend.Verified(r.Context(), p)
	if err != nil {
		return nil, err
	}
	return fingerprintJSON{Type: "fingerprint", PeerID: p.String(), Nick: s.nickOf(r.Context(), p), FP: fp.Short(),
		Fingerprint: fp.String(), Verified: &verified}, nil
}

func (s *Server) postVerify(w http.ResponseWriter, r *http.Request) (any, error) {
	var req verifyRequest
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	p, fp, err := parsePeer(req.PeerID)
	if err != nil {
		return nil, err
	}
	if err := s.backend.Verify(r.Context(), p, req.Fingerprint); err != nil {
		if errors.Is(err, room.ErrFingerprint) {
			// Not err: an answer that spelled out the real fingerprint would
			// invite pasting it back.
			return nil, fmt.Errorf("the fingerprint given is not the one of %s#%s's key; do not trust it until you know why (its verification, if any, is cleared): %w",
				s.nickOf(r.Context(), p), fp.Short(), room.ErrFingerprint)
		}
		return nil, err
	}
	return fingerprintJSON{Type: "verified", PeerID: p.String(), Nick: s.nickOf(r.Context(), p), FP: fp.Short(), Fingerprint: fp.String()}, nil
}

func (s *Server) putNick(w http.ResponseWriter, r *http.Request) (any, error) {
	var req nickRequest
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	if err := s.backend.SetNick(r.Context(), req.Nick); err != nil {
		return nil, err
	}
	return nickJSON{Type: "nick", Nick: req.Nick}, nil
}

func (s *Server) putAway(w http.ResponseWriter, r *http.Request) (any, error) {
	var req awayRequest
	if err := readBody(w, r, &req); err != nil {
		return nil, err
	}
	if err := s.backend.SetAway(r.Context(), req.Text); err != nil {
		return nil, err
	}
	return awayJSON{Type: "away", Text: req.Text}, nil
}

func (s *Server) postWeb(w http.ResponseWriter, r *http.Request) (any, error) {
	if r.ContentLength != 0 { // no body, or {}
		var req webRequest
		if err := readBody(w, r, &req); err != nil {
			return nil, err
		}
	}
	if s.webLogin == nil {
		return nil, ErrNoWeb
	}
	l, err := s.webLogin(r.Context())
	if err != nil {
		return nil, err
	}
	l.Type = "web"
	return l, nil
}

// nickOf returns the nick p uses in a joined room, else the last one seen
// for it, else "".
func (s *Server) nickOf(ctx context.Context, p peer.ID) string {
	if rooms, err := s.backend.Rooms(ctx); err == nil {
		for _, ri := range rooms {
			for _, m := range ri.Members {
				if m.Peer == p && m.Nick != "" {
					return m.Nick
				}
			}
		}
	}
	if peers, err := s.backend.Peers(ctx); err == nil {
		for _, pi := range peers {
			if pi.PeerID == p {
				return pi.Nick
			}
		}
	}
	return ""
}
