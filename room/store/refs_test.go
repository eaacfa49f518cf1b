package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestForget: a delete takes the text (and the record) of the message and
// of its author's edits of it out of the file and out of the search
// index; the rows stay held; a copy that comes later is not stored; other
// authors' edits naming it are untouched; reactions are found by their
// target.
func TestForget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	target := testMessage("lobby", 1, 1, 1, "secret plans")
	edit := testMessage("lobby", 1, 2, 2, "secret plans, revised")
	edit.Kind, edit.Ref = KindEdit, target.ID[:]
	react := testMessage("lobby", 2, 1, 3, "👍")
	react.Kind, react.Ref = KindReact, target.ID[:]
	other := testMessage("lobby", 2, 2, 4, "secret too")
	other.Kind, other.Ref = KindEdit, target.ID[:] // another author's: never honoured, never blanked
	for _, m := range []Message{target, edit, react, other} {
		if added, err := s.AddMessage(ctx, m); err != nil || !added {
			t.Fatalf("add %q: %v %v", m.Text, added, err)
		}
	}
	anns, err := s.Annotations(ctx, "lobby", [][16]byte{target.ID})
	if err != nil || len(anns) != 3 || anns[0].Text != edit.Text || anns[1].Kind != KindReact {
		t.Fatalf("annotations: %+v %v", anns, err)
	}
	if hits, err := s.Search(ctx, "secret", "lobby", 10); err != nil || len(hits) != 3 {
		t.Fatalf("before the delete: %d hits, %v", len(hits), err)
	}
	if err := s.Forget(ctx, "lobby", target.ID, target.Author, target.Seq, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, id := range [][16]byte{target.ID, edit.ID} {
		m, ok, err := s.Message(ctx, "lobby", id)
		if err != nil || !ok || m.Text != "" || len(m.Record) != 0 || m.State != StateDeleted {
			t.Errorf("after the delete: %+v %v %v", m, ok, err)
		}
	}
	if m, _, _ := s.Message(ctx, "lobby", other.ID); m.Text != other.Text {
		t.Errorf("another author's row changed: %q", m.Text)
	}
	// Once scrubbed, nothing of the text is left in the files (the row,
	// the index, the freed pages, the WAL).
	if err := s.Scrub(ctx); err != nil {
		t.Fatal(err)
	}
	checkGone(t, dir, "plans")
	hits, err := s.Search(ctx, "secret", "lobby", 10)
	if err != nil || len(hits) != 1 || hits[0].ID != other.ID {
		t.Errorf("after the delete, search finds %+v, %v", hits, err)
	}
	if r, _ := s.Ranges(ctx, "lobby"); len(r[string(target.Author)]) != 1 || r[string(target.Author)][0] != (Range{1, 2}) {
		t.Errorf("ranges after the delete: %v", r[string(target.Author)])
	}
	if anns, _ := s.Annotations(ctx, "lobby", [][16]byte{target.ID}); len(anns) != 2 {
		t.Errorf("annotations after the delete: %+v", anns)
	}

	// Deleted before it arrived: the copy is refused.
	late := testMessage("lobby", 3, 5, 9, "said and unsaid")
	if err := s.Forget(ctx, "lobby", late.ID, late.Author, late.Seq, time.Now()); err != nil {
		t.Fatal(err)
	}
	if added, err := s.AddMessage(ctx, late); err != nil || added {
		t.Errorf("a deleted message's copy stored: %v %v", added, err)
	}
	if h, _ := s.History(ctx, "lobby", 0, time.Time{}); len(h) != 1 || h[0].ID != target.ID {
		t.Errorf("history shows %+v, want the deleted message only", h)
	}
}

// checkGone fails t if the files of the store in dir hold text.
func checkGone(t *testing.T, dir, text string) {
	t.Helper()
	for _, name := range []string{FileName, FileName + "-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(text)) {
			t.Errorf("%s still holds the deleted text", name)
		}
	}
}

// TestForgetScrubsByClose: a delete whose scrub is not due yet is
// scrubbed when the store closes: the text does not outlive the process
// in the files.
func TestForgetScrubsByClose(t *testing.T) {
	defer func(d time.Duration) { scrubDelay = d }(scrubDelay)
	scrubDelay = time.Hour
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage("lobby", 1, 1, 1, "a secret rendezvous")
	if _, err := s.AddMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.Index(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(ctx, "lobby", m.ID, m.Author, m.Seq, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkGone(t, dir, "rendezvous")
}
