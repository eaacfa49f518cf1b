// Package room is p2pchat's protocol: room names to topics, admission of
// members by PAKE, a signed chain of epochs (a commit on every join and
// leave), per-sender
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
// member then signs a join commit on its epoch and hands the new epoch to
// us and to the other members over [ProtocolEpoch]; a departure makes a
// remove commit. Members adopt only commits that verify on a commit they
// hold; concurrent commits resolve by one fork-choice rule in which a
// removed member never wins against the branch that removed it.
// docs/PROTOCOL.md describes all of it byte by byte, with the threat model.
package room
