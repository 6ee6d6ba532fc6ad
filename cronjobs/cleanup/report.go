package cleanup

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// Reason says why a pass deletes a driver.
type Reason string

// The reasons a driver is deleted.
const (
	// ReasonTTLExpired: the driver finished longer ago than its TTL.
	ReasonTTLExpired Reason = "TTLExpired"
	// ReasonHistoryLimit: newer finished drivers of the same job and phase
	// fill its successfulRunHistoryLimit or failedRunHistoryLimit.
	ReasonHistoryLimit Reason = "HistoryLimit"
)

// Removal is a driver pod a pass deleted, or would delete in a dry run.
type Removal struct {
	Namespace string `json:"namespace"`
	Pod       string `json:"pod"`
	// Job is the SparkJob that owns the driver; empty for drivers outside
	// sparkcd.
	Job        string          `json:"job,omitempty"`
	Phase      corev1.PodPhase `json:"phase"`
	FinishedAt time.Time       `json:"finishedAt"`
	Reason     Reason          `json:"reason"`
	// Detail says the numbers behind the reason.
	Detail string `json:"detail"`

	uid    types.UID
	jobUID types.UID
	run    *v1alpha1.RunStatus
}

// Report is what one pass did.
type Report struct {
	DryRun   bool          `json:"dryRun"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// Deleted are the drivers deleted (in a dry run: that would be),
	// sorted by namespace and name.
	Deleted []Removal `json:"deleted"`
	// Kept counts the finished drivers in scope left in place.
	Kept int `json:"kept"`
	// Errors counts the drivers and jobs the pass failed on; RunOnce's
	// error says what went wrong.
	Errors int `json:"errors"`
}

// WriteTo writes the report as a table, one line per driver, and a summary
// line; it is what `sparkcd cleanup` prints.
func (r Report) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
	}
	if len(r.Deleted) > 0 {
		tw := tabwriter.NewWriter(cw, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAMESPACE\tPOD\tJOB\tPHASE\tFINISHED\tREASON\tDETAIL")
		for _, d := range r.Deleted {
			job := d.Job
			if job == "" {
				job = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Namespace, d.Pod, job, d.Phase,
				d.FinishedAt.UTC().Format(time.RFC3339), d.Reason, d.Detail)
		}
		if err := tw.Flush(); err != nil {
			return cw.n, err
		}
	}
	fmt.Fprintf(cw, "%s %d finished driver%s, kept %d, %d error%s, in %s\n", verb, len(r.Deleted), plural(len(r.Deleted)),
		r.Kept, r.Errors, plural(r.Errors), r.Duration.Round(time.Millisecond))
	return cw.n, cw.err
}

// String is the report as WriteTo writes it.
func (r Report) String() string {
	var b strings.Builder
	_, _ = r.WriteTo(&b)
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// countingWriter counts what it writes and keeps the first error.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func sortRemovals(rs []Removal) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Namespace != rs[j].Namespace {
			return rs[i].Namespace < rs[j].Namespace
		}
		return rs[i].Pod < rs[j].Pod
	})
}
