package badinput

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env is the package's control plane, started by the first test that
// needs it.
var env = testenv.NewShared()

// sparkcdBin is the sparkcd binary TestMain builds, so the CLI's exit
// codes and serve's logs are those of the real program.
var sparkcdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sparkcd-badinput-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sparkcdBin = filepath.Join(dir, "sparkcd")
	build := exec.Command("go", "build", "-o", sparkcdBin, "./cmd/sparkcd")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/sparkcd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := env.Run(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// waitTimeout bounds every wait on the loops: a loaded two-core machine
// needs a few seconds at worst.
const waitTimeout = 90 * time.Second

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serve runs `sparkcd serve` on namespaces until the test ends and returns
// its combined output.
func serve(t *testing.T, e *testenv.Env, extra []string, namespaces ...string) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	args := append([]string{"serve", "--kubeconfig", e.Kubeconfig, "--namespaces", strings.Join(namespaces, ","),
		"--metrics-addr", "0", "--health-addr", "", "--cache-dir", t.TempDir(),
		"--skip-driver-access-review", "--log-format", "json", "--log-level", "debug"}, extra...)
	if !contains(extra, "--webhook-addr") {
		args = append(args, "--webhook-addr", "")
	}
	cmd := exec.Command(sparkcdBin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("sparkcd serve output:\n%s", tail(logs.String(), 60))
		}
	})
	return logs
}

// runCLI runs the sparkcd binary in dir and returns its exit code, stdout
// and stderr.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, sparkcdBin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	if err != nil {
		t.Fatalf("sparkcd %s: %v", strings.Join(args, " "), err)
	}
	return 0, stdout.String(), stderr.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventually polls cond until it holds, failing with its last description
// after waitTimeout.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}
