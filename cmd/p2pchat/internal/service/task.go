package service

import (
	"encoding/xml"
	"strings"
)

// taskFile is the Task Scheduler definition (for schtasks /Create /XML):
// run the daemon as the user, without elevation, when the user logs on;
// restart it when it fails; never stop it for running long or on battery.
// It is kept as UTF-16, the encoding Task Scheduler itself writes.
func taskFile(c Config) File {
	esc := func(s string) string {
		var e strings.Builder
		xml.EscapeText(&e, []byte(s)) // writes to a strings.Builder never fail
		return e.String()
	}
	args := daemonArgs(c, "text")
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = windowsQuote(a)
	}
	dir := strings.TrimRight(c.LocalAppData, `\/`) + `\p2pchat`
	return File{
		Path:  dir + `\p2pchat-task.xml`,
		Mode:  0o644,
		UTF16: true,
		Text: `<?xml version="1.0" encoding="UTF-16"?>
<!-- Scheduled task for the p2pchat daemon, written by "p2pchat service install";
     "p2pchat service uninstall" removes it. -->
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>p2pchat daemon (peer-to-peer encrypted LAN chat)</Description>
    <URI>\` + TaskName + `</URI>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>` + esc(c.User) + `</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>` + esc(c.User) + `</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>` + esc(c.Binary) + `</Command>
      <Arguments>` + esc(strings.Join(q, " ")) + `</Arguments>
    </Exec>
  </Actions>
</Task>
`,
	}
}

// windowsQuote quotes one argument the way Windows programs (the C
// runtime's and Go's command-line parsing) split them again: between
// double quotes when it has spaces or quotes, with backslashes doubled
// before a quote.
func windowsQuote(a string) string {
	if a != "" && !strings.ContainsAny(a, " \t\"") {
		return a
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(a); i++ {
		switch a[i] {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(a[i])
	}
	b.WriteString(strings.Repeat(`\`, slashes))
	b.WriteByte('"')
	return b.String()
}
