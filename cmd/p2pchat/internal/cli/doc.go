// Package cli is the p2pchat command line: the cobra command tree (one file
// per subcommand), line mode, the daemon and the glue of the full-screen UI.
// The binary's main package only calls [Main].
package cli
