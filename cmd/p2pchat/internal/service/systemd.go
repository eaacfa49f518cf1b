package service

import (
	"path"
	"strings"
)

// systemdFile is the systemd user unit. Its directives are those of
// contrib/systemd/p2pchat.service (a test checks), with ExecStart naming
// c.Binary.
func systemdFile(c Config) File {
	dir := c.ConfigHome
	if dir == "" {
		dir = path.Join(c.UserHome, ".config")
	}
	argv := append([]string{c.Binary}, daemonArgs(c, "json")...)
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = systemdQuote(a)
	}
	return File{
		Path: path.Join(dir, "systemd", "user", SystemdUnit),
		Mode: 0o644,
		Text: `# systemd user unit for the p2pchat daemon, written by
# "p2pchat service install"; "p2pchat service uninstall" removes it.
# Logs: journalctl --user -u p2pchat

[Unit]
Description=p2pchat daemon (peer-to-peer encrypted LAN chat)
Documentation=man:p2pchat(1) https://github.com/p2pchat/p2pchat

[Service]
# The daemon sends READY=1 over $NOTIFY_SOCKET once its API socket listens.
Type=notify
NotifyAccess=main
ExecStart=` + strings.Join(q, " ") + `
Restart=on-failure
RestartSec=5s
# On SIGTERM the daemon says goodbye to its rooms before it exits.
KillSignal=SIGTERM
TimeoutStopSec=15s
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
MemoryDenyWriteExecute=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK

[Install]
WantedBy=default.target
`,
	}
}

// systemdQuote writes one ExecStart word: systemd expands % specifiers
// and $VARIABLES in command lines, so both are doubled, and a word with
// spaces or quotes goes between double quotes, with \ and " escaped.
func systemdQuote(a string) string {
	a = strings.ReplaceAll(a, "%", "%%")
	a = strings.ReplaceAll(a, "$", "$$")
	if a != "" && !strings.ContainsAny(a, " \t\n\"'\\;") {
		return a
	}
	a = strings.ReplaceAll(a, `\`, `\\`)
	a = strings.ReplaceAll(a, `"`, `\"`)
	a = strings.ReplaceAll(a, "\n", `\n`)
	a = strings.ReplaceAll(a, "\t", `\t`)
	return `"` + a + `"`
}
