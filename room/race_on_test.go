//go:build race

package room_test

// raceEnabled: the race detector slows the simulation about tenfold, so
// its default sweep is shorter under -race (the plain run covers the rest).
const raceEnabled = true
