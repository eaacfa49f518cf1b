package service

import (
	"encoding/xml"
	"path"
	"strconv"
	"strings"
)

// launchdDomain is the per-user launchd domain of a logged-in user.
func launchdDomain(c Config) string { return "gui/" + strconv.Itoa(c.UID) }

// launchdTarget names the agent in its domain.
func launchdTarget(c Config) string { return launchdDomain(c) + "/" + LaunchdLabel }

// launchdFile is the launch agent: started at login (RunAtLoad), started
// again when it exits with an error (as systemd's Restart=on-failure), its
// output appended to ~/Library/Logs/p2pchat.log.
func launchdFile(c Config) File {
	var b strings.Builder
	str := func(s string) string {
		var e strings.Builder
		xml.EscapeText(&e, []byte(s)) // writes to a strings.Builder never fail
		return "<string>" + e.String() + "</string>"
	}
	logFile := path.Join(c.UserHome, "Library", "Logs", "p2pchat.log")
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- launchd agent for the p2pchat daemon, written by "p2pchat service install";
     "p2pchat service uninstall" removes it. -->
<plist version="1.0">
<dict>
	<key>Label</key>
	` + str(LaunchdLabel) + `
	<key>ProgramArguments</key>
	<array>
`)
	for _, a := range append([]string{c.Binary}, daemonArgs(c, "text")...) {
		b.WriteString("\t\t" + str(a) + "\n")
	}
	b.WriteString(`	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>KeepAlive</key>
	<dict>
		<key>SuccessfulExit</key>
		<false/>
	</dict>
	<key>ThrottleInterval</key>
	<integer>5</integer>
	<key>ExitTimeOut</key>
	<integer>15</integer>
	<key>StandardOutPath</key>
	` + str(logFile) + `
	<key>StandardErrorPath</key>
	` + str(logFile) + `
</dict>
</plist>
`)
	return File{
		Path: path.Join(c.UserHome, "Library", "LaunchAgents", LaunchdLabel+".plist"),
		Mode: 0o644,
		Text: b.String(),
	}
}
