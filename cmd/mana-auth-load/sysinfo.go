package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const userHZ = 100

// procStatusKB reads a "<field>:   <n> kB" line of /proc/<pid>/status.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(b, field)
}

func parseStatusKB(b []byte, field string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("no %s in status", field)
}

// procCPUTicks returns utime+stime of pid (all threads), in USER_HZ ticks.
func procCPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatTicks(b)
}

func parseStatTicks(b []byte) (int64, error) {
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed stat")
	}
	return u + s, nil
}

// machineBusyTicks returns the busy (non-idle, non-iowait) ticks of all
// CPUs from /proc/stat.
func machineBusyTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat")
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest times are already counted in user and nice.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	return busy, nil
}

// cpuSnap is a point-in-time reading of the CPU counters.
type cpuSnap struct {
	at                     time.Time
	server, tool, machine  int64
	serverOK, toolOK, mcOK bool
}

func snapCPU(pid int) cpuSnap {
	s := cpuSnap{at: time.Now()}
	var err error
	if pid > 0 {
		s.server, err = procCPUTicks(pid)
		s.serverOK = err == nil
	}
	s.tool, err = procCPUTicks(os.Getpid())
	s.toolOK = err == nil
	s.machine, err = machineBusyTicks()
	s.mcOK = err == nil
	return s
}

// cores returns the server, tool and other CPU use between a and b in
// cores; -1 where unknown. When the server is this process (in-process
// tests) its use is counted as the tool's.
func cpuBetween(a, b cpuSnap, pid int) (server, tool, other float64) {
	secs := b.at.Sub(a.at).Seconds()
	server, tool, other = -1, -1, -1
	if secs <= 0 {
		return
	}
	c := func(x, y int64) float64 { return float64(y-x) / userHZ / secs }
	if a.toolOK && b.toolOK {
		tool = c(a.tool, b.tool)
	}
	if pid > 0 && pid != os.Getpid() && a.serverOK && b.serverOK {
		server = c(a.server, b.server)
	}
	if a.mcOK && b.mcOK && tool >= 0 {
		other = c(a.machine, b.machine) - tool
		if server >= 0 {
			other -= server
		}
		if other < 0 {
			other = 0
		}
	}
	return
}

// serverCPU returns the CPU time the server process used between a and b
// (the difference of utime+stime in /proc/<pid>/stat); ok is false when
// either reading failed, there is no pid, or the server is this process
// (in-process tests, where the tool's own work would be counted).
func serverCPU(a, b cpuSnap, pid int) (cpu time.Duration, ok bool) {
	if pid <= 0 || pid == os.Getpid() || !a.serverOK || !b.serverOK || b.server < a.server {
		return 0, false
	}
	return time.Duration(b.server-a.server) * time.Second / userHZ, true
}

// cpuPerRequest returns the server's CPU seconds between a and b and the
// CPU microseconds per completed request; -1, -1 when unknown (-1 per
// request also when no request completed).
func cpuPerRequest(a, b cpuSnap, pid, requests int) (seconds, usPerReq float64) {
	cpu, ok := serverCPU(a, b, pid)
	if !ok {
		return -1, -1
	}
	seconds, usPerReq = cpu.Seconds(), -1
	if requests > 0 {
		usPerReq = float64(cpu.Microseconds()) / float64(requests)
	}
	return seconds, usPerReq
}

// rssSampler records the peak VmRSS of a process, sampled every interval.
type rssSampler struct {
	pid   int
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	peak  int64
	first int64
}

func startRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	if pid <= 0 {
		close(s.done)
		return s
	}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				s.sample()
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	kb, err := procStatusKB(s.pid, "VmRSS")
	if err != nil {
		return
	}
	s.mu.Lock()
	if s.first == 0 {
		s.first = kb
	}
	s.peak = max(s.peak, kb)
	s.mu.Unlock()
}

// Stop ends sampling and returns the peak and the first sample in kB (0:
// none).
func (s *rssSampler) Stop() (peak, first int64) {
	if s.pid > 0 {
		select {
		case <-s.stop:
		default:
			close(s.stop)
		}
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, s.first
}

// Machine describes where the figures were taken.
type Machine struct {
	NumCPU     int     `json:"numCPU"`
	CPUModel   string  `json:"cpuModel"`
	MemTotalMB int64   `json:"memTotalMB"`
	LoadAvg    string  `json:"loadAvg"`
	GoVersion  string  `json:"goVersion"`
	Load1      float64 `json:"-"`
}

func readMachine() Machine {
	m := Machine{}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := parseStatusKB(b, "MemTotal"); err == nil {
			m.MemTotalMB = kb / 1024
		}
	}
	m.LoadAvg, m.Load1 = loadAvg()
	return m
}

// loadAvg returns the first three fields of /proc/loadavg and the 1-minute
// figure.
func loadAvg() (string, float64) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "", -1
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "", -1
	}
	l1, _ := strconv.ParseFloat(f[0], 64)
	return strings.Join(f[:3], " "), l1
}
