// Package sizecheck holds a test only: that no non-test Go file of the
// module is longer than [MaxFileLines] lines and no function in one is
// longer than [MaxFuncLines] (the project's style limits; go test ./...,
// and so .ci/run, runs it).
package sizecheck

// The limits, in lines as gofmt writes them (a function from its func
// keyword, doc comment excluded, to its closing brace).
const (
	MaxFileLines = 600
	MaxFuncLines = 120
)
