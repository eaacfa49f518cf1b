package cpace

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gtank/ristretto255"
)

// readVectors parses testdata/vectors.txt: "name = value" lines, where value
// is a quoted ASCII string or hex; '#' starts a comment line.
func readVectors(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("vectors.txt:%d: no '='", n)
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		var b []byte
		if strings.HasPrefix(val, `"`) {
			s, err := strconv.Unquote(val)
			if err != nil {
				t.Fatalf("vectors.txt:%d: %v", n, err)
			}
			b = []byte(s)
		} else if b, err = hex.DecodeString(val); err != nil {
			t.Fatalf("vectors.txt:%d: %v", n, err)
		}
		if _, dup := v[name]; dup {
			t.Fatalf("vectors.txt:%d: duplicate %q", n, name)
		}
		v[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"DSI", "PRS", "CI", "sid", "g", "ya", "ADa", "Ya", "yb", "ADb", "Yb", "K", "ISK_IR"} {
		if _, ok := v[k]; !ok {
			t.Fatalf("vectors.txt: missing %q", k)
		}
	}
	return v
}

func TestVectors(t *testing.T) {
	v := readVectors(t)
	if string(v["DSI"]) != DSI {
		t.Fatalf("DSI = %q, vectors say %q", DSI, v["DSI"])
	}
	start := func(t *testing.T, role Role, y, ad string) (*Session, []byte) {
		t.Helper()
		s, Y, err := startWithScalar(role, v["PRS"], v["CI"], v["sid"], v[ad], v[y])
		if err != nil {
			t.Fatal(err)
		}
		return s, Y
	}
	check := func(t *testing.T, what string, got []byte, want string) {
		t.Helper()
		if !bytes.Equal(got, v[want]) {
			t.Errorf("%s = %x, want %x", what, got, v[want])
		}
	}

	t.Run("generator", func(t *testing.T) {
		t.Parallel()
		g := calculateGenerator(DSI, v["PRS"], v["CI"], v["sid"])
		check(t, "g", g.Encode(nil), "g")
	})
	t.Run("Ya", func(t *testing.T) {
		t.Parallel()
		_, Ya := start(t, Initiator, "ya", "ADa")
		check(t, "Ya", Ya, "Ya")
	})
	t.Run("Yb", func(t *testing.T) {
		t.Parallel()
		_, Yb := start(t, Responder, "yb", "ADb")
		check(t, "Yb", Yb, "Yb")
	})
	t.Run("K", func(t *testing.T) {
		t.Parallel()
		a, _ := start(t, Initiator, "ya", "ADa")
		b, _ := start(t, Responder, "yb", "ADb")
		ka, err := a.sharedSecret(v["Yb"])
		if err != nil {
			t.Fatal(err)
		}
		kb, err := b.sharedSecret(v["Ya"])
		if err != nil {
			t.Fatal(err)
		}
		check(t, "ya*Yb", ka[:], "K")
		check(t, "yb*Ya", kb[:], "K")
	})
	t.Run("ISK", func(t *testing.T) {
		t.Parallel()
		a, Ya := start(t, Initiator, "ya", "ADa")
		b, Yb := start(t, Responder, "yb", "ADb")
		iskA, err := a.Finish(Yb, v["ADb"])
		if err != nil {
			t.Fatal(err)
		}
		iskB, err := b.Finish(Ya, v["ADa"])
		if err != nil {
			t.Fatal(err)
		}
		check(t, "initiator ISK", iskA, "ISK_IR")
		check(t, "responder ISK", iskB, "ISK_IR")
	})
}

func TestGeneratorString(t *testing.T) {
	ci, sid := []byte("ci"), []byte("sid")
	tests := []struct {
		name    string
		prs     []byte
		lenZpad int
	}{
		{"short", []byte("Password"), 100},
		{"empty", nil, 108},
		{"fills block", make([]byte, 108), 0},
		{"longer than block", make([]byte, 300), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []byte
			want = append(want, byte(len(DSI)))
			want = append(want, DSI...)
			want = appendLV(want, tt.prs)
			want = append(want, byte(tt.lenZpad))
			want = append(want, make([]byte, tt.lenZpad)...)
			want = append(want, 2, 'c', 'i', 3, 's', 'i', 'd')
			got := generatorString(DSI, tt.prs, ci, sid)
			if !bytes.Equal(got, want) {
				t.Fatalf("generatorString = %x, want %x", got, want)
			}
			if tt.lenZpad > 0 && len(got)-len(ci)-1-len(sid)-1 != sInBytes {
				t.Fatalf("DSI, PRS and padding take %d bytes, want one %d-byte block", len(got)-len(ci)-len(sid)-2, sInBytes)
			}
		})
	}
}

func TestAppendLV(t *testing.T) {
	tests := []struct {
		n    int
		want string // hex of the length prefix
	}{
		{0, "00"},
		{1, "01"},
		{127, "7f"},
		{128, "8001"},
		{200, "c801"},
		{16384, "808001"},
	}
	for _, tt := range tests {
		got := appendLV(nil, make([]byte, tt.n))
		prefix := hex.EncodeToString(got[:len(got)-tt.n])
		if prefix != tt.want {
			t.Errorf("appendLV(%d bytes) prefix = %s, want %s", tt.n, prefix, tt.want)
		}
		if lvLen(tt.n) != len(got) {
			t.Errorf("lvLen(%d) = %d, want %d", tt.n, lvLen(tt.n), len(got))
		}
	}
}

// exchange runs CPace between an initiator with (prsA, ciA, sidA, adA) and a
// responder with (prsB, ciB, sidB, adB) and returns both ISKs.
func exchange(t testing.TB, prsA, ciA, sidA, adA, prsB, ciB, sidB, adB []byte) (iskA, iskB []byte) {
	t.Helper()
	a, Ya, err := Start(Initiator, prsA, ciA, sidA, adA)
	if err != nil {
		t.Fatal(err)
	}
	b, Yb, err := Start(Responder, prsB, ciB, sidB, adB)
	if err != nil {
		t.Fatal(err)
	}
	if len(Ya) != ShareSize || len(Yb) != ShareSize {
		t.Fatalf("share sizes %d, %d, want %d", len(Ya), len(Yb), ShareSize)
	}
	if iskA, err = a.Finish(Yb, adB); err != nil {
		t.Fatal(err)
	}
	if iskB, err = b.Finish(Ya, adA); err != nil {
		t.Fatal(err)
	}
	if len(iskA) != ISKSize || len(iskB) != ISKSize {
		t.Fatalf("ISK sizes %d, %d, want %d", len(iskA), len(iskB), ISKSize)
	}
	return iskA, iskB
}

func TestRoundTrip(t *testing.T) {
	prs, ci, sid := []byte("correct horse"), []byte("p2pchat/v1/test"), []byte("0123456789abcdef")
	adA, adB := []byte("alice"), []byte("bob")

	t.Run("agree", func(t *testing.T) {
		iskA, iskB := exchange(t, prs, ci, sid, adA, prs, ci, sid, adB)
		if !bytes.Equal(iskA, iskB) {
			t.Fatalf("ISKs differ:\n%x\n%x", iskA, iskB)
		}
		iskA2, _ := exchange(t, prs, ci, sid, adA, prs, ci, sid, adB)
		if bytes.Equal(iskA, iskA2) {
			t.Fatal("two runs gave the same ISK")
		}
	})
	t.Run("empty inputs agree", func(t *testing.T) {
		iskA, iskB := exchange(t, nil, nil, nil, nil, nil, nil, nil, nil)
		if !bytes.Equal(iskA, iskB) {
			t.Fatalf("ISKs differ:\n%x\n%x", iskA, iskB)
		}
	})

	tests := []struct {
		name                    string
		prsB, ciB, sidB, adBtoA []byte
	}{
		{"different prs", []byte("wrong horse"), ci, sid, adB},
		{"different ci", prs, []byte("p2pchat/v1/other"), sid, adB},
		{"different sid", prs, ci, []byte("fedcba9876543210"), adB},
		// The AD the initiator receives is not what the responder sent.
		{"tampered ad", prs, ci, sid, []byte("mallory")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, Ya, err := Start(Initiator, prs, ci, sid, adA)
			if err != nil {
				t.Fatal(err)
			}
			b, Yb, err := Start(Responder, tt.prsB, tt.ciB, tt.sidB, adB)
			if err != nil {
				t.Fatal(err)
			}
			iskA, err := a.Finish(Yb, tt.adBtoA)
			if err != nil {
				t.Fatal(err)
			}
			iskB, err := b.Finish(Ya, adA)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(iskA, iskB) {
				t.Fatal("ISKs agree")
			}
		})
	}

	t.Run("swapped ad", func(t *testing.T) {
		// Each side binds its AD in its own slot of the transcript, so
		// swapping which party holds which AD changes the ISK.
		v := readVectors(t)
		run := func(adA, adB []byte) []byte {
			a, _, err := startWithScalar(Initiator, v["PRS"], v["CI"], v["sid"], adA, v["ya"])
			if err != nil {
				t.Fatal(err)
			}
			isk, err := a.Finish(v["Yb"], adB)
			if err != nil {
				t.Fatal(err)
			}
			return isk
		}
		if bytes.Equal(run(v["ADa"], v["ADb"]), run(v["ADb"], v["ADa"])) {
			t.Fatal("swapping ADa and ADb left the ISK unchanged")
		}
	})

	t.Run("same role", func(t *testing.T) {
		// Two initiators put their shares in different slots, so they
		// disagree: roles must differ.
		a, Ya, _ := Start(Initiator, prs, ci, sid, adA)
		b, Yb, _ := Start(Initiator, prs, ci, sid, adB)
		iskA, _ := a.Finish(Yb, adB)
		iskB, _ := b.Finish(Ya, adA)
		if bytes.Equal(iskA, iskB) {
			t.Fatal("two initiators agree")
		}
	})
}

func TestFinishRejects(t *testing.T) {
	// p+1: it reduces to the field element 1, but encodings of values >= p
	// are not canonical and must be refused.
	nonCanonical, _ := hex.DecodeString("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	// A canonical field element that is negative (odd), hence invalid.
	negative, _ := hex.DecodeString("0100000000000000000000000000000000000000000000000000000000000000")
	tests := []struct {
		name  string
		peerY []byte
		want  error
	}{
		{"identity", make([]byte, 32), ErrIdentity},
		{"all 0xff", bytes.Repeat([]byte{0xff}, 32), ErrPoint},
		{"p+1", nonCanonical, ErrPoint},
		{"negative", negative, ErrPoint},
		{"nil", nil, ErrPoint},
		{"short", make([]byte, 31), ErrPoint},
		{"long", make([]byte, 33), ErrPoint},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := Start(Responder, []byte("pw"), nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			isk, err := s.Finish(tt.peerY, nil)
			if !errors.Is(err, tt.want) || isk != nil {
				t.Fatalf("Finish(%x) = %x, %v, want nil, %v", tt.peerY, isk, err, tt.want)
			}
		})
	}
}

func TestFinishOnce(t *testing.T) {
	a, Ya, _ := Start(Initiator, []byte("pw"), nil, nil, nil)
	b, Yb, _ := Start(Responder, []byte("pw"), nil, nil, nil)
	if _, err := a.Finish(Yb, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Finish(Yb, nil); err == nil {
		t.Fatal("second Finish succeeded")
	}
	// A failed Finish also ends the session.
	if _, err := b.Finish(make([]byte, 32), nil); !errors.Is(err, ErrIdentity) {
		t.Fatalf("Finish(identity) = %v", err)
	}
	if _, err := b.Finish(Ya, nil); err == nil {
		t.Fatal("Finish after a failed Finish succeeded")
	}
}

func TestFinishErasesScalar(t *testing.T) {
	for _, peerY := range [][]byte{nil, make([]byte, 32)} {
		a, _, _ := Start(Initiator, []byte("pw"), nil, nil, nil)
		_, Yb, _ := Start(Responder, []byte("pw"), nil, nil, nil)
		if peerY == nil {
			peerY = Yb
		}
		a.Finish(peerY, nil)
		if a.y.Equal(ristretto255.NewScalar()) != 1 {
			t.Fatalf("secret scalar not erased after Finish(%x)", peerY)
		}
	}
}

func TestStartRejects(t *testing.T) {
	if _, _, err := Start(Role(2), nil, nil, nil, nil); err == nil {
		t.Error("Start(Role(2)) succeeded")
	}
	if _, _, err := startWithScalar(Initiator, nil, nil, nil, nil, make([]byte, 31)); err == nil {
		t.Error("startWithScalar with a 31-byte scalar succeeded")
	}
	if _, _, err := startWithScalar(Initiator, nil, nil, nil, nil, bytes.Repeat([]byte{0xff}, 32)); err == nil {
		t.Error("startWithScalar with a non-canonical scalar succeeded")
	}
}

func TestStartCopiesInputs(t *testing.T) {
	prs, sid, ad := []byte("pw"), []byte("sid"), []byte("ad")
	a, Ya, _ := Start(Initiator, prs, nil, sid, ad)
	b, Yb, _ := Start(Responder, prs, nil, sid, nil)
	sid[0], ad[0] = 'X', 'X'
	iskA, _ := a.Finish(Yb, nil)
	iskB, _ := b.Finish(Ya, []byte("ad"))
	if !bytes.Equal(iskA, iskB) {
		t.Fatal("mutating inputs after Start changed the ISK")
	}
}

func FuzzFinish(f *testing.F) {
	_, Y, err := Start(Initiator, []byte("pw"), []byte("ci"), []byte("sid"), []byte("ad"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(Y, []byte("ad"))
	f.Add(make([]byte, 32), []byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 32), []byte{0})
	f.Add([]byte{1, 2, 3}, bytes.Repeat([]byte{0xaa}, 300))
	f.Fuzz(func(t *testing.T, peerY, peerAD []byte) {
		s, _, err := Start(Responder, []byte("pw"), []byte("ci"), []byte("sid"), []byte("ad"))
		if err != nil {
			t.Fatal(err)
		}
		isk, err := s.Finish(peerY, peerAD)
		var P ristretto255.Element
		decodes := P.Decode(peerY) == nil
		identity := decodes && P.Equal(ristretto255.NewElement()) == 1
		switch {
		case !decodes:
			if !errors.Is(err, ErrPoint) {
				t.Fatalf("Finish(%x) = %v, want ErrPoint", peerY, err)
			}
		case identity:
			if !errors.Is(err, ErrIdentity) {
				t.Fatalf("Finish(%x) = %v, want ErrIdentity", peerY, err)
			}
		default:
			if err != nil {
				t.Fatalf("Finish(%x) = %v, want success", peerY, err)
			}
			if len(isk) != ISKSize {
				t.Fatalf("ISK is %d bytes, want %d", len(isk), ISKSize)
			}
			// A valid share round-trips through the canonical encoding.
			if !bytes.Equal(P.Encode(nil), peerY) {
				t.Fatalf("decoded share %x re-encodes differently", peerY)
			}
		}
	})
}

func BenchmarkCPace(b *testing.B) {
	prs, ci, sid := []byte("correct horse"), []byte("p2pchat/v1/bench"), []byte("0123456789abcdef")
	b.ReportAllocs()
	for b.Loop() {
		exchange(b, prs, ci, sid, []byte("a"), prs, ci, sid, []byte("b"))
	}
}
