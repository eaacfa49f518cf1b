package replay

import "testing"

func TestWindow(t *testing.T) {
	tests := []struct {
		name string
		seqs []uint64
		want []bool
	}{
		{"zero refused", []uint64{0}, []bool{false}},
		{"in order", []uint64{1, 2, 3}, []bool{true, true, true}},
		{"duplicate", []uint64{5, 5}, []bool{true, false}},
		{"late within window once", []uint64{10, 7, 7, 9}, []bool{true, true, false, true}},
		{"too old", []uint64{WindowSize + 10, 10, 11}, []bool{true, false, true}},
		{"big jump clears", []uint64{3, 3 + 5*WindowSize, 3 + 5*WindowSize - 1, 3}, []bool{true, true, true, false}},
		{"bit reuse after slide", []uint64{1, 1 + WindowSize, 1 + WindowSize, 2 + WindowSize}, []bool{true, true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w Window
			for i, s := range tt.seqs {
				if got := w.Accept(s); got != tt.want[i] {
					t.Fatalf("Accept(%d) at step %d = %v, want %v", s, i, got, tt.want[i])
				}
			}
		})
	}
}

// TestWindowExhaustive compares the window with a map over a shuffled,
// duplicated sequence: each number within the window is accepted exactly once.
func TestWindowExhaustive(t *testing.T) {
	var w Window
	seen := map[uint64]bool{}
	var max uint64
	x := uint64(12345)
	for range 200000 {
		x = x*6364136223846793005 + 1442695040888963407
		seq := 1 + (x>>33)%5000 + uint64(len(seen))/4
		want := !seen[seq] && (seq > max || max-seq < WindowSize)
		if got := w.Accept(seq); got != want {
			t.Fatalf("Accept(%d) = %v, want %v (max %d)", seq, got, want, max)
		}
		if want {
			seen[seq] = true
			if seq > max {
				max = seq
			}
		}
	}
}
