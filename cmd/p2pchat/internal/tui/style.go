package tui

import (
	"hash/fnv"
	"image/color"

	"charm.land/lipgloss/v2"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Styles. Every state that matters for security also has a textual mark
// (see the package doc), so none depends on colour alone: the program's
// colour profile drops colours under NO_COLOR and keeps bold and reverse.
var (
	styleDim        = lipgloss.NewStyle().Faint(true)
	styleHeader     = lipgloss.NewStyle().Bold(true)
	styleStatus     = lipgloss.NewStyle().Reverse(true)
	styleCurrent    = lipgloss.NewStyle().Reverse(true).Bold(true)
	styleUnread     = lipgloss.NewStyle().Bold(true)
	styleMention    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("11")).Background(lipgloss.Color("236"))
	styleMentionMk  = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("11"))
	styleError      = lipgloss.NewStyle().Foreground(lipgloss.Color("9"))
	styleWarn       = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("9"))
	styleWarnMark   = lipgloss.NewStyle().Bold(true).Reverse(true).Foreground(lipgloss.Color("9"))
	styleUnreadable = lipgloss.NewStyle().Italic(true).Foreground(lipgloss.Color("13"))
	styleVerified   = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("10"))
	styleNotSent    = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("9"))
	stylePending    = lipgloss.NewStyle().Italic(true).Foreground(lipgloss.Color("11"))
	stylePrompt     = lipgloss.NewStyle().Bold(true)
	styleSecret     = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("11"))
)

// peerPalette holds mid-tone 256-colour indices readable on dark and light
// backgrounds. Reds are left out: red means a warning here.
var peerPalette = []string{"25", "28", "30", "31", "32", "37", "62", "64", "66", "71", "98", "125", "130", "133", "136", "172"}

// peerColor returns p's colour: the same on every run and every machine,
// because it comes from the peer ID alone.
func peerColor(p peer.ID) color.Color {
	h := fnv.New32a()
	h.Write([]byte(p))
	return lipgloss.Color(peerPalette[h.Sum32()%uint32(len(peerPalette))])
}

// peerStyle is how p's nick is drawn.
func peerStyle(p peer.ID, self bool) lipgloss.Style {
	s := lipgloss.NewStyle()
	if p != "" {
		s = s.Foreground(peerColor(p))
	}
	if self {
		s = s.Bold(true)
	}
	return s
}
