package faults_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// serveProc is one `sparkcd serve` process, its output in a file of the
// test's temporary directory.
type serveProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// serveCluster starts and restarts `sparkcd serve` processes for one test
// in one namespace; the processes share a git cache directory, as the
// restarted container of a pod shares its volume.
type serveCluster struct {
	t        *testing.T
	e        *testenv.Env
	ns       string
	cacheDir string
	extra    []string
	started  int
	procs    []*serveProc
	// configure, when set, changes each process's command before it
	// starts: its binary, user or environment.
	configure func(*exec.Cmd)
}

// newServeCluster prepares `sparkcd serve` for ns with the flags every case
// shares plus extra. Nothing runs until start. When the test fails, the end
// of every process's log is printed.
func newServeCluster(t *testing.T, e *testenv.Env, ns string, extra ...string) *serveCluster {
	t.Helper()
	sparkcdBinary(t)
	c := &serveCluster{t: t, e: e, ns: ns, cacheDir: t.TempDir(), extra: extra}
	t.Cleanup(func() {
		for _, p := range c.procs {
			p.stop()
		}
		if t.Failed() {
			for _, p := range c.procs {
				t.Logf("--- end of the log of %s:\n%s", p.name, p.tail(40))
			}
		}
	})
	return c
}

// start starts one more `sparkcd serve` process, with more flags.
func (c *serveCluster) start(more ...string) *serveProc {
	c.t.Helper()
	c.started++
	p := &serveProc{name: fmt.Sprintf("sparkcd-%d", c.started), done: make(chan struct{})}
	p.log = filepath.Join(c.cacheDir, p.name+".log")
	logFile, err := os.Create(p.log)
	if err != nil {
		c.t.Fatal(err)
	}
	args := []string{"serve", "--kubeconfig", c.e.Kubeconfig, "--namespaces", c.ns,
		"--metrics-addr", "0", "--health-addr", "", "--webhook-addr", "",
		"--cache-dir", filepath.Join(c.cacheDir, "git"), "--cleanup-schedule", "",
		"--skip-driver-access-review", "--log-format", "text"}
	args = append(append(args, c.extra...), more...)
	p.cmd = exec.Command(sparkcdBinary(c.t), args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	// The kernel kills sparkcd if the test binary dies: nothing outlives
	// an interrupted `go test`.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if c.configure != nil {
		c.configure(p.cmd)
	}
	if err := p.cmd.Start(); err != nil {
		_ = logFile.Close()
		c.t.Fatalf("start %s: %v", p.name, err)
	}
	go func() { _ = p.cmd.Wait(); _ = logFile.Close(); close(p.done) }()
	c.procs = append(c.procs, p)
	return p
}

// kill sends SIGKILL, which no process can handle, and waits until the
// process is gone.
func (p *serveProc) kill(t testing.TB) {
	t.Helper()
	if p.exited() {
		t.Fatalf("%s exited before it was killed:\n%s", p.name, p.tail(40))
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	<-p.done
}

// stop ends the process with SIGTERM, then SIGKILL after a grace period.
func (p *serveProc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *serveProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logContains reports whether the process has logged s.
func (p *serveProc) logContains(s string) bool {
	b, err := os.ReadFile(p.log)
	return err == nil && bytes.Contains(b, []byte(s))
}

// tail returns the last n lines of the process's log.
func (p *serveProc) tail(n int) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
