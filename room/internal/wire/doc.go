// Package wire holds p2pchat's room wire formats: the encrypted, signed
// message envelope published on a room's gossipsub topic, the key schedule
// that turns an epoch secret and roster into sender tags and per-sender hash
// ratchets, the signed commits that chain epochs, and the frames of the
// admission (CPace) and epoch protocols.
//
// Every format starts with a version byte; decoders refuse unknown versions
// with [ErrVersion] and check every length before allocating. The byte
// layouts are written down for people in docs/PROTOCOL.md; this package is
// the reference for machines.
//
// Envelope (all integers big-endian):
//
//	0   1  version (4)
//	1  16  room id
//	17  4  epoch number
//	21 16  key id
//	37 16  sender tag
//	53  4  chain index
//	57 24  nonce (XChaCha20-Poly1305)
//	81  …  ciphertext of the body under the chain's message key, 16-byte tag
//
// Body (the plaintext):
//
//	0   1  kind
//	1  32  author Ed25519 public key
//	33  8  sequence number
//	41  8  time, Unix nanoseconds
//	49  8  Lamport clock of the room
//	57  1  nick length n (1..32)
//	58  n  nick
//	…   2  text length m (0..16384)
//	…   m  text
//	…   1  extension length x (0..255)
//	…   x  extension: the referred message's id (16 bytes: reply, reaction),
//	       the author's own sequence number (8 bytes: edit, delete), none
//	       (other known kinds) or anything (kinds this version does not know)
//	…  64  Ed25519 signature by the author over SigLabel || header || body up to here
package wire
