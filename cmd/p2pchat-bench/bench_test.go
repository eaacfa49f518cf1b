package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// documentedKeys are the JSON keys docs/BENCHMARKS.md promises, with {N}
// standing for each room size of the scenario. Ratios and _stock variants
// are listed where the docs say so.
var documentedKeys = map[string][]string{
	"burst": {
		"burst_n{N}_throughput", "burst_n{N}_throughput_stock", "burst_n{N}_throughput_ratio",
		"burst_n{N}_delivered_pct", "burst_n{N}_delivered_pct_stock", "burst_n{N}_delivered_pct_ratio",
		"burst_n{N}_repaired_pct", "burst_n{N}_repaired_pct_stock", "burst_n{N}_repaired_pct_ratio",
		"burst_n{N}_p50", "burst_n{N}_p50_stock", "burst_n{N}_p50_ratio",
		"burst_n{N}_p99", "burst_n{N}_p99_stock", "burst_n{N}_p99_ratio",
		"burst_n{N}_max", "burst_n{N}_max_stock", "burst_n{N}_max_ratio",
		"burst_n{N}_cpu_us", "burst_n{N}_cpu_us_stock", "burst_n{N}_cpu_us_ratio",
		"burst_n{N}_heap_kb", "burst_n{N}_heap_kb_stock", "burst_n{N}_heap_kb_ratio",
	},
	"steady": {
		"steady_n{N}_p50", "steady_n{N}_p50_stock", "steady_n{N}_p50_ratio",
		"steady_n{N}_p99", "steady_n{N}_p99_stock", "steady_n{N}_p99_ratio",
		"steady_n{N}_max", "steady_n{N}_max_stock", "steady_n{N}_max_ratio",
		"steady_n{N}_delivered_pct", "steady_n{N}_delivered_pct_stock", "steady_n{N}_delivered_pct_ratio",
		"steady_n{N}_cpu_us", "steady_n{N}_cpu_us_stock", "steady_n{N}_cpu_us_ratio",
		"steady_n{N}_seen_all",
	},
	"join": {
		"join_n{N}_first_msg", "join_n{N}_first_msg_stock", "join_n{N}_first_msg_ratio",
		"join_n{N}_first_msg_max", "join_n{N}_first_msg_max_stock", "join_n{N}_first_msg_max_ratio",
		"join_n{N}_joined", "join_n{N}_joined_stock", "join_n{N}_joined_ratio",
		"join_n{N}_ready", "join_n{N}_ready_max",
	},
	"rekey": {
		"rekey_n{N}_time", "rekey_n{N}_time_max", "rekey_n{N}_lost", "rekey_n{N}_sent", "rekey_n{N}_stall",
	},
	"footprint": {"footprint_rss_mb", "footprint_hwm_mb", "footprint_heap_mb", "footprint_peers", "footprint_binary_mb", "footprint_cpu_pct", "footprint_wakeups"},
	"search": {
		"search_messages", "search_build_s", "search_db_mb", "search_open_ms",
		"search_common_ms", "search_rare_ms", "search_common_room_ms", "search_rare_room_ms",
		"search_common_cpu_ms", "search_rare_cpu_ms", "search_common_room_cpu_ms", "search_rare_room_cpu_ms",
	},
	"crypto": {
		"crypto_sign_us", "crypto_verify_us", "crypto_seal_us", "crypto_open_us", "crypto_ratchet_us",
		"crypto_wire_seal_sign_us", "crypto_wire_verify_open_us", "crypto_wire_ratchet_us",
		"crypto_wire_new_epoch_n10_us", "crypto_wire_new_epoch_n50_us", "crypto_cpace_us",
	},
	"": {
		"meta_go", "meta_nproc", "meta_gomaxprocs", "meta_cpu", "meta_os", "meta_date", "meta_quick",
		"meta_persist", "meta_load", "meta_seconds", "targets_missed", "failures",
	},
}

// quickSizes are the room sizes of -quick, per scenario.
var quickSizes = map[string][]int{"burst": {2, 4}, "steady": {4}, "join": {3}, "rekey": {4}}

// TestQuick runs the CI smoke run in-process: it must succeed and end with
// a JSON line holding every documented key. Figures are not checked.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of nodes and builds cmd/p2pchat")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	t0 := time.Now()
	if err := run(ctx, []string{"-quick"}, &stdout, &stderr); err != nil {
		t.Fatalf("quick run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	t.Logf("quick run took %v", time.Since(t0))
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, lines[len(lines)-1])
	}
	for _, key := range expandKeys(t) {
		if _, ok := got[key]; !ok {
			t.Errorf("JSON line lacks %q", key)
		}
	}
	if f, _ := got["failures"].([]any); len(f) != 0 {
		t.Errorf("failures: %v", f)
	}
	for _, s := range []string{"== burst", "== steady", "== join", "== rekey", "== footprint", "== search", "== crypto", "== targets"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("no %q table in the output", s)
		}
	}
}

func expandKeys(t *testing.T) []string {
	var keys []string
	for scenario, templates := range documentedKeys {
		for _, tpl := range templates {
			if !strings.Contains(tpl, "{N}") {
				keys = append(keys, tpl)
				continue
			}
			sizes := quickSizes[scenario]
			if len(sizes) == 0 {
				t.Fatalf("no quick sizes for %s", scenario)
			}
			for _, n := range sizes {
				keys = append(keys, strings.ReplaceAll(tpl, "{N}", fmt.Sprint(n)))
			}
		}
	}
	return keys
}

// TestKeysDocumented checks that docs/BENCHMARKS.md names every key the
// test expects, and that the command writes no key the docs do not name.
func TestKeysDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/BENCHMARKS.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, templates := range documentedKeys {
		for _, tpl := range templates {
			want[tpl] = true
			if !bytes.Contains(doc, []byte("`"+tpl+"`")) {
				t.Errorf("docs/BENCHMARKS.md does not document `%s`", tpl)
			}
		}
	}
	cfg := defaults()
	for _, s := range allScenarios {
		for _, k := range keysOf(&cfg, s) {
			tpl := k
			for _, n := range append(append(append(cfg.burstN, cfg.steadyN...), cfg.rekeyN...), cfg.joinN) {
				tpl = strings.Replace(tpl, fmt.Sprintf("_n%d_", n), "_n{N}_", 1)
			}
			if !want[tpl] && !strings.HasPrefix(tpl, "crypto_wire_new_epoch_n") {
				t.Errorf("the command writes %q, which the docs do not list", k)
			}
		}
	}
}

func TestParseConfig(t *testing.T) {
	var stderr bytes.Buffer
	c, err := parseConfig([]string{"-quick", "-burst-n", "3,5", "-rounds", "3"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !c.quick || fmt.Sprint(c.burstN) != "[3 5]" || c.rounds != 3 || c.burstMsgs != 100 {
		t.Errorf("quick with overrides: burstN %v rounds %d msgs %d", c.burstN, c.rounds, c.burstMsgs)
	}
	for _, bad := range [][]string{{"-stacks", "nope"}, {"-burst-n", "1"}, {"-size", "8"}, {"extra"}, {"-rekey-n", "3", "-rekey-trials", "2"}} {
		if _, err := parseConfig(bad, &stderr); exitStatus(err) != 2 {
			t.Errorf("%q: got %v, want a usage error", bad, err)
		}
	}
}

func TestPayload(t *testing.T) {
	b := payload(phaseMeasure, 1234, 256)
	if len(b) != 256 {
		t.Fatalf("len %d", len(b))
	}
	phase, seq, ok := parsePayload(b)
	if !ok || phase != phaseMeasure || seq != 1234 {
		t.Errorf("parsed %c %d %v", phase, seq, ok)
	}
	if _, _, ok := parsePayload([]byte("short")); ok {
		t.Error("parsed a short payload")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct{ p, want float64 }{{50, 50}, {99, 99}, {100, 100}, {0, 1}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
}
