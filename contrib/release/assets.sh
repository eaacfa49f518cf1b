#!/bin/sh
# Generates what release archives and packages ship besides the binary:
# man pages, shell completions and the packaged systemd user unit, in
# build/release. GoReleaser runs it as a before-hook (.goreleaser.yaml).
#
# The output depends only on the commit: the man pages are dated with the
# commit time (SOURCE_DATE_EPOCH, which cobra honours), so two runs on one
# commit produce the same files.
set -eu
cd "$(dirname "$0")/../.."
out=build/release
rm -rf "$out"
mkdir -p "$out/man" "$out/completions" "$out/systemd"

# A binary for this machine to generate them with (whatever GOOS and
# GOARCH say: `goreleaser build --single-target` takes its target from
# them); the release binaries are built later by GoReleaser, one per target.
CGO_ENABLED=0 GOOS=$(go env GOHOSTOS) GOARCH=$(go env GOHOSTARCH) go build -trimpath -o "$out/p2pchat-gen" ./cmd/p2pchat
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) "$out/p2pchat-gen" man --dir "$out/man" >/dev/null
"$out/p2pchat-gen" completion bash >"$out/completions/p2pchat.bash"
"$out/p2pchat-gen" completion zsh >"$out/completions/p2pchat.zsh"
"$out/p2pchat-gen" completion fish >"$out/completions/p2pchat.fish"
"$out/p2pchat-gen" completion powershell >"$out/completions/p2pchat.ps1"
rm "$out/p2pchat-gen"

# Packages install the binary in /usr/bin; the unit in contrib/ expects
# `go install`'s ~/go/bin.
sed 's|^ExecStart=%h/go/bin/p2pchat |ExecStart=/usr/bin/p2pchat |' contrib/systemd/p2pchat.service >"$out/systemd/p2pchat.service"
if ! grep -q '^ExecStart=/usr/bin/p2pchat daemon' "$out/systemd/p2pchat.service"; then
	echo "assets.sh: ExecStart in contrib/systemd/p2pchat.service has changed; update the sed above" >&2
	exit 1
fi
