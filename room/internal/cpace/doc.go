// Package cpace implements CPace-RISTR255-SHA512, the balanced
// password-authenticated key exchange of draft-irtf-cfrg-cpace, over the
// ristretto255 group with SHA-512 as the hash H.
//
// Two parties that share a low-entropy password-related string PRS each
// send one message and derive the same 64-byte intermediate session key
// ISK. An eavesdropper learns nothing about PRS; an active attacker gets a
// single online guess per run.
//
// The construction, with the draft's section names:
//
// Notation ("Notation for string operations"): lv(x) is prepend_len(x), the
// length of x as an unsigned LEB128 integer followed by x; lv_cat(a, b, …)
// is lv(a) || lv(b) || …. H is SHA-512 with block size s_in_bytes = 128.
//
// Generator ("Common function for computing generators" and "CPace group
// objects for ristretto255 and decaf448"):
//
//	zpad             = max(0, s_in_bytes - 1 - len(lv(PRS)) - len(lv(DSI))) zero bytes
//	generator_string = lv_cat(DSI, PRS, zpad, CI, sid)
//	g                = ristretto255 one-way map (FromUniformBytes) of SHA-512(generator_string)
//
// with DSI = "CPaceRistretto255". The padding puts DSI and PRS alone in the
// first hash block, so the PRS-dependent part of the hash state cannot be
// precomputed across different CI and sid values.
//
// Protocol flow ("CPace protocol"): each party samples a secret scalar y
// uniformly modulo the group order and sends Y = y·g (32 bytes, the
// canonical ristretto255 encoding) together with its associated data AD.
// On receipt of the peer's (Y', AD'), it decodes Y', computes K = y·Y' and
// aborts if Y' is not a canonical encoding ([ErrPoint]) or if K is the
// identity ([ErrIdentity]); this is scalar_mult_vfy.
//
// Intermediate session key ("Definition of the intermediate session key
// generation", initiator-responder setting):
//
//	transcript_ir = lv(Ya) || lv(ADa) || lv(Yb) || lv(ADb)
//	ISK           = SHA-512(lv(DSI || "_ISK") || lv(sid) || lv(K) || transcript_ir)
//
// where (Ya, ADa) are the [Initiator]'s share and associated data and
// (Yb, ADb) the [Responder]'s. ISK is not yet key-confirmed: callers must
// confirm it (for example with MACs over the transcript) before trusting
// the peer, and should derive traffic keys from it with a KDF.
//
// Message, sent by each party (framing of AD is the caller's):
//
//	0  32  Y, canonical ristretto255 encoding of y·g
//	32  …  AD, this party's associated data
//
// The package is checked against the draft's test vectors for
// CPace-RISTR255-SHA512 in testdata/vectors.txt.
package cpace
