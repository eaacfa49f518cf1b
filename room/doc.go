// Package room is p2pchat's protocol: room names to topics, admission of
// members, room keys and epochs, signed and encrypted envelopes, membership.
//
// A [Manager] holds this node's rooms and is the one core that the faces in
// cmd/p2pchat drive: [Manager.Join], [Manager.Send], [Manager.Leave],
// [Room.Members], [Manager.Status] and the [Manager.Events] stream.
//
// Joining a room subscribes to its topic ([TopicFor]) and obtains the room
// key from a member over the [ProtocolAdmit] stream, where each side proves
// with a MAC that it knows the room name; if no member answers within
// Timing.FoundWait the joiner creates the key. Nodes that created keys at
// the same time converge on one: the epoch with the higher number wins, then
// the lower key id (see wire.EpochRef.Better). docs/PROTOCOL.md describes
// all of it byte by byte.
package room
