package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCleanupDryRunFlags (issue 18, items 6 and 8): --dry-run without
// --once runs one pass and exits; -n selects namespaces; -o json prints
// one object per line with the duration as a string.
func TestCleanupDryRunFlags(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"cleanup", "--dry-run", "-n", ns, "-o", "json", "--kubeconfig", e.Kubeconfig}, &out, &errOut)
	}()
	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatalf("cleanup --dry-run did not exit within a minute\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}
	if code != 0 {
		t.Fatalf("cleanup --dry-run -n %s -o json: exit %d\nstdout: %s\nstderr: %s", ns, code, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one JSON object on one line, got %d lines:\n%s", len(lines), out.String())
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, lines[0])
	}
	if d, ok := rep["duration"].(string); !ok || !regexp.MustCompile(`^[0-9.]+(ns|µs|ms|s)$|^[0-9hms.]+$`).MatchString(d) {
		t.Errorf("duration %#v: want a string such as \"1.5ms\"", rep["duration"])
	}
	if del, ok := rep["deleted"].([]any); !ok || len(del) != 0 || rep["dryRun"] != true {
		t.Errorf("report %s: want dryRun true and an empty deleted list", lines[0])
	}
}
