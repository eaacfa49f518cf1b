// Package room is p2pchat's protocol: room names to topics, admission of
// members by PAKE, epochs with rekeying on every join and leave, per-sender
// hash ratchets, signed and encrypted envelopes, membership.
//
// A [Manager] holds this node's rooms and is the one core that the faces in
// cmd/p2pchat drive: [Manager.Join], [Manager.Send], [Manager.Leave],
// [Manager.Verify], [Room.Members], [Manager.Status] and the
// [Manager.Events] stream.
//
// Joining a room subscribes to its topic ([TopicFor]) and asks a member to
// admit us over [ProtocolAdmit]: CPace on the room secret (derived from the
// name, or from name and passphrase), with key confirmation both ways. The
// member then creates a new epoch that includes us and hands it to the
// other members over [ProtocolRekey]; a departure triggers a rekey without
// the departed. Concurrent epochs converge: the higher number wins, then
// the lower key id. docs/PROTOCOL.md describes all of it byte by byte, with
// the threat model.
package room
