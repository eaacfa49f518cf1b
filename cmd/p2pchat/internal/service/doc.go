// Package service registers the p2pchat daemon as a per-user service: a
// systemd user unit on Linux, a launchd agent on macOS, a scheduled task
// that starts at logon on Windows.
//
// Everything it does is first described as a list of [Action]s (files to
// write or remove, commands to run), computed by pure functions of a
// [Config] ([InstallActions], [UninstallActions], [StatusActions]): the
// files and commands for every OS can be generated, and tested, on any
// OS. [Do] then performs the actions, running commands through a
// [Runner] ([ExecRunner] runs them for real), and says what it did;
// [Describe] prints them without doing anything (--dry-run).
//
// Only user-level registration is done: nothing needs administrator
// rights, and the daemon runs as the user whose state directory it uses.
package service
