package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// results holds every figure of a run under its JSON key (NaN: not
// measured, written as null).
type results struct {
	vals    map[string]float64
	meta    map[string]any
	targets []target
}

func newResults() *results {
	return &results{vals: map[string]float64{}, meta: map[string]any{}}
}

func (r *results) set(key string, v float64) { r.vals[key] = v }

func (r *results) get(key string) float64 {
	if v, ok := r.vals[key]; ok {
		return v
	}
	return nan
}

// compare stores a metric of both stacks under key (p2pchat), key_stock
// and key_ratio (p2pchat / stock).
func (r *results) compare(key string, stock, p2p float64) {
	r.set(key+"_stock", stock)
	r.set(key, p2p)
	ratio := nan
	if stock != 0 && !math.IsNaN(stock) && !math.IsNaN(p2p) {
		ratio = p2p / stock
	}
	r.set(key+"_ratio", ratio)
}

// target is a goal printed next to a figure; missing one never fails the run.
type target struct {
	key   string
	le    bool // the figure must be ≤ limit (else ≥)
	limit float64
	what  string
}

func (t target) String() string {
	op := "≥"
	if t.le {
		op = "≤"
	}
	return fmt.Sprintf("%s %s", op, num(t.limit))
}

// met reports whether v meets t; ok is false when v was not measured.
func (t target) met(v float64) (met, ok bool) {
	if math.IsNaN(v) {
		return false, false
	}
	if t.le {
		return v <= t.limit, true
	}
	return v >= t.limit, true
}

// targetsFor lists the targets of the issue for the room sizes of cfg.
func targetsFor(cfg *config) []target {
	var ts []target
	for _, n := range cfg.burstN {
		if n >= 10 {
			ts = append(ts, target{fmt.Sprintf("burst_n%d_throughput_ratio", n), false, 0.9, fmt.Sprintf("burst throughput p2pchat/stock at N=%d", n)})
		}
		ts = append(ts, target{fmt.Sprintf("burst_n%d_repaired_pct", n), false, 100, fmt.Sprintf("burst delivered after repair, p2pchat, N=%d", n)})
	}
	for _, n := range cfg.steadyN {
		ts = append(ts, target{fmt.Sprintf("steady_n%d_p50_ratio", n), true, 1.5, fmt.Sprintf("steady p50 latency p2pchat/stock at N=%d", n)})
		if n <= 10 {
			ts = append(ts, target{fmt.Sprintf("steady_n%d_seen_all", n), true, 1000, fmt.Sprintf("sent → seen by all members, N=%d (ms, median)", n)})
		}
	}
	ts = append(ts, target{fmt.Sprintf("join_n%d_first_msg", cfg.joinN), true, 250, "start → first delivered message (ms, median)"})
	for _, n := range cfg.rekeyN {
		if n >= 50 {
			ts = append(ts, target{fmt.Sprintf("rekey_n%d_time", n), true, 1000, fmt.Sprintf("rekey time at N=%d (ms, median)", n)})
		}
		ts = append(ts, target{fmt.Sprintf("rekey_n%d_lost", n), true, 0, fmt.Sprintf("messages lost during rekeys at N=%d", n)})
	}
	ts = append(ts, target{"footprint_rss_mb", true, 30, "idle p2pchat process RSS (MB)"})
	ts = append(ts, target{"footprint_cpu_pct", true, 0.5, "idle p2pchat process CPU (% of one core)"})
	ts = append(ts, target{"footprint_wakeups", true, 5, "idle p2pchat process wakeups per second"})
	ts = append(ts, target{"search_common_ms", true, 50, "ranked 2-word search (ms, median)"})
	ts = append(ts, target{"search_rare_ms", true, 5, "rare-word search (ms, median)"})
	return ts
}

func (r *results) target(key string) (target, bool) {
	for _, t := range r.targets {
		if t.key == key {
			return t, true
		}
	}
	return target{}, false
}

// verdict renders the target of key with whether it was met, or "".
func (r *results) verdict(key string) string {
	t, ok := r.target(key)
	if !ok {
		return ""
	}
	met, measured := t.met(r.get(key))
	switch {
	case !measured:
		return t.String() + " (not measured)"
	case met:
		return t.String() + " met"
	default:
		return t.String() + " MISSED"
	}
}

// table is one scenario's output: a title, rows of cells and notes.
type table struct {
	title string
	head  []string
	rows  [][]string
	notes []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) note(format string, a ...any) { t.notes = append(t.notes, fmt.Sprintf(format, a...)) }

func (t *table) print(w io.Writer) {
	fmt.Fprintf(w, "\n== %s\n", t.title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range t.notes {
		fmt.Fprintln(w, "  "+n)
	}
}

// compareHead is the header of tables that compare the two stacks.
var compareHead = []string{"N", "metric", "stock", "p2pchat", "ratio", "target"}

// compareRow adds the stock, p2pchat and ratio figures stored under key.
func (r *results) compareRow(t *table, n, label, key string) {
	t.add(n, label, num(r.get(key+"_stock")), num(r.get(key)), num(r.get(key+"_ratio")), r.verdict(key+"_ratio")+r.verdict(key))
}

// num formats a figure with a precision suited to its size; "—" for NaN.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "—"
	case a == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// round keeps about four significant digits, enough for every figure here.
func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	scale := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// printTargets lists every target with its figure and returns the keys of
// those missed.
func (r *results) printTargets(w io.Writer) []string {
	t := &table{title: "targets (printed, never enforced)", head: []string{"target", "key", "figure", "goal", "verdict"}}
	var missed []string
	for _, tg := range r.targets {
		v := r.get(tg.key)
		met, ok := tg.met(v)
		verdict := "met"
		switch {
		case !ok:
			verdict = "not measured"
		case !met:
			verdict = "MISSED"
			missed = append(missed, tg.key)
		}
		t.add(tg.what, tg.key, num(v), tg.String(), verdict)
	}
	t.print(w)
	return missed
}

// writeJSON writes every figure and the meta data as one line of JSON.
func (r *results) writeJSON(w io.Writer, missed, failures []string) error {
	out := map[string]any{}
	for k, v := range r.meta {
		out[k] = v
	}
	for k, v := range r.vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[k] = nil
		} else {
			out[k] = round(v)
		}
	}
	sort.Strings(missed)
	if missed == nil {
		missed = []string{}
	}
	out["targets_missed"] = missed
	if failures == nil {
		failures = []string{}
	}
	out["failures"] = failures
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
