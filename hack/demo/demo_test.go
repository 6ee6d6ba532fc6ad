package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestDemoQueueKueue plays `make demo QUEUE=kueue` from start to end, on
// the real control plane with Kueue and KWOK: every act of the plain demo,
// then the queueing act, which fails the demo unless two of its three runs
// are admitted and run while the third is Queued (in the SparkJob and in
// `sparkcd status`), the third is admitted once one ends, and its history
// records the queueing time. The plain demo is the same code without the
// queueing act and without Kueue, so it is not played a second time here.
func TestDemoQueueKueue(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := buildSparkcd(t, root)
	t.Chdir(root)
	ctx := context.Background()
	timeout := 8 * time.Minute
	if d, ok := t.Deadline(); ok {
		timeout = min(timeout, time.Until(d)-30*time.Second)
	}
	if err := run(ctx, options{sparkcd: bin, policies: filepath.Join("policies", "testdata", "examples"), timeout: timeout, queue: queueKueue}); err != nil {
		t.Fatalf("make demo QUEUE=kueue: %v", err)
	}
}

// buildSparkcd builds cmd/sparkcd into the test's directory: the demo runs
// `sparkcd serve`, `status`, `diff` and `cleanup` as processes, as a user
// does.
func buildSparkcd(t *testing.T, root string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "sparkcd")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/sparkcd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the demo runs sparkcd as a process and could not build it (a Go toolchain must be on PATH): go build ./cmd/sparkcd in '%s': %v\n%s", root, err, out)
	}
	return bin
}
