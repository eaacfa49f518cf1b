package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// searchReference is Search's query before it chose the best rows first:
// every match joined to messages and highlighted, then sorted (with the
// tie order Search documents). The new query must return the same hits.
func searchReference(ctx context.Context, s *Store, query, room string, limit int) ([]Hit, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+prefixed("m.", messageColumns)+`, highlight(messages_fts, 0, '[', ']')
		FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
		WHERE messages_fts MATCH ? AND (? = '' OR m.room = ?)
		ORDER BY bm25(messages_fts), m.rowid LIMIT ?`, ftsQuery(query), room, room, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		var id []byte
		var seq, clock, t, recv int64
		if err := rows.Scan(&h.Room, &id, &h.Author, &seq, &clock, &t, &h.Kind, &h.Nick, &h.Text, &h.Record, &recv, &h.State, &h.Ref, &h.Snippet); err != nil {
			return nil, err
		}
		copy(h.ID[:], id)
		h.Seq, h.Clock = uint64(seq), uint64(clock)
		h.Time, h.Received = time.Unix(0, t), time.Unix(0, recv)
		out = append(out, h)
	}
	return out, rows.Err()
}

// TestSearchSameAsReference checks, on a small fixture, that Search ranks,
// filters by room, limits and highlights exactly as the reference query.
func TestSearchSameAsReference(t *testing.T) {
	ctx := context.Background()
	s := open(t, t.TempDir())
	words := []string{"alpha", "beta", "gamma", "delta", "café", "x-ray", "Alpha"}
	n := 0
	for _, room := range []string{"lobby", "other", "third"} {
		for i := range 60 {
			// Texts of varying length and word counts, with repeats (term
			// frequency), ties (identical texts) and punctuation.
			var text string
			for j := range 1 + (i*7+len(room))%9 {
				text += words[(i*j+i/3+len(room))%len(words)] + " "
			}
			if i%10 == 0 {
				text = "alpha beta, again"
			}
			n++
			m := testMessage(room, byte(n), uint64(i+1), uint64(n), text)
			if _, err := s.AddMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The reference reads the index directly: index what is queued.
	if err := s.Index(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		query, room string
		limit       int
	}{
		{"alpha", "", 50},
		{"alpha", "", 5},
		{"alpha beta", "", 50},
		{"alpha beta", "other", 50},
		{"alpha beta", "other", 3},
		{"ALPHA gamma", "lobby", 50},
		{"cafe", "", 50},
		{"café delta", "third", 10},
		{"x-ray", "", 50},
		{"again", "", 50},
		{"nothing", "", 50},
		{"alpha", "no-such-room", 50},
		{`alpha" OR "beta`, "", 50},
	} {
		t.Run(fmt.Sprintf("%s/%s/%d", c.query, c.room, c.limit), func(t *testing.T) {
			want, err := searchReference(ctx, s, c.query, c.room, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Search(ctx, c.query, c.room, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d hits, reference %d", len(got), len(want))
			}
			for i := range got {
				g, w := got[i], want[i]
				if g.Room != w.Room || g.ID != w.ID || g.Text != w.Text || g.Snippet != w.Snippet || g.Seq != w.Seq ||
					g.Clock != w.Clock || !slices.Equal(g.Record, w.Record) || !g.Time.Equal(w.Time) {
					t.Errorf("hit %d: got %s %x %q %q, reference %s %x %q %q", i, g.Room, g.ID[:3], g.Text, g.Snippet, w.Room, w.ID[:3], w.Text, w.Snippet)
				}
				if c.room != "" && g.Room != c.room {
					t.Errorf("hit %d from room %q, asked %q", i, g.Room, c.room)
				}
			}
		})
	}
}
