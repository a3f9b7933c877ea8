package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProc is a mana-auth the tool started.
type serverProc struct {
	cmd     *exec.Cmd
	dir     string // temporary directory (DATA_DIR default, log)
	logPath string
	logFile *os.File
	keepDir bool
	exited  chan struct{}
	waitErr error
	base    string
	storage string
}

// serverEnv builds the child's environment: the tool's own, then the
// defaults below for what neither sets, then overrides (KEY=VALUE). PORT
// is always the free port the tool picked.
func serverEnv(parent, overrides []string, port int, dataDir string) ([]string, error) {
	m := map[string]string{}
	var order []string
	set := func(kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--env %q: want KEY=VALUE", kv)
		}
		if _, seen := m[k]; !seen {
			order = append(order, k)
		}
		m[k] = v
		return nil
	}
	for _, kv := range parent {
		if strings.Contains(kv, "=") {
			_ = set(kv)
		}
	}
	for _, kv := range overrides {
		if err := set(kv); err != nil {
			return nil, err
		}
	}
	def := func(k, v string) {
		if _, ok := m[k]; !ok {
			_ = set(k + "=" + v)
		}
	}
	_ = set(fmt.Sprintf("PORT=%d", port))
	def("BASE_URL", fmt.Sprintf("http://127.0.0.1:%d", port))
	def("DATA_DIR", dataDir)
	def("TRUSTED_PROXIES", "127.0.0.1,::1")
	if m["AUTH_SECRET"] == "" && m["BETTER_AUTH_SECRET"] == "" {
		var raw [32]byte
		_, _ = rand.Read(raw[:])
		_ = set("AUTH_SECRET=" + base64.StdEncoding.EncodeToString(raw[:]))
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+m[k])
	}
	return out, nil
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startServer runs bin with args and the environment above, its output going to
// logPath (default: a file in the temporary directory). With cpus (a
// taskset CPU list such as "1" or "2-3") the server runs under
// `taskset -c cpus`, which execs it in place: the pid stays the server's,
// and the Go runtime sizes GOMAXPROCS (and the server its hashing slots)
// by that affinity mask.
func startServer(bin string, args, overrides []string, logPath, cpus string, keepDir bool) (*serverProc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("--server-bin: %w", err)
	}
	dir, err := os.MkdirTemp("", "authload-*")
	if err != nil {
		return nil, err
	}
	p := &serverProc{dir: dir, keepDir: keepDir, exited: make(chan struct{})}
	port, err := freePort()
	if err != nil {
		p.cleanup()
		return nil, err
	}
	env, err := serverEnv(os.Environ(), overrides, port, filepath.Join(dir, "data"))
	if err != nil {
		p.cleanup()
		return nil, err
	}
	if logPath == "" {
		logPath = filepath.Join(dir, "server.log")
	}
	p.logPath = logPath
	p.logFile, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		p.cleanup()
		return nil, err
	}
	p.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	if u := envValue(env, "DATABASE_URL"); u != "" {
		schema := envValue(env, "DATABASE_SCHEMA")
		if schema == "" {
			schema = "auth"
		}
		p.storage = "postgres (schema " + schema + ")"
	} else {
		p.storage = "sqlite (" + envValue(env, "DATA_DIR") + ")"
	}
	p.cmd = exec.Command(bin, args...)
	if cpus != "" {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			p.cleanup()
			return nil, fmt.Errorf("--server-cpus needs taskset (util-linux): %w", err)
		}
		p.cmd = exec.Command(ts, append([]string{"-c", cpus, bin}, args...)...)
	}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logFile, p.logFile
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		p.cleanup()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func (p *serverProc) pid() int { return p.cmd.Process.Pid }

// alive returns an error (with the end of the server log) once the server
// has exited.
func (p *serverProc) alive() error {
	select {
	case <-p.exited:
		return fmt.Errorf("the server exited (%v); end of its log:\n%s", p.waitErr, p.tail(2000))
	default:
		return nil
	}
}

func (p *serverProc) tail(n int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	return string(b)
}

// stop sends SIGTERM, waits up to 20 s (the server drains for up to its
// SHUTDOWN_TIMEOUT), then kills it, and removes the temporary directory.
func (p *serverProc) stop() error {
	defer p.cleanup()
	select {
	case <-p.exited:
		return p.exitErr()
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.exitErr()
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New("the server did not stop within 20s of SIGTERM; killed")
	}
}

func (p *serverProc) exitErr() error {
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) && ee.ExitCode() == -1 {
		return nil // ended by our signal
	}
	return p.waitErr
}

func (p *serverProc) cleanup() {
	if p.logFile != nil {
		p.logFile.Close()
	}
	if p.dir != "" && !p.keepDir {
		os.RemoveAll(p.dir)
	}
}

// cpuListCount parses a taskset CPU list ("1", "0,2", "2-3") and returns
// how many CPUs it names.
func cpuListCount(list string) (int, error) {
	cpus, err := cpuList(list)
	return len(cpus), err
}

// cpuList parses a taskset CPU list into the CPUs it names, each once.
func cpuList(list string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 || a > 4095 {
			return nil, fmt.Errorf("bad CPU list %q", list)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b > 4095 {
				return nil, fmt.Errorf("bad CPU list %q", list)
			}
		}
		for c := a; c <= b; c++ {
			if !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}
