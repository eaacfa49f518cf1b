package main

import "fmt"

// Metrics of each scenario. A compared metric m at room size N is stored
// as <scenario>_n<N>_<m> (p2pchat), …_<m>_stock and …_<m>_ratio
// (p2pchat/stock); p2pchat-only metrics have the first key alone. Units:
// see docs/BENCHMARKS.md.
var (
	burstMetrics  = []string{"throughput", "delivered_pct", "repaired_pct", "p50", "p99", "max", "cpu_us", "heap_kb"}
	steadyMetrics = []string{"p50", "p99", "max", "delivered_pct", "cpu_us"}
	steadyP2POnly = []string{"seen_all"}
	joinCompared  = []string{"first_msg", "first_msg_max", "joined"}
	joinP2POnly   = []string{"ready", "ready_max"}
	rekeyP2POnly  = []string{"time", "time_max", "lost", "sent", "stall"}
	footprintKeys = []string{"footprint_rss_mb", "footprint_hwm_mb", "footprint_heap_mb", "footprint_peers", "footprint_binary_mb", "footprint_cpu_pct", "footprint_wakeups"}
	searchKeys    = []string{
		"search_messages", "search_build_s", "search_db_mb", "search_open_ms",
		"search_common_ms", "search_rare_ms", "search_common_room_ms", "search_rare_room_ms",
		"search_common_cpu_ms", "search_rare_cpu_ms", "search_common_room_cpu_ms", "search_rare_room_cpu_ms",
	}
	cryptoKeys = []string{
		"crypto_sign_us", "crypto_verify_us", "crypto_seal_us", "crypto_open_us", "crypto_ratchet_us",
		"crypto_wire_seal_sign_us", "crypto_wire_verify_open_us", "crypto_wire_ratchet_us",
		"crypto_wire_new_epoch_n10_us", "crypto_wire_new_epoch_n50_us", "crypto_cpace_us",
	}
)

func compared(prefix string, metrics []string) []string {
	var ks []string
	for _, m := range metrics {
		ks = append(ks, prefix+m, prefix+m+"_stock", prefix+m+"_ratio")
	}
	return ks
}

func only(prefix string, metrics []string) []string {
	var ks []string
	for _, m := range metrics {
		ks = append(ks, prefix+m)
	}
	return ks
}

// keysOf lists the JSON keys that scenario writes under cfg.
func keysOf(cfg *config, scenario string) []string {
	var ks []string
	switch scenario {
	case "burst":
		for _, n := range cfg.burstN {
			ks = append(ks, compared(fmt.Sprintf("burst_n%d_", n), burstMetrics)...)
		}
	case "steady":
		for _, n := range cfg.steadyN {
			p := fmt.Sprintf("steady_n%d_", n)
			ks = append(append(ks, compared(p, steadyMetrics)...), only(p, steadyP2POnly)...)
		}
	case "join":
		p := fmt.Sprintf("join_n%d_", cfg.joinN)
		ks = append(compared(p, joinCompared), only(p, joinP2POnly)...)
	case "rekey":
		for _, n := range cfg.rekeyN {
			ks = append(ks, only(fmt.Sprintf("rekey_n%d_", n), rekeyP2POnly)...)
		}
	case "footprint":
		ks = footprintKeys
	case "search":
		ks = searchKeys
	case "crypto":
		ks = cryptoKeys
	}
	return ks
}
