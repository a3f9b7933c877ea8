// Package readme follows the READMEs as a newcomer does: on a fresh copy of
// the repository it runs the shell blocks of README.md's quick start, then
// of examples/embed, examples/protect-api and examples/custom-plugin, in
// that order, and fails on the first command that fails.
//
// The rules a README's ```sh block is run by:
//
//   - a line `go run <pkg> …` starts that program in the background (once:
//     a later README that starts it again finds it running) and waits until
//     it listens on its documented port;
//   - `go test` lines are skipped (the tests run anyway);
//   - every other line (with its `\` continuations) runs in bash with
//     `set -euo pipefail`, in the copy's root, with the variables of the
//     earlier lines of the same block, and with curl failing on any HTTP
//     error status (--fail-with-body where the README does not already
//     pass -f): an answer of 4xx or 5xx is a failure even where a reader
//     would not notice it;
//   - comments are comments.
//
// So a README whose commands fail silently, depend on state another README
// left behind, or point at a wrong port fails this test.
package readme

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ports are the addresses the programs document (their defaults).
var ports = map[string]string{
	"./cmd/mana-auth":          "localhost:3001",
	"./examples/embed":         "localhost:8080",
	"./examples/protect-api":   "localhost:8081",
	"./examples/custom-plugin": "localhost:8082",
}

// steps are the READMEs in the order a newcomer reads them; section, if
// set, limits a README to the part under that heading.
var steps = []struct{ file, section string }{
	{"README.md", "## Quick start"},
	{"examples/embed/README.md", ""},
	{"examples/protect-api/README.md", ""},
	{"examples/custom-plugin/README.md", ""},
}

func TestREADMEsInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts four programs")
	}
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed: %v", tool, err)
		}
	}
	for _, addr := range ports {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			t.Fatalf("%s is taken: the READMEs' programs listen there", addr)
		}
	}
	dir := freshCopy(t)
	started := map[string]*exec.Cmd{}
	t.Cleanup(func() {
		for _, c := range started {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM) // go run and the program it started
			_ = c.Wait()
		}
	})
	for _, st := range steps {
		raw, err := os.ReadFile(filepath.Join(dir, st.file))
		if err != nil {
			t.Fatal(err)
		}
		for i, block := range shellBlocks(string(raw), st.section) {
			var script []string
			for _, line := range block {
				if pkg, ok := goRun(line); ok {
					if started[pkg] == nil {
						started[pkg] = start(t, dir, line, pkg)
					}
					continue
				}
				if strings.HasPrefix(line, "go test") {
					continue
				}
				script = append(script, line)
			}
			if len(script) == 0 {
				continue
			}
			out, err := run(dir, script)
			if err != nil {
				t.Fatalf("%s, block %d failed: %v\n--- script\n%s\n--- output\n%s", st.file, i+1, err, strings.Join(script, "\n"), out)
			}
			t.Logf("%s, block %d:\n%s", st.file, i+1, out)
		}
	}
	if len(started) != len(ports) {
		t.Errorf("the READMEs started %d programs, want %d", len(started), len(ports))
	}
}

// freshCopy copies the repository into a new directory, as a clone has it:
// the files git tracks (as they are in the working tree), or, outside a git
// checkout, every file below the module root but .git, node_modules and
// ./data. Nothing a developer's runs left (./data, cookie jars) comes along.
func freshCopy(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" {
		t.Fatalf("no module root: %v", err)
	}
	src := filepath.Dir(strings.TrimSpace(string(gomod)))
	var files []string
	if out, err := exec.Command("git", "-C", src, "ls-files", "-z").Output(); err == nil {
		files = strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	} else {
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || rel == "data") {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				files = append(files, rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(src, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// shellBlocks returns the lines of each ```sh block of a README (only under
// section, if set), with `\` continuations joined and comments dropped.
func shellBlocks(readme, section string) [][]string {
	if section != "" {
		i := strings.Index(readme, section+"\n")
		if i < 0 {
			return nil
		}
		readme = readme[i+len(section):]
		if j := strings.Index(readme, "\n## "); j >= 0 {
			readme = readme[:j]
		}
	}
	var blocks [][]string
	var cur []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(readme))
	pending := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.TrimSpace(line) == "```sh":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			blocks = append(blocks, cur)
		case in:
			line = pending + line
			if strings.HasSuffix(line, "\\") {
				pending = strings.TrimSuffix(line, "\\") + " "
				continue
			}
			pending = ""
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
				cur = append(cur, t)
			}
		}
	}
	return blocks
}

// goRun reports whether line starts a program with go run, and which.
func goRun(line string) (pkg string, ok bool) {
	f := strings.Fields(line)
	if len(f) < 3 || f[0] != "go" || f[1] != "run" {
		return "", false
	}
	return f[2], true
}

// start runs a go run line in the background, in its own process group,
// and waits until the program listens on its port.
func start(t *testing.T, dir, line, pkg string) *exec.Cmd {
	t.Helper()
	addr, ok := ports[pkg]
	if !ok {
		t.Fatalf("a README starts %s, which has no known port", pkg)
	}
	if i := strings.Index(line, "#"); i >= 0 {
		line = line[:i]
	}
	cmd := exec.Command("bash", "-c", "exec "+line)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a cold build
	defer cancel()
	for ctx.Err() == nil {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(logf.Name())
	t.Fatalf("%s never listened on %s:\n%s", line, addr, b)
	return nil
}

// run runs a script in bash in dir and returns its output.
func run(dir string, script []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\n"+
		`curl() { local a; for a in "$@"; do case "$a" in --fail*) command curl "$@"; return;; --*) ;; -*f*) command curl "$@"; return;; esac; done; command curl --fail-with-body "$@"; }`+
		"\n"+strings.Join(script, "\n"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out: %w", err)
	}
	return string(out), err
}
