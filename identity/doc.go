// Package identity holds a node's long-term Ed25519 key: it generates the key,
// stores it in a key file, derives the libp2p peer ID from it, and renders
// the human-checkable fingerprint that users compare to recognise each other.
//
// # Key file
//
// The key lives in [KeyFileName] inside the node's data directory. It is a
// text file of exactly three lines, each ending in '\n':
//
//	p2pchat identity v1
//	seed <standard base64 of the 32-byte Ed25519 seed, with padding>
//	public <standard base64 of the 32-byte Ed25519 public key, with padding>
//
// The header line carries the format version; a file naming another version
// is refused with [ErrUnknownVersion]. The public line is redundant on
// purpose: it must equal the key derived from the seed, which turns a damaged
// seed into [ErrCorrupt] instead of a silently different identity. The file
// must be no larger than 4 KiB and, on Unix, must not be accessible by group
// or others ([ErrInsecureMode]).
//
// # Fingerprints
//
// A [Fingerprint] is SHA-256("p2pchat/v1/fingerprint" || public key), where
// the public key is the raw 32 bytes. Its full form, like a Syncthing device
// ID, is built as follows:
//
//  1. Encode the 32 bytes in base32 (RFC 4648 alphabet A–Z, 2–7, no padding),
//     giving 52 characters.
//  2. Split them into 4 chunks of 13 characters and append to each chunk one
//     Luhn mod 32 check character (see below), giving 56 characters.
//  3. Print them in upper case as 8 groups of 7 joined by '-'.
//
// The check character of a chunk is computed over the characters' values
// (their index in the alphabet, A=0 … 7=31): walking from the last character
// to the first, every other value is doubled, starting with the last one; a
// doubled value v is replaced by v/32 + v%32. With s the sum of all values,
// the check character is the one whose value is (32 - s%32) % 32.
//
// The check characters catch every single-character substitution, and every
// swap of two adjacent characters within a chunk except a swap of 'A' and '7'.
// Parsing also requires the last base32 character, which carries one bit of
// the hash and four zero bits, to be 'A' or 'Q'.
//
//	DDDDDDD-DDDDDDC-DDDDDDD-DDDDDDC-DDDDDDD-DDDDDDC-DDDDDDD-DDDDDDC
//	D: base32 of the hash, 13 per chunk   C: the chunk's check character
//
// The short form, [Fingerprint.Short], is the first 5 base32 characters in
// lower case; it names a peer in the UI ("alice#k3f9q") but is far too short
// to authenticate one.
package identity
