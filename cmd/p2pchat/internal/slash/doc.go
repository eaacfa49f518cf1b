// Package slash is the table of p2pchat's slash commands (/join, /who, …)
// that line mode and the full-screen UI share: their names, aliases,
// argument synopses and help, and how their arguments are parsed.
//
// Both faces parse a line with [Parse] and run the [Call] their own way;
// their /help text comes from [Help] and the UI's Tab completion from
// [Names], so that neither keeps a list of command names of its own.
//
// A line is a command when it starts with "/" but not "//" ([Split]). A
// line that starts with "/" and names no command is an [*UnknownError],
// never a message: "//text" sends "/text".
package slash
