package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/p2pchat/p2pchat/room/store"
)

// The search corpus: searchRooms rooms, searchAuthors authors, texts of 4
// to 16 words drawn from a Zipf distribution over a vocabulary of
// searchVocab made-up words (w0 the most frequent), so that frequent and
// rare words exist as in chat. The queries are fixed words of it.
const (
	searchRooms   = 4
	searchAuthors = 50
	searchVocab   = 50_000
	searchRecord  = 200 // bytes of the stored record, about an envelope's
	searchRuns    = 21  // timed repetitions of each query (after one warm-up)

	// searchCommon are two frequent words (ranks 3 and 7: in about 25 % and
	// 12 % of the messages, both in about 3 %); searchRare a word the corpus
	// holds in searchRareN messages.
	searchCommon = "w3 w7"
	searchRare   = "zebrafinch"
)

// search builds a store of cfg.searchN messages in a temp dir (or reuses
// cfg.searchDir) and times ranked queries through store.Search.
func (b *bench) search(ctx context.Context) error {
	t := &table{
		title: fmt.Sprintf("search: ranked full-text queries over %d stored messages (store.Search)", b.cfg.searchN),
		head:  []string{"metric", "p2pchat", "target"},
	}
	b.res.set("search_messages", float64(b.cfg.searchN))
	if err := b.measureSearch(ctx, t); err != nil {
		if ctx.Err() != nil {
			return err
		}
		b.fail("search", err)
	}
	b.emit(t)
	return nil
}

func (b *bench) measureSearch(ctx context.Context, t *table) error {
	dir := b.cfg.searchDir
	if dir == "" {
		d, err := os.MkdirTemp("", "p2pchat-bench-search-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	built := false
	if _, err := os.Stat(filepath.Join(dir, store.FileName)); err != nil {
		b.logf("search: building a store of %d messages in %s", b.cfg.searchN, dir)
		t0 := time.Now()
		if err := buildSearchStore(ctx, dir, b.cfg.searchN); err != nil {
			return fmt.Errorf("building the search store: %w", err)
		}
		b.res.set("search_build_s", round(time.Since(t0).Seconds()))
		built = true
	}
	t0 := time.Now()
	st, err := store.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	b.res.set("search_open_ms", round(ms(time.Since(t0))))
	fi, err := os.Stat(filepath.Join(dir, store.FileName))
	if err != nil {
		return err
	}
	b.res.set("search_db_mb", round(float64(fi.Size())/(1<<20)))

	queries := []struct{ key, label, q, room string }{
		{"search_common_ms", fmt.Sprintf("ranked 2-word query %q, all rooms, median (ms)", searchCommon), searchCommon, ""},
		{"search_rare_ms", fmt.Sprintf("rare-word query %q, all rooms, median (ms)", searchRare), searchRare, ""},
		{"search_common_room_ms", fmt.Sprintf("ranked 2-word query %q, one room, median (ms)", searchCommon), searchCommon, searchRoomName(1)},
		{"search_rare_room_ms", fmt.Sprintf("rare-word query %q, one room, median (ms)", searchRare), searchRare, searchRoomName(1)},
	}
	if built {
		t.add("build time (s)", num(b.res.get("search_build_s")), "")
	} else {
		t.note("store reused from -search-dir %s (not rebuilt: no build time)", dir)
	}
	t.add("database size (MB)", num(b.res.get("search_db_mb")), "")
	t.add("store.Open, with its quick_check (ms)", num(b.res.get("search_open_ms")), "")
	for _, q := range queries {
		med, cpu, hits, err := timeSearch(ctx, st, q.q, q.room)
		if err != nil {
			return err
		}
		b.res.set(q.key, round(med))
		b.res.set(strings.TrimSuffix(q.key, "_ms")+"_cpu_ms", round(cpu))
		t.add(q.label, num(med), b.res.verdict(q.key))
		t.add("  its CPU time, median (ms)", num(cpu), "")
		matches, err := countMatches(ctx, dir, q.q, q.room)
		if err != nil {
			return err
		}
		t.note("%s: %d messages match, %d hits returned (limit 50)", q.key, matches, hits)
	}
	t.note("corpus: %d rooms, %d authors, 4–16 words per message, Zipf (s=1.1) over %d words (w0 the most frequent); %q is in %d messages.",
		searchRooms, searchAuthors, searchVocab, searchRare, searchRareN)
	t.note("each query: one warm-up, then the median of %d calls of store.Search (limit 50) on one open store; CPU time is the process's (getrusage), in 10 ms or finer steps.", searchRuns)
	return nil
}

// timeSearch returns the median duration and the median process CPU time
// (less sensitive to other work on a shared machine) in ms of searchRuns
// searches, and the number of hits.
func timeSearch(ctx context.Context, st *store.Store, q, room string) (wall, cpu float64, hits int, err error) {
	h, err := st.Search(ctx, q, room, 50)
	if err != nil {
		return nan, nan, 0, err
	}
	var ds, cs []float64
	for range searchRuns {
		c0, t0 := cpuTime(), time.Now()
		if _, err := st.Search(ctx, q, room, 50); err != nil {
			return nan, nan, 0, err
		}
		ds = append(ds, ms(time.Since(t0)))
		cs = append(cs, ms(cpuTime()-c0))
	}
	if !haveCPUTime {
		return median(ds), nan, len(h), nil
	}
	return median(ds), median(cs), len(h), nil
}

// countMatches counts the messages holding every word of q (in room, if
// not empty), reading the store's file directly.
func countMatches(ctx context.Context, dir, q, room string) (int, error) {
	db, err := sql.Open("sqlite", filepath.Join(dir, store.FileName)+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, `SELECT count(*) FROM messages_fts f JOIN messages m ON m.rowid = f.rowid
		WHERE messages_fts MATCH ? AND (? = '' OR m.room = ?)`, q, room, room).Scan(&n)
	return n, err
}

func searchRoomName(i int) string { return fmt.Sprintf("room%d", i) }

// searchRareN is how many messages hold searchRare.
const searchRareN = 10

// buildSearchStore creates the store's schema with store.Open, then fills
// the messages table directly in large transactions (see insertRows): n
// calls of AddMessage (one transaction each) would take most of an hour. The columns are those
// of room/store's schema; the store's insert trigger queues each row for the
// full-text index, which store.Index fills after each transaction, as the
// store's own indexer does after a burst.
func buildSearchStore(ctx context.Context, dir string, n int) error {
	st, err := store.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, store.FileName)+"?_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	rng := mrand.New(mrand.NewPCG(1, 2))
	zipf := newZipf(rng, 1.1, searchVocab)
	authors := make([][]byte, searchAuthors)
	for i := range authors {
		authors[i] = make([]byte, 32)
		rand.Read(authors[i])
	}
	seqs := make(map[[2]int]int64)
	record := make([]byte, searchRecord)
	rand.Read(record)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	const batch = 20_000 // rows per transaction
	for start := 0; start < n; start += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		var rows [][]any
		for i := start; i < min(n, start+batch); i++ {
			r, a := rng.IntN(searchRooms), rng.IntN(searchAuthors)
			seqs[[2]int{r, a}]++
			var id [16]byte
			rand.Read(id[:])
			text := searchText(rng, zipf, i, max(1, n/searchRareN))
			at := base + int64(i)*int64(time.Second)
			rows = append(rows, []any{searchRoomName(r), id[:], authors[a], seqs[[2]int{r, a}], int64(i + 1), at,
				fmt.Sprintf("nick%d", a), text, record, at})
		}
		if err := insertRows(ctx, db, rows); err != nil {
			return err
		}
		if err := st.Index(ctx); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// insertRows inserts rows into messages in one transaction, searchPerStmt
// rows per INSERT statement (one statement per row was most of the build
// time when the insert trigger indexed each row: FTS5 wrote a segment per
// statement).
func insertRows(ctx context.Context, db *sql.DB, rows [][]any) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for len(rows) > 0 {
		k := min(len(rows), searchPerStmt)
		var args []any
		for _, r := range rows[:k] {
			args = append(args, r...)
		}
		tuples := strings.Repeat("(?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ''), ", k)
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages
			(room, id, author, seq, clock, time, kind, nick, text, record, received, state)
			VALUES `+strings.TrimSuffix(tuples, ", "), args...); err != nil {
			return err
		}
		rows = rows[k:]
	}
	return tx.Commit()
}

// searchPerStmt is how many rows one INSERT of the search build carries.
const searchPerStmt = 100

// searchText is message i's text: 4 to 16 Zipf-drawn words, and the rare
// word in every rareEvery-th message.
func searchText(rng *mrand.Rand, z *zipf, i, rareEvery int) string {
	words := make([]string, 4+rng.IntN(13))
	for j := range words {
		words[j] = fmt.Sprintf("w%d", z.next())
	}
	if i%rareEvery == rareEvery/2 {
		words[rng.IntN(len(words))] = searchRare
	}
	return strings.Join(words, " ")
}

// zipf draws ranks 0..n-1 with probability proportional to 1/(k+1)^s, by
// inverting the cumulative distribution.
type zipf struct {
	rng *mrand.Rand
	cdf []float64
}

func newZipf(rng *mrand.Rand, s float64, n int) *zipf {
	cdf := make([]float64, n)
	sum := 0.0
	for k := range n {
		sum += 1 / math.Pow(float64(k+1), s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return &zipf{rng: rng, cdf: cdf}
}

func (z *zipf) next() int {
	u := z.rng.Float64()
	lo, hi := 0, len(z.cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if z.cdf[mid] < u {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
