package cli

import (
	"image"
	"image/color"
	"strings"
	"testing"

	qr "github.com/piglig/go-qr"
)

// TestQRTextScans draws the terminal QR code as an image, two pixel rows
// a character, and reads it back with the library's decoder.
func TestQRTextScans(t *testing.T) {
	const want = "p2pchat verify 12D3KooWJy5rHft2fjGgfGb2Sih4a9X8jgCA7jNdf92KTy7tgSes 5CJ2DXZ-SLKFZM2-CLXYQI6-3SL43RC-MYNN6SU-Q3OEGX7-ZGRGFEK-SCRIZQL"
	for _, colour := range []bool{false, true} {
		text, err := qrText(want, colour)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, "\x1b[") != colour {
			t.Errorf("colour %v: escapes in the output: %v", colour, !colour)
		}
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		const scale = 4
		w := 0
		for i, l := range lines {
			l = strings.TrimSuffix(strings.TrimPrefix(l, "\x1b[30;107m"), "\x1b[0m")
			lines[i] = l
			w = max(w, len([]rune(l)))
		}
		img := image.NewGray(image.Rect(0, 0, w*scale, 2*len(lines)*scale))
		for i := range img.Pix {
			img.Pix[i] = 255
		}
		for row, l := range lines {
			for x, r := range []rune(l) {
				top := r == '█' || r == '▀'
				bottom := r == '█' || r == '▄'
				for dy := range scale {
					for dx := range scale {
						if top {
							img.SetGray(x*scale+dx, 2*row*scale+dy, color.Gray{})
						}
						if bottom {
							img.SetGray(x*scale+dx, (2*row+1)*scale+dy, color.Gray{})
						}
					}
				}
			}
		}
		got, err := qr.Decode(img)
		if err != nil || got != want {
			t.Errorf("colour %v: decoded %q, %v; want %q", colour, got, err, want)
		}
	}
}
