package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// report is the part of cmd/mana-auth-load's --json document this command
// reads.
type report struct {
	Date    string `json:"date"`
	Label   string `json:"label"`
	Storage string `json:"storage"`
	Machine struct {
		NumCPU     int    `json:"numCPU"`
		CPUModel   string `json:"cpuModel"`
		MemTotalMB int64  `json:"memTotalMB"`
		LoadAvg    string `json:"loadAvg"`
		GoVersion  string `json:"goVersion"`
	} `json:"machine"`
	LoadAfter     string   `json:"loadAvgAfter"`
	BusyBefore    float64  `json:"busyCoresBefore"`
	Users         int      `json:"users"`
	SeedSeconds   float64  `json:"seedSeconds"`
	Results       []result `json:"results"`
	ServerPID     int      `json:"serverPid"`
	ServerVmHWMKB int64    `json:"serverVmHWMKB"`
	Notes         []string `json:"notes"`
}

type result struct {
	Scenario          string         `json:"scenario"`
	Connections       int            `json:"connections"`
	Seconds           float64        `json:"seconds"`
	Requests          int            `json:"requests"`
	OK                int            `json:"ok"`
	ReqPerSec         float64        `json:"reqPerSec"`
	P50ms             float64        `json:"p50ms"`
	P99ms             float64        `json:"p99ms"`
	MaxMs             float64        `json:"maxMs"`
	Outcomes          map[string]int `json:"outcomes"`
	ServerCores       float64        `json:"serverCores"`
	OtherCores        float64        `json:"otherCores"`
	ServerCPUSeconds  float64        `json:"serverCpuSeconds"`
	ServerCPUPerReqUs float64        `json:"serverCpuUsPerRequest"`
	PeakRSSKB         int64          `json:"peakRssKB"`
}

func (r *report) result(scenario string) *result {
	if r == nil {
		return nil
	}
	for i := range r.Results {
		if r.Results[i].Scenario == scenario {
			return &r.Results[i]
		}
	}
	return nil
}

// roundReports are one round's runs: ours, Better Auth, and Better Auth's
// v1-validate with its JWKS set kept (nil when not run).
type roundReports struct {
	Ours, BA, BACached *report
}

// summary is everything the Markdown summary shows.
type summary struct {
	Date          string
	Command       string
	OursRevision  string
	BunVersion    string
	BAVersion     string
	PGVersion     string
	OursRateLimit bool
	Duration      time.Duration
	Conns         int
	HashConns     int
	ToolProcs     int // the load tool's GOMAXPROCS while driving (0: all)
	Users         int
	Dir           string
	Rounds        []roundReports
}

// cachedScenario is the row of Better Auth's v1-validate with one JWKS set
// for the process (upstream built one per request).
const cachedScenario = "v1-validate, BA JWKS kept (not upstream)"

// row is one scenario's per-round pairs of results (either may be nil).
type row struct {
	name     string
	ours, ba []*result
}

// rows pairs the scenarios in the order of the first round's reports.
func (s *summary) rows() []row {
	var names []string
	seen := map[string]bool{}
	add := func(r *report) {
		if r == nil {
			return
		}
		for _, x := range r.Results {
			if !seen[x.Scenario] {
				seen[x.Scenario] = true
				names = append(names, x.Scenario)
			}
		}
	}
	for _, rr := range s.Rounds {
		add(rr.Ours)
		add(rr.BA)
	}
	var out []row
	for _, n := range names {
		r := row{name: n}
		for _, rr := range s.Rounds {
			r.ours = append(r.ours, rr.Ours.result(n))
			r.ba = append(r.ba, rr.BA.result(n))
		}
		out = append(out, r)
		if n == "v1-validate" {
			c := row{name: cachedScenario}
			found := false
			for _, rr := range s.Rounds {
				c.ours = append(c.ours, rr.Ours.result(n))
				c.ba = append(c.ba, rr.BACached.result(n))
				found = found || rr.BACached.result(n) != nil
			}
			if found {
				out = append(out, c)
			}
		}
	}
	return out
}

// median returns the median of vs (the mean of the middle two for an even
// count); ok false when vs is empty.
func median(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// figure is how one column reads a result; known says whether the value
// is a measurement (CPU is -1 when the tool could not read it).
type figure struct {
	get   func(*result) float64
	known func(float64) bool
	fmt   func(float64) string
}

var (
	figReqPerSec = figure{func(r *result) float64 { return r.ReqPerSec }, func(v float64) bool { return v >= 0 }, fmtRate}
	figP50       = figure{func(r *result) float64 { return r.P50ms }, func(v float64) bool { return v > 0 }, fmtTime}
	figP99       = figure{func(r *result) float64 { return r.P99ms }, func(v float64) bool { return v > 0 }, fmtTime}
	figCPU       = figure{func(r *result) float64 { return r.ServerCPUPerReqUs }, func(v float64) bool { return v >= 0 }, fmtTime}
	figRSS       = figure{func(r *result) float64 { return float64(r.PeakRSSKB) / 1024 }, func(v float64) bool { return v > 0 }, fmtMB}
)

// cell renders "ours / BA (ratio×)": each side the median over rounds, the
// ratio the median of the rounds' ratios ours ÷ BA, with their range when
// there are several.
func cell(f figure, ours, ba []*result) string {
	var ov, bv, ratios []float64
	for i := range ours {
		var o, b float64
		oOK, bOK := false, false
		if ours[i] != nil {
			o = f.get(ours[i])
			if oOK = f.known(o); oOK {
				ov = append(ov, o)
			}
		}
		if i < len(ba) && ba[i] != nil {
			b = f.get(ba[i])
			if bOK = f.known(b); bOK {
				bv = append(bv, b)
			}
		}
		if oOK && bOK && b > 0 {
			ratios = append(ratios, o/b)
		}
	}
	side := func(vs []float64) string {
		if m, ok := median(vs); ok {
			return f.fmt(m)
		}
		return "?"
	}
	out := side(ov) + " / " + side(bv)
	if m, ok := median(ratios); ok {
		out += " (" + fmtRatio(m)
		if len(ratios) > 1 {
			out += " [" + fmtRatio(slices.Min(ratios)) + "–" + fmtRatio(slices.Max(ratios)) + "]"
		}
		out += ")"
	}
	return out
}

// notOK sums the answers that were not the expected one over the rounds:
// "0", or "429×3 500×1".
func notOK(rs []*result) string {
	m := map[string]int{}
	for _, r := range rs {
		if r == nil {
			continue
		}
		for k, v := range r.Outcomes {
			m[k] += v
		}
	}
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

const summaryHeader = "| scenario | req/s ours / BA (ours÷BA) | not 2xx ours / BA | p50 ms ours / BA (÷) | p99 ms ours / BA (÷) | srv CPU µs/req ours / BA (÷) | peak RSS MB ours / BA (÷) |\n" +
	"|---|--:|--:|--:|--:|--:|--:|\n"

// writeTable writes the comparison table.
func writeTable(w io.Writer, s *summary) {
	fmt.Fprint(w, summaryHeader)
	for _, r := range s.rows() {
		fmt.Fprintf(w, "| %s | %s | %s / %s | %s | %s | %s | %s |\n", r.name,
			cell(figReqPerSec, r.ours, r.ba), notOK(r.ours), notOK(r.ba),
			cell(figP50, r.ours, r.ba), cell(figP99, r.ours, r.ba),
			cell(figCPU, r.ours, r.ba), cell(figRSS, r.ours, r.ba))
	}
}

// writeSummary writes the whole Markdown summary: conditions, the table,
// and what the tool noted.
func writeSummary(w io.Writer, s *summary) {
	fmt.Fprintf(w, "## mana-auth vs Better Auth %s (Bun %s), PostgreSQL %s\n\n", s.BAVersion, s.BunVersion, s.PGVersion)
	var first *report
	if len(s.Rounds) > 0 {
		first = s.Rounds[0].Ours
		if first == nil {
			first = s.Rounds[0].BA
		}
	}
	fmt.Fprintf(w, "- date: %s\n", s.Date)
	if first != nil {
		m := first.Machine
		fmt.Fprintf(w, "- machine: %d CPUs (%s), %d MB; %s\n", m.NumCPU, m.CPUModel, m.MemTotalMB, m.GoVersion)
	}
	fmt.Fprintf(w, "- mana-auth: %s; Better Auth %s on Bun %s (bench/betterauth/server.ts); both on PostgreSQL %s, each its own database, 16 pooled connections\n",
		s.OursRevision, s.BAVersion, s.BunVersion, s.PGVersion)
	fmt.Fprintf(w, "- command: `%s`\n", strings.TrimSpace(s.Command))
	rounds := ""
	if len(s.Rounds) > 1 {
		rounds = fmt.Sprintf("; %d rounds, alternating which server goes first: each figure is the median over the rounds, each ratio the median of the rounds' ratios with their range in brackets", len(s.Rounds))
	}
	procs := "every CPU"
	if s.ToolProcs > 0 {
		procs = fmt.Sprintf("GOMAXPROCS=%d", s.ToolProcs)
	}
	fmt.Fprintf(w, "- each scenario %s, %d connections (%d for sign-in, v1-login and sign-up), %d users seeded per server, the load tool (its raw HTTP/1.1 client) on %s%s\n",
		s.Duration, s.Conns, s.HashConns, s.Users, procs, rounds)
	if s.OursRateLimit {
		fmt.Fprintf(w, "- rate limiters: Better Auth's off; mana-auth's on (RATE_LIMIT_ENABLED=true; the load tool spreads requests over X-Forwarded-For addresses, trusted from 127.0.0.1, so it does its full work without refusing)\n")
	} else {
		fmt.Fprintf(w, "- rate limiters: both off (Better Auth rateLimit.enabled=false; mana-auth RATE_LIMIT_ENABLED=false)\n")
	}
	for i, rr := range s.Rounds {
		var parts []string
		for _, x := range []struct {
			name string
			r    *report
		}{{"mana-auth", rr.Ours}, {"Better Auth", rr.BA}, {"Better Auth (JWKS kept)", rr.BACached}} {
			if x.r == nil {
				continue
			}
			p := fmt.Sprintf("%s: machine busy %.2f cores before, load average after %s", x.name, x.r.BusyBefore, x.r.LoadAfter)
			if x.r.SeedSeconds > 0 {
				p += fmt.Sprintf(", seeded %d users at %.1f sign-ups/s", x.r.Users, float64(x.r.Users)/x.r.SeedSeconds)
			}
			if x.r.ServerVmHWMKB > 0 {
				p += fmt.Sprintf(", lifetime peak RSS %s MB", fmtMB(float64(x.r.ServerVmHWMKB)/1024))
			}
			parts = append(parts, p)
		}
		fmt.Fprintf(w, "- round %d: %s\n", i+1, strings.Join(parts, "; "))
	}
	fmt.Fprintln(w)
	writeTable(w, s)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios are mana-auth ÷ Better Auth: above 1× mana-auth has more of it (req/s: it is faster), below 1× less (latency, CPU per request, memory: it is cheaper).")
	fmt.Fprintln(w, "req/s counts only the expected answers; \"not 2xx\" counts the others by status (net: transport errors, bad-body: a 200 without the expected content).")
	fmt.Fprintln(w, "srv CPU µs/req is the server process's CPU time (utime+stime in /proc/<pid>/stat, all threads) during the scenario over the requests completed; PostgreSQL's CPU is not in it.")
	fmt.Fprintln(w, "Peak RSS is the highest VmRSS sampled every 100 ms during the scenario.")
	if s.Dir != "" {
		fmt.Fprintf(w, "The load tool's own tables (CPU of the tool and of the rest of the machine, limits), its JSON and the server logs: %s.\n", s.Dir)
	}
	var notes []string
	for i, rr := range s.Rounds {
		for _, r := range []*report{rr.Ours, rr.BA, rr.BACached} {
			if r == nil {
				continue
			}
			for _, n := range r.Notes {
				notes = append(notes, fmt.Sprintf("round %d, %s: %s", i+1, r.Label, n))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "- note: %s\n", n)
		}
	}
}

func fmtRate(v float64) string {
	if v < 100 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// fmtTime renders a latency (ms) or a CPU time (µs) with two decimals
// below 10, one below 100, none above.
func fmtTime(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func fmtMB(v float64) string { return fmt.Sprintf("%.1f", v) }

func fmtRatio(v float64) string {
	switch {
	case v < 0.1:
		return fmt.Sprintf("%.3f×", v)
	case v < 10:
		return fmt.Sprintf("%.2f×", v)
	}
	return fmt.Sprintf("%.1f×", v)
}
