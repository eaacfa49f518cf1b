package main

import (
	"math"
	"runtime"
	"slices"
	"time"
)

var nan = math.NaN()

// percentile returns the p-th percentile (0–100, nearest rank) of d in
// milliseconds, or NaN for no samples. It sorts d.
func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return nan
	}
	slices.Sort(d)
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	i = max(0, min(i, len(d)-1))
	return ms(d[i])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median of xs, NaN when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return nan
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// heapInUse collects garbage and returns the bytes of live heap objects.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
