package main

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, which must be in ascending order; 0 for an empty slice.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Physical are this machine's raw single-core crypto rates: operations
// per CPU-second of the measuring thread (per wall second where thread CPU
// time is unavailable), and per wall second.
type Physical struct {
	SignPerSec       float64 `json:"ed25519SignPerSec"`
	VerifyPerSec     float64 `json:"ed25519VerifyPerSec"`
	ScryptPerSec     float64 `json:"scryptPerSec"`
	SignWallPerSec   float64 `json:"ed25519SignPerWallSec,omitempty"`
	VerifyWallPerSec float64 `json:"ed25519VerifyPerWallSec,omitempty"`
	ScryptWallPerSec float64 `json:"scryptPerWallSec,omitempty"`
	// Iterations used for each measurement.
	SignN, VerifyN, ScryptN int `json:"-"`
	// CPUs is the taskset list the loops ran on ("": wherever the OS put
	// them): with --server-cpus, the server's own.
	CPUs string `json:"cpus,omitempty"`
}

// Limit kinds: which primitive bounds a scenario.
const (
	limitNone   = ""
	limitSign   = "sign"
	limitVerify = "verify"
	limitScrypt = "scrypt"
)

// rate returns the single-core rate of kind.
func (p Physical) rate(kind string) float64 {
	switch kind {
	case limitSign:
		return p.SignPerSec
	case limitVerify:
		return p.VerifyPerSec
	case limitScrypt:
		return p.ScryptPerSec
	}
	return 0
}

// Result is one scenario's measurement.
type Result struct {
	Scenario    string  `json:"scenario"`
	Connections int     `json:"connections"`
	Seconds     float64 `json:"seconds"`
	// Requests is every request that completed (any outcome); OK those
	// with the expected answer. ReqPerSec is OK / Seconds.
	Requests  int     `json:"requests"`
	OK        int     `json:"ok"`
	ReqPerSec float64 `json:"reqPerSec"`
	// Latencies of the OK responses (of all, when none was OK), in ms.
	P50ms float64 `json:"p50ms"`
	P99ms float64 `json:"p99ms"`
	MaxMs float64 `json:"maxMs"`
	// Outcomes counts every answer that was not the expected one by
	// status ("429", "503"), "net" for transport errors and "bad-body" for
	// a 200 with the wrong content; Unexpected is the count of those the
	// scenario does not expect (the flood expects 429 and 503).
	Outcomes   map[string]int `json:"outcomes,omitempty"`
	Unexpected int            `json:"unexpected"`
	// Latency of the answers that were not OK (p50, max), in ms.
	NotOKP50ms float64 `json:"notOkP50ms,omitempty"`
	NotOKMaxMs float64 `json:"notOkMaxMs,omitempty"`
	// CPU in cores (CPU seconds / wall seconds): the server process, this
	// tool, and everything else on the machine (PostgreSQL, other jobs).
	// -1 when unknown.
	ServerCores float64 `json:"serverCores"`
	ToolCores   float64 `json:"toolCores"`
	OtherCores  float64 `json:"otherCores"`
	// ServerCPUSeconds is the CPU time the server process used during the
	// scenario (utime+stime of /proc/<pid>/stat, all its threads, read
	// before the first request and after the last answer; USER_HZ
	// resolution, 10 ms). ServerCPUPerReqUs divides it by Requests (every
	// completed request, whatever its answer), in microseconds. Both -1
	// when unknown (no pid, or the server is this process).
	ServerCPUSeconds  float64 `json:"serverCpuSeconds"`
	ServerCPUPerReqUs float64 `json:"serverCpuUsPerRequest"`
	// PeakRSSKB is the largest VmRSS of the server sampled every 100 ms
	// during the scenario (0: no pid).
	PeakRSSKB int64 `json:"peakRssKB"`
	// StartRSSKB is the first sample, before the scenario's load (memory
	// the runtime kept from earlier phases shows here).
	StartRSSKB int64 `json:"startRssKB"`
	// LimitKind names the primitive bounding the scenario; Limit is its
	// single-core rate × Cores; PctOfLimit = ReqPerSec / Limit × 100;
	// PctPerServerCore = ReqPerSec / (rate × ServerCores) × 100.
	LimitKind        string  `json:"limitKind,omitempty"`
	Cores            int     `json:"cores"`
	Limit            float64 `json:"limit,omitempty"`
	PctOfLimit       float64 `json:"pctOfLimit,omitempty"`
	PctPerServerCore float64 `json:"pctPerServerCore,omitempty"`
	// Flood details (signin-flood only).
	Flood *FloodInfo `json:"flood,omitempty"`
}

// FloodInfo is what the flood adds: a get-session probe every 100 ms
// during the flood (an ordinary signed-in user) and whether the server
// answered /health and get-session afterwards.
type FloodInfo struct {
	Probes        int     `json:"sessionProbes"`
	ProbeFailures int     `json:"sessionProbeFailures"`
	ProbeMaxMs    float64 `json:"sessionProbeMaxMs"`
	ServerUpAfter bool    `json:"serverUpAfter"`
	AfterStatus   int     `json:"afterStatus"`
}

// summarize fills the latency and rate fields from the OK latencies (all,
// when none), the elapsed time and the physical limits.
func (r *Result) summarize(okLat, allLat []time.Duration, elapsed time.Duration, phys Physical, cores int) {
	r.Seconds = elapsed.Seconds()
	lat := okLat
	if len(lat) == 0 {
		lat = allLat
	}
	slices.Sort(lat)
	r.P50ms = ms(percentile(lat, 50))
	r.P99ms = ms(percentile(lat, 99))
	r.MaxMs = ms(percentile(lat, 100))
	if r.Seconds > 0 {
		r.ReqPerSec = float64(r.OK) / r.Seconds
	}
	r.Cores = cores
	if rate := phys.rate(r.LimitKind); rate > 0 && cores > 0 {
		r.Limit = rate * float64(cores)
		r.PctOfLimit = 100 * r.ReqPerSec / r.Limit
		if r.ServerCores > 0 {
			r.PctPerServerCore = 100 * r.ReqPerSec / (rate * r.ServerCores)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fmtMs formats milliseconds with precision that suits their size.
func fmtMs(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtRate formats a rate: one decimal below 100, whole numbers above.
func fmtRate(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtCPUPerReq formats CPU microseconds per request: "?" when unknown.
func fmtCPUPerReq(us float64) string {
	switch {
	case us < 0:
		return "?"
	case us < 10:
		return fmt.Sprintf("%.2f", us)
	case us < 100:
		return fmt.Sprintf("%.1f", us)
	}
	return fmt.Sprintf("%.0f", us)
}

func fmtCores(v float64) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", v)
}

// fmtOutcomes renders outcome counts as "429×3 503×12", sorted by key; "0"
// when empty.
func fmtOutcomes(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// tableHeader is the Markdown header of the results table.
const tableHeader = "| scenario | conns | ok | req/s | srv CPU µs/req | p50 ms | p99 ms | max ms | not ok | CPU srv/tool/other | peak RSS MB (at start) | limit (1 core × cores) | % of limit | % per srv core |\n" +
	"|---|--:|--:|--:|--:|--:|--:|--:|---|---|--:|---|--:|--:|\n"

// tableRow is one Markdown row for r.
func tableRow(r Result, phys Physical) string {
	rss := "—"
	if r.PeakRSSKB > 0 {
		rss = fmt.Sprintf("%.1f (%.1f)", float64(r.PeakRSSKB)/1024, float64(r.StartRSSKB)/1024)
	}
	limit, pct, perCore := "—", "—", "—"
	if r.Limit > 0 {
		limit = fmt.Sprintf("%s %s/s × %d = %s", r.LimitKind, fmtRate(phys.rate(r.LimitKind)), r.Cores, fmtRate(r.Limit))
		pct = fmt.Sprintf("%.1f%%", r.PctOfLimit)
		if r.PctPerServerCore > 0 {
			perCore = fmt.Sprintf("%.1f%%", r.PctPerServerCore)
		}
	}
	return fmt.Sprintf("| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s/%s/%s | %s | %s | %s | %s |\n",
		r.Scenario, r.Connections, r.OK, fmtRate(r.ReqPerSec), fmtCPUPerReq(r.ServerCPUPerReqUs), fmtMs(r.P50ms), fmtMs(r.P99ms), fmtMs(r.MaxMs),
		fmtOutcomes(r.Outcomes), fmtCores(r.ServerCores), fmtCores(r.ToolCores), fmtCores(r.OtherCores),
		rss, limit, pct, perCore)
}

// formatTable renders the header and one row per result.
func formatTable(results []Result, phys Physical) string {
	var b strings.Builder
	b.WriteString(tableHeader)
	for _, r := range results {
		b.WriteString(tableRow(r, phys))
	}
	return b.String()
}

// formatPhysical renders the calibration line.
func formatPhysical(p Physical) string {
	wall := ""
	if p.SignWallPerSec > 0 {
		wall = fmt.Sprintf(" (per wall second: %s, %s, %s)", fmtRate(p.SignWallPerSec), fmtRate(p.VerifyWallPerSec), fmtRate(p.ScryptWallPerSec))
	}
	on := ""
	if p.CPUs != "" {
		on = " on CPU " + p.CPUs + " (the server's)"
	}
	return fmt.Sprintf("raw single-core rates per CPU-second (best of 5 rounds)%s: ed25519 sign %s/s (%d iterations), verify %s/s (%d), scrypt N=16384 r=16 p=1 %s/s (%d)%s",
		on, fmtRate(p.SignPerSec), p.SignN, fmtRate(p.VerifyPerSec), p.VerifyN, fmtRate(p.ScryptPerSec), p.ScryptN, wall)
}

// formatFlood renders the flood summary line.
func formatFlood(r Result) string {
	if r.Flood == nil {
		return ""
	}
	f := r.Flood
	up := "yes"
	if !f.ServerUpAfter {
		up = fmt.Sprintf("NO (status %d)", f.AfterStatus)
	}
	rss := "unknown"
	if r.PeakRSSKB > 0 {
		rss = fmt.Sprintf("%.1f MB", float64(r.PeakRSSKB)/1024)
	}
	count := func(k string) int { return r.Outcomes[k] }
	other := r.Requests - r.OK - count("429") - count("503")
	refused := ""
	if r.Requests > r.OK {
		refused = fmt.Sprintf(" (refusals took p50 %s ms, max %s ms)", fmtMs(r.NotOKP50ms), fmtMs(r.NotOKMaxMs))
	}
	return fmt.Sprintf("flood: %d concurrent sign-ins for %.1fs: 200×%d (%s/s, p50 %s ms), 429×%d, 503×%d, other×%d%s; get-session probes during the flood: %d, %d failed, max %s ms; server up afterwards: %s; peak RSS %s",
		r.Connections, r.Seconds, r.OK, fmtRate(r.ReqPerSec), fmtMs(r.P50ms), count("429"), count("503"), other, refused,
		f.Probes, f.ProbeFailures, fmtMs(f.ProbeMaxMs), up, rss)
}

// formatPhysicalAll renders the all-CPU calibration with its scaling
// relative to single-core × CPUs.
func formatPhysicalAll(all, one Physical, cpus int) string {
	scale := func(a, o float64) string {
		if o <= 0 || cpus <= 0 {
			return "?"
		}
		return fmt.Sprintf("%.2f×", a/o)
	}
	return fmt.Sprintf("all %d CPUs at once: sign %s/s (%s one core), verify %s/s (%s), scrypt %s/s (%s)",
		cpus, fmtRate(all.SignPerSec), scale(all.SignPerSec, one.SignPerSec), fmtRate(all.VerifyPerSec),
		scale(all.VerifyPerSec, one.VerifyPerSec), fmtRate(all.ScryptPerSec), scale(all.ScryptPerSec, one.ScryptPerSec))
}
