package wire

// keysForTest returns every secret the epoch still holds (tag and
// chain keys, skipped message keys), for tests that play a compromised node.
func (e *Epoch) keysForTest() [][32]byte {
	out := [][32]byte{e.tagKey}
	for _, c := range e.chains {
		out = append(out, c.ck)
		for _, k := range c.skipped {
			out = append(out, k)
		}
	}
	return out
}
