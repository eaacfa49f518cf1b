package cli

import (
	"fmt"
	"strings"

	qr "github.com/piglig/go-qr"
)

// qrQuiet is the light border around a QR code, in modules (the standard's
// quiet zone).
const qrQuiet = 4

// qrText renders text as a QR code (error correction level M) in
// half-block characters, two modules a character cell from top to bottom.
// With colour, each line forces black on white, so that the code scans on
// dark terminals too; without, dark modules are drawn in the terminal's
// foreground colour.
func qrText(text string, colour bool) (string, error) {
	code, err := qr.EncodeText(text, qr.Medium)
	if err != nil {
		return "", fmt.Errorf("QR code: %w", err)
	}
	n := code.Size()
	dark := func(x, y int) bool {
		x, y = x-qrQuiet, y-qrQuiet
		return x >= 0 && y >= 0 && x < n && y < n && code.Module(x, y)
	}
	var b strings.Builder
	for y := 0; y < n+2*qrQuiet; y += 2 {
		if colour {
			b.WriteString("\x1b[30;107m")
		}
		for x := 0; x < n+2*qrQuiet; x++ {
			switch top, bottom := dark(x, y), dark(x, y+1); {
			case top && bottom:
				b.WriteString("█")
			case top:
				b.WriteString("▀")
			case bottom:
				b.WriteString("▄")
			default:
				b.WriteString(" ")
			}
		}
		if colour {
			b.WriteString("\x1b[0m")
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
