package frame

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// onlyReader hides any io.ByteReader, like a raw network stream.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestFrameWireBytes(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string // hex of the header and the first payload bytes
	}{
		{"empty", nil, "00"},
		{"one byte", []byte("a"), "0161"},
		{"127 bytes", bytes.Repeat([]byte{7}, 127), "7f07"},
		{"128 bytes", bytes.Repeat([]byte{7}, 128), "800107"},
		{"300 bytes", bytes.Repeat([]byte{7}, 300), "ac0207"},
		{"70000 bytes", bytes.Repeat([]byte{7}, 70000), "f0a20407"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteFrame(&buf, tt.in); err != nil {
				t.Fatal(err)
			}
			wire := buf.Bytes()
			if got := hex.EncodeToString(wire[:min(len(wire), len(tt.want)/2)]); got != tt.want {
				t.Errorf("wire starts %s, want %s", got, tt.want)
			}
			if len(wire) != len(tt.want)/2-min(1, len(tt.in))+len(tt.in) {
				t.Errorf("wire is %d bytes for a %d-byte payload", len(wire), len(tt.in))
			}
			got, err := ReadFrame(onlyReader{bytes.NewReader(wire)}, len(tt.in))
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			if !bytes.Equal(got, tt.in) {
				t.Errorf("round trip changed the payload")
			}
		})
	}
}

// TestReadFrameDoesNotReadAhead reads back-to-back frames from a reader
// without ReadByte: each ReadFrame must consume exactly one frame.
func TestReadFrameDoesNotReadAhead(t *testing.T) {
	var buf bytes.Buffer
	frames := [][]byte{[]byte("first"), {}, bytes.Repeat([]byte("x"), 200), []byte("last")}
	for _, f := range frames {
		if err := WriteFrame(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	buf.WriteString("trailer")
	r := bytes.NewReader(buf.Bytes())
	for i, want := range frames {
		got, err := ReadFrame(onlyReader{r}, 1000)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("frame %d = %q, want %q", i, got, want)
		}
	}
	rest, _ := io.ReadAll(r)
	if string(rest) != "trailer" {
		t.Errorf("left %q after the frames, want %q", rest, "trailer")
	}
}

func TestReadFrameErrors(t *testing.T) {
	tests := []struct {
		name  string
		wire  string // hex
		max   int
		check func(error) bool
	}{
		{"empty input", "", 10, func(err error) bool { return err == io.EOF }},
		{"truncated length", "80", 10, func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"truncated payload", "056162", 10, func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"missing payload", "05", 10, func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"over max by one", "0b" + strings.Repeat("00", 11), 10, func(err error) bool { return errors.Is(err, ErrFrameTooLarge) }},
		{"negative max", "00", -1, func(err error) bool { return errors.Is(err, ErrFrameTooLarge) }},
		{"non-minimal zero", "8000", 10, func(err error) bool { return errors.Is(err, errBadLength) }},
		{"non-minimal one", "8100", 10, func(err error) bool { return errors.Is(err, errBadLength) }},
		{"65-bit length", "ffffffffffffffffff02", 10, func(err error) bool { return errors.Is(err, errBadLength) }},
		{"11-byte length", "ffffffffffffffffffff01", 10, func(err error) bool { return errors.Is(err, errBadLength) }},
		{"max uint64 length", "ffffffffffffffffff01", 10, func(err error) bool { return errors.Is(err, ErrFrameTooLarge) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := hex.DecodeString(tt.wire)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []io.Reader{bytes.NewReader(wire), onlyReader{bytes.NewReader(wire)}} {
				got, err := ReadFrame(r, tt.max)
				if !tt.check(err) {
					t.Errorf("%T: ReadFrame = %q, %v", r, got, err)
				}
			}
		})
	}
}

// TestReadFrameRefusesBeforeAllocating declares huge lengths with no payload
// behind them: a reader that allocated (or read) first would allocate
// gigabytes or report a truncated payload instead of ErrFrameTooLarge.
func TestReadFrameRefusesBeforeAllocating(t *testing.T) {
	const max = 1 << 30
	for _, declared := range []uint64{max + 1, 1 << 40, 1<<64 - 1} {
		var hdr []byte
		for v := declared; ; v >>= 7 {
			if v < 0x80 {
				hdr = append(hdr, byte(v))
				break
			}
			hdr = append(hdr, byte(v)|0x80)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadFrame(bytes.NewReader(hdr), max)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("declared %d: err = %v, want ErrFrameTooLarge", declared, err)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Errorf("declared %d: allocated %d bytes before refusing", declared, d)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteFrameError(t *testing.T) {
	if err := WriteFrame(failWriter{}, []byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("WriteFrame = %v, want the writer's error", err)
	}
}

// FuzzReadFrame checks that ReadFrame never over-reads, never exceeds max,
// and that what it accepts re-encodes to exactly the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	for _, s := range []string{"", "00", "0161", "8001" + strings.Repeat("07", 128), "8000", "80", "ffffffffffffffffff01", "0561"} {
		b, _ := hex.DecodeString(s)
		f.Add(b, 200)
	}
	f.Fuzz(func(t *testing.T, wire []byte, max int) {
		max %= 1 << 16 // keep allocations small; negative stays negative
		r := bytes.NewReader(wire)
		got, err := ReadFrame(onlyReader{r}, max)
		consumed := len(wire) - r.Len()
		if err != nil {
			if got != nil {
				t.Fatalf("payload %q with error %v", got, err)
			}
			return
		}
		if len(got) > max {
			t.Fatalf("%d-byte payload over max %d", len(got), max)
		}
		var buf bytes.Buffer
		if err := WriteFrame(&buf, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), wire[:consumed]) {
			t.Fatalf("re-encoded %x, consumed %x", buf.Bytes(), wire[:consumed])
		}
	})
}
