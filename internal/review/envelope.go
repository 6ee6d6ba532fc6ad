package review

import (
	"fmt"
	"strings"

	"github.com/sparkcd/sparkcd/policies"
)

// envelopeCells splits an envelope into the cells of the markdown summary:
// driver pod, executor pod, peak executors, peak job.
func envelopeCells(e *policies.Envelope) (string, string, string, string) {
	driver := fmt.Sprintf("%s cpu, %s", e.DriverCPU.String(), mib(e.DriverMemoryMiB))
	executor := fmt.Sprintf("%s cpu, %s", e.ExecutorCPU.String(), mib(e.ExecutorMemoryMiB))
	if e.PeakExecutors == nil || e.PeakCPU == nil || e.PeakMemoryMiB == nil {
		return driver, executor, "unbounded", "unbounded"
	}
	return driver, executor, fmt.Sprint(*e.PeakExecutors),
		fmt.Sprintf("%s cpu, %s", e.PeakCPU.String(), mib(*e.PeakMemoryMiB))
}

// mib prints a size in MiB, in GiB when that reads better.
func mib(n int64) string {
	if n >= 10*1024 {
		return fmt.Sprintf("%.1fGi", float64(n)/1024)
	}
	return fmt.Sprintf("%dMi", n)
}

// envelopeDelta describes how an envelope changed, or "" when it did not.
func envelopeDelta(from, to *policies.Envelope) string {
	switch {
	case from == nil && to == nil:
		return ""
	case from == nil:
		return "new: " + to.String()
	case to == nil:
		return "was: " + from.String()
	}
	fd, fe, fp, fk := envelopeCells(from)
	td, te, tp, tk := envelopeCells(to)
	var parts []string
	add := func(name, a, b string) {
		if a != b {
			parts = append(parts, fmt.Sprintf("%s %s → %s", name, a, b))
		}
	}
	add("driver", fd, td)
	add("executor", fe, te)
	add("peak executors", fp, tp)
	add("peak", fk, tk)
	add("gang", orDash(from.Gang("")), orDash(to.Gang("")))
	return strings.Join(parts, "; ")
}
