package room

import (
	"testing"
	"time"
)

func TestSkewText(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{72 * time.Hour, "3 days ahead"},
		{-71*time.Hour - 50*time.Minute, "3 days behind"},
		{5 * time.Hour, "5 hours ahead"},
		{-6 * time.Minute, "6 minutes behind"},
		{90 * time.Minute, "90 minutes ahead"},
	} {
		if got := skewText(tc.d); got != tc.want {
			t.Errorf("skewText(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
