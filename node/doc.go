// Package node runs the libp2p side of p2pchat: one host, LAN peer discovery,
// gossipsub topics and Noise-checked streams. It knows nothing about rooms or
// messages; callers bring their own bytes and validators.
//
// A [Node] is a libp2p host that speaks TCP only and secures every connection
// with Noise only (no TLS, no QUIC, no relays, no NAT port mapping, no hole
// punching), so that every connection it holds is a direct LAN connection
// whose security handshake we chose. Streams opened with [Node.Open] or
// served through [Node.Handle] are checked to run over Noise anyway, and
// refused with [ErrNotNoise] otherwise.
//
// Peers are found through mDNS (service [MDNSService]) and through addresses
// given in [Config.Peers], which the node keeps connected, redialing with
// exponential backoff. Connection changes are reported through
// [Config.Notify].
//
// [Node.Join] returns a [Topic], a gossipsub topic tuned for small rooms:
// publishing to the mesh only (flood publishing would ignore the peer
// filter), waiting briefly for peers that just appeared to join the mesh so
// that a message published right after reaches them, no author and no libp2p signature on messages (callers sign inside
// their payload), message IDs derived from the payload, and queues sized for
// bursts.
//
// Stream protocols frame messages with [WriteFrame] and [ReadFrame]:
//
//	+----------------------+----------------------+
//	| length (uvarint, 1–10 bytes, minimal form)  |
//	+----------------------+----------------------+
//	| payload (length bytes)                      |
//	+---------------------------------------------+
//
// The reader checks the length against a caller-given maximum before it
// allocates.
package node
