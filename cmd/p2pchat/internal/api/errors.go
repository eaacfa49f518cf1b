package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/p2pchat/p2pchat/identity"
	"github.com/p2pchat/p2pchat/room"
)

// Errors of the HTTP API that no other package defines. An error response
// carries a code (docs/API.md); [Client] returns an [*Error] wrapping the
// code's sentinel: these, or the room and identity packages' sentinels
// (room.ErrNotJoined for unknown_room, …) so that callers branch the same
// way on a [Local] and on a [Client].
var (
	ErrBadRequest       = errors.New("bad request")
	ErrBodyTooLarge     = errors.New("request body too large")
	ErrNotFound         = errors.New("no such API endpoint")
	ErrMethodNotAllowed = errors.New("method not allowed")
	ErrBadPeerID        = errors.New("invalid peer ID")
	ErrForbidden        = errors.New("this connection may not use the API")
	ErrInternal         = errors.New("internal error")
	ErrNoWeb            = errors.New("this node does not serve the web UI")
)

// ErrNoDaemon is wrapped by [Client] errors when nothing listens on the
// socket: it does not exist, or refuses connections (a daemon that died
// without removing it).
var ErrNoDaemon = errors.New("no p2pchat daemon is running")

// Error is an error response of the API. Unwrap returns the sentinel of
// Code ([ErrBadRequest], room.ErrNotJoined, …; nil for a code this version
// does not know).
type Error struct {
	Status  int    // HTTP status
	Code    string // stable code, see docs/API.md
	Message string // the server's explanation, for people
	err     error
}

// Error returns the server's message.
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Message
}

// Unwrap returns the sentinel error of e.Code.
func (e *Error) Unwrap() error { return e.err }

// errorCode is one row of the error table.
type errorCode struct {
	code   string
	status int
	err    error
}

// errorCodes maps errors to codes and HTTP statuses, for the server (the
// first row whose err matches with errors.Is wins) and back, for the client.
var errorCodes = []errorCode{
	{"bad_request", http.StatusBadRequest, ErrBadRequest},
	{"body_too_large", http.StatusRequestEntityTooLarge, ErrBodyTooLarge},
	{"not_found", http.StatusNotFound, ErrNotFound},
	{"method_not_allowed", http.StatusMethodNotAllowed, ErrMethodNotAllowed},
	{"forbidden", http.StatusForbidden, ErrForbidden},
	{"bad_peer_id", http.StatusBadRequest, ErrBadPeerID},
	{"unknown_room", http.StatusNotFound, room.ErrNotJoined},
	{"bad_room_name", http.StatusBadRequest, room.ErrBadName},
	{"bad_nick", http.StatusBadRequest, room.ErrNick},
	{"bad_away", http.StatusBadRequest, room.ErrAway},
	{"too_long", http.StatusBadRequest, room.ErrTooLong},
	{"unknown_message", http.StatusNotFound, room.ErrUnknownMessage},
	{"not_author", http.StatusForbidden, room.ErrNotAuthor},
	{"bad_reaction", http.StatusBadRequest, room.ErrReaction},
	{"bad_annotation", http.StatusBadRequest, room.ErrAnnotationKind},
	{"bad_passphrase", http.StatusBadRequest, room.ErrPassphrase},
	{"bad_fingerprint", http.StatusBadRequest, identity.ErrBadFingerprint},
	{"fingerprint_mismatch", http.StatusConflict, room.ErrFingerprint},
	{"timeout", http.StatusGatewayTimeout, context.DeadlineExceeded},
	{"closed", http.StatusServiceUnavailable, room.ErrClosed},
	{"no_history", http.StatusServiceUnavailable, room.ErrNoStore},
	{"disk_full", http.StatusInsufficientStorage, room.ErrDiskFull},
	{"no_descriptors", http.StatusServiceUnavailable, ErrNoDescriptors},
	{"no_web", http.StatusServiceUnavailable, ErrNoWeb},
	{"internal", http.StatusInternalServerError, ErrInternal},
}

const codeInternal = "internal"

// messageOf returns the message of an error response for err: for a full
// disk only which disk is full (the operation, e.g. "message not sent", is
// the caller's to say).
func messageOf(err error) string {
	var df *room.DiskFullError
	if errors.As(err, &df) {
		return df.Error()
	}
	return err.Error()
}

// codeOf returns the code and HTTP status of err: "internal" and 500 for
// an error of no known kind.
func codeOf(err error) (code string, status int) {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code, c.status
		}
	}
	return codeInternal, http.StatusInternalServerError
}

// errorFor returns the error a client reports for an error response.
func errorFor(status int, code, message string) *Error {
	e := &Error{Status: status, Code: code, Message: message}
	for _, c := range errorCodes {
		if c.code == code {
			e.err = c.err
			break
		}
	}
	return e
}
