package identity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// vector is one entry of testdata/vectors.json, which pins the peer ID,
// fingerprint and key file format for fixed seeds.
type vector struct {
	Seed           string `json:"seed"` // hex
	PublicKey      string `json:"public_key"`
	PeerID         string `json:"peer_id"`
	FingerprintHex string `json:"fingerprint_hex"`
	Fingerprint    string `json:"fingerprint"`
	Short          string `json:"short"`
	KeyFile        string `json:"key_file"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 3 {
		t.Fatalf("got %d vectors, want at least 3", len(vs))
	}
	return vs
}

func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Seed[:8], func(t *testing.T) {
			t.Parallel()
			seed, err := hex.DecodeString(v.Seed)
			if err != nil {
				t.Fatal(err)
			}
			id, err := FromSeed(seed)
			if err != nil {
				t.Fatal(err)
			}
			fp := id.Fingerprint()
			checks := []struct{ name, got, want string }{
				{"public key", hex.EncodeToString(id.PublicKey()), v.PublicKey},
				{"peer ID", id.PeerID().String(), v.PeerID},
				{"fingerprint bytes", hex.EncodeToString(fp[:]), v.FingerprintHex},
				{"fingerprint", fp.String(), v.Fingerprint},
				{"short", fp.Short(), v.Short},
				{"key file", string(marshalKeyFile(seed)), v.KeyFile},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}

			// Cross-check the vector against independent computations.
			h := sha256.Sum256(append([]byte("p2pchat/v1/fingerprint"), id.PublicKey()...))
			if hex.EncodeToString(h[:]) != v.FingerprintHex {
				t.Errorf("fingerprint is not SHA-256(label || public key)")
			}
			pk, err := crypto.UnmarshalEd25519PublicKey(ed25519.NewKeyFromSeed(seed)[32:])
			if err != nil {
				t.Fatal(err)
			}
			if pid, _ := peer.IDFromPublicKey(pk); pid.String() != v.PeerID {
				t.Errorf("peer ID does not match libp2p's derivation")
			}
			plain := strings.ReplaceAll(v.Fingerprint, "-", "")
			for i := 0; i < len(plain); i += 14 {
				if !luhnValid(plain[i : i+14]) {
					t.Errorf("chunk %q fails Luhn mod 32 validation", plain[i:i+14])
				}
			}
			if !strings.HasPrefix(plain, strings.ToUpper(v.Short)) {
				t.Errorf("short %q is not a prefix of %q", v.Short, v.Fingerprint)
			}
		})
	}
}

// luhnValid is the validation side of Luhn mod 32, written independently of
// luhnCheck: with the check character included, doubling starts at the
// second character from the right and the sum must be 0 mod 32.
func luhnValid(s string) bool {
	sum := 0
	for i := range len(s) {
		v := strings.IndexByte(alphabet, s[len(s)-1-i])
		if i%2 == 1 {
			v = 2*v/32 + 2*v%32
		}
		sum += v
	}
	return sum%32 == 0
}

func testFingerprints(t *testing.T) []Fingerprint {
	t.Helper()
	var fps []Fingerprint
	for _, v := range loadVectors(t) {
		fp, err := ParseFingerprint(v.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		fps = append(fps, fp)
	}
	var r Fingerprint
	rand.Read(r[:])
	return append(fps, r, Fingerprint{})
}

func TestParseFingerprintRoundTrip(t *testing.T) {
	for _, fp := range testFingerprints(t) {
		s := fp.String()
		if len(s) != 63 || strings.Count(s, "-") != 7 || s != strings.ToUpper(s) {
			t.Errorf("String() = %q, want 8 upper-case groups of 7", s)
		}
		inputs := []string{
			s,
			strings.ToLower(s),
			strings.ReplaceAll(s, "-", ""),
			strings.ReplaceAll(s, "-", " "),
			" " + strings.ReplaceAll(strings.ToLower(s), "-", "") + " ",
		}
		for _, in := range inputs {
			got, err := ParseFingerprint(in)
			if err != nil || got != fp {
				t.Errorf("ParseFingerprint(%q) = %v, %v; want %v", in, got, err, fp)
			}
		}

		text, err := fp.MarshalText()
		if err != nil || string(text) != s {
			t.Errorf("MarshalText() = %q, %v; want %q", text, err, s)
		}
		var got Fingerprint
		if err := got.UnmarshalText(text); err != nil || got != fp {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", text, got, err, fp)
		}
	}
}

func TestParseFingerprintRejects(t *testing.T) {
	valid := testFingerprints(t)[0].String()
	plain := strings.ReplaceAll(valid, "-", "")
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"dashes only", "-------"},
		{"one short", plain[:55]},
		{"one long", plain + "A"},
		{"without check characters", plain[:13] + plain[14:27] + plain[28:41] + plain[42:55]},
		{"digit 0", "0" + plain[1:]},
		{"digit 1", "1" + plain[1:]},
		{"digit 8", "8" + plain[1:]},
		{"padding", plain[:55] + "="},
		{"underscore separator", strings.ReplaceAll(valid, "-", "_")},
		{"non-ASCII", "É" + plain[2:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFingerprint(tt.in)
			if !errors.Is(err, ErrBadFingerprint) {
				t.Fatalf("ParseFingerprint(%q) = %v, %v; want ErrBadFingerprint", tt.in, got, err)
			}
			var f Fingerprint
			if err := f.UnmarshalText([]byte(tt.in)); !errors.Is(err, ErrBadFingerprint) || f != (Fingerprint{}) {
				t.Errorf("UnmarshalText(%q) = %v, left %v", tt.in, err, f)
			}
		})
	}
}

func TestParseFingerprintNonCanonical(t *testing.T) {
	// The 52nd base32 character holds 1 bit of the hash and 4 unused bits,
	// so only 'A' and 'Q' are canonical there. Build a string whose check
	// character is right but whose last data character sets unused bits.
	data := []byte(b32.EncodeToString(make([]byte, 32)))
	data[51] = 'B'
	var full []byte
	for i := range chunks {
		chunk := string(data[i*13 : (i+1)*13])
		full = append(full, chunk...)
		full = append(full, luhnCheck(chunk))
	}
	if _, err := ParseFingerprint(string(full)); !errors.Is(err, ErrBadFingerprint) {
		t.Errorf("ParseFingerprint(%s) = %v, want ErrBadFingerprint", full, err)
	}
}

// TestFingerprintSubstitution checks that every single-character typo is
// caught, including typos in check characters.
func TestFingerprintSubstitution(t *testing.T) {
	for _, fp := range testFingerprints(t) {
		plain := []byte(strings.ReplaceAll(fp.String(), "-", ""))
		for i := range plain {
			orig := plain[i]
			for _, c := range []byte(alphabet) {
				if c == orig {
					continue
				}
				plain[i] = c
				if got, err := ParseFingerprint(string(plain)); !errors.Is(err, ErrBadFingerprint) {
					t.Errorf("%s with %c at %d: got %v, %v; want ErrBadFingerprint", fp, c, i, got, err)
				}
			}
			plain[i] = orig
		}
	}
}

// TestFingerprintTransposition checks which swaps of adjacent characters are
// caught. Luhn mod 32 misses exactly one case: 'A' (0) and '7' (31) swapped
// within a chunk. Swaps across chunks are two substitutions in different
// chunks, so they are always caught. Position 54, the last data character,
// can only be 'A' or 'Q' (canonical encoding), so a swap moving '7' there is
// caught too.
func TestFingerprintTransposition(t *testing.T) {
	fps := testFingerprints(t)
	// Add fingerprints with "A7" and "7A" inside a chunk and next to a check
	// character, so the undetected case is exercised too.
	for _, pair := range []string{"A7", "7A"} {
		data := []byte(strings.Repeat("Q", 52))
		copy(data[3:], pair)
		// Vary the first character until the check character of chunk 2
		// (data[13:26]) forms the pair with data[25].
		data[25] = pair[0]
		for _, c := range []byte(alphabet) {
			data[13] = c
			if luhnCheck(string(data[13:26])) == pair[1] {
				break
			}
		}
		var fp Fingerprint
		if _, err := b32.Decode(fp[:], data); err != nil {
			t.Fatal(err)
		}
		fps = append(fps, fp)
	}

	var missed int
	for _, fp := range fps {
		plain := []byte(strings.ReplaceAll(fp.String(), "-", ""))
		for i := 0; i+1 < len(plain); i++ {
			a, b := plain[i], plain[i+1]
			if a == b {
				continue
			}
			sameChunk := i/14 == (i+1)/14
			touchesLast := i == 53 || i == 54 // the swap moves a character into position 54
			undetectable := sameChunk && !touchesLast && (a == 'A' && b == '7' || a == '7' && b == 'A')
			plain[i], plain[i+1] = b, a
			got, err := ParseFingerprint(string(plain))
			plain[i], plain[i+1] = a, b
			switch {
			case undetectable:
				missed++
				if err != nil || got == fp {
					t.Errorf("%s swap at %d: got %v, %v; want a different valid fingerprint", fp, i, got, err)
				}
			case !errors.Is(err, ErrBadFingerprint):
				t.Errorf("%s swap %c%c at %d: got %v, %v; want ErrBadFingerprint", fp, a, b, i, got, err)
			}
		}
	}
	if missed < 4 {
		t.Errorf("exercised the undetectable A/7 swap %d times, want at least 4", missed)
	}
}

func TestShort(t *testing.T) {
	for _, fp := range testFingerprints(t) {
		s := fp.Short()
		want := strings.ToLower(strings.ReplaceAll(fp.String(), "-", "")[:5])
		if s != want {
			t.Errorf("Short() = %q, want %q", s, want)
		}
	}
	if got := (Fingerprint{}).Short(); got != "aaaaa" {
		t.Errorf("zero Short() = %q, want aaaaa", got)
	}
}

func TestPublicKeyOf(t *testing.T) {
	id, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PublicKeyOf(id.PeerID())
	if err != nil || !bytes.Equal(pub, id.PublicKey()) {
		t.Errorf("PublicKeyOf = %x, %v; want %x", pub, err, id.PublicKey())
	}
	fp, err := PeerFingerprint(id.PeerID())
	if err != nil || fp != id.Fingerprint() {
		t.Errorf("PeerFingerprint = %v, %v; want %v", fp, err, id.Fingerprint())
	}

	_, secpPub, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ecdsaPub, err := crypto.GenerateECDSAKeyPair(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		pub  crypto.PubKey // nil: use id
		id   peer.ID
		want string
	}{
		{name: "secp256k1", pub: secpPub, want: "want Ed25519"},
		{name: "ECDSA (hashed)", pub: ecdsaPub, want: "cannot get public key"},
		{name: "empty", id: "", want: "cannot get public key"},
		{name: "garbage", id: "not a peer id", want: "cannot get public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.id
			if tt.pub != nil {
				if p, err = peer.IDFromPublicKey(tt.pub); err != nil {
					t.Fatal(err)
				}
			}
			if pub, err := PublicKeyOf(p); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PublicKeyOf = %x, %v; want error containing %q", pub, err, tt.want)
			}
			if fp, err := PeerFingerprint(p); err == nil {
				t.Errorf("PeerFingerprint = %v, want error", fp)
			}
		})
	}
}

func FuzzParseFingerprint(f *testing.F) {
	id, err := FromSeed(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(id.Fingerprint().String())
	f.Add(strings.ToLower(strings.ReplaceAll(id.Fingerprint().String(), "-", "")))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := ParseFingerprint(s)
		if err != nil {
			return
		}
		again, err := ParseFingerprint(fp.String())
		if err != nil || again != fp {
			t.Fatalf("%q parsed to %s, which does not round-trip: %v", s, fp, err)
		}
	})
}
