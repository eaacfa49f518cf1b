// Package api is p2pchat's local control API: the [Backend] that the faces
// (line mode, the full-screen UI, the CLI subcommands) drive, implemented
// in-process by [Local] and, through a running daemon, by [Client]; the
// HTTP/JSON [Server] a daemon runs on its Unix socket; and the JSON forms
// of events and messages that --json line mode and the API share.
//
// docs/API.md documents the HTTP API, docs/CLI.md the JSON objects.
package api
