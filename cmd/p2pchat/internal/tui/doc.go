// Package tui is p2pchat's full-screen terminal face, built on Bubble Tea:
// a rooms column with unread counts and mention marks, the message pane, a
// members column with verified marks, a status line and an input line with
// history, bracketed paste and tab completion.
//
//	rooms        │ lobby · open room                 │ members 2
//	› 1 lobby    │ 12:01 bob#jsqcn: hi               │   alice#abcde (you)
//	  2 vault  3@│ 12:02 alice#abcde: hello    · sent│ ✓ bob#jsqcn
//	             │                                   │ ? carol#q7d2m
//	 alice#abcde · 2 peers · lobby: open · 2 members (1 verified)
//	lobby> _
//
// The model drives the chat core through the small [Core] interface (so its
// tests use a fake); cmd/p2pchat adapts room.Manager to it and feeds the
// core's event stream in as [EventMsg]. Command lines are parsed with the
// table of package slash, which also gives the help panel its command list
// and Tab its command names; a line naming no command is an error, never
// a message. Commands that line mode also has
// (/join, /leave, /nick, /who, /verify, /rooms, /status) run through
// [Core.Command], so both faces answer them alike; /help, /clear, /me and
// /quit are handled here, and /history and /search with the core's
// [Historian], which also fills the panes with stored messages.
//
// Security state is shown as text as well as colour, so that it survives
// NO_COLOR: "✓" marks a verified peer and "?" an unverified one, "!" a peer
// whose nick came with a different key than before ("!!!" lines say so when
// it happens), "✗" messages that could not be read, and "!" other errors.
package tui
