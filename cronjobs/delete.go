package cronjobs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
)

// EventDriversDeleted is the reason of the event a pass emits on a
// SparkJob whose drivers it deleted.
const EventDriversDeleted = "DriversDeleted"

// statusBackoff retries a history write that lost a race with the job
// loop's own status write; the loop writes once per reconcile, so a few
// retries always get through.
var statusBackoff = wait.Backoff{Steps: 8, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.2}

// jobBatch is the removals of one SparkJob.
type jobBatch struct {
	namespace, name string
	uid             types.UID
	removals        []Removal
	// job is the SparkJob read when its history was written, for events.
	job *v1alpha1.SparkJob
}

// execute records the runs, then deletes the drivers. A driver is deleted
// only once its run is in its job's history; a driver whose run the job
// loop still lists as active — it has not seen the end yet — waits for
// the next pass, so the loop never takes its disappearance for a lost run.
func (c *Cleanup) execute(ctx context.Context, removals []Removal, kept int) ([]Removal, int, []error) {
	var (
		mu      sync.Mutex
		errs    []error
		ready   []Removal
		batches = map[types.UID]*jobBatch{}
	)
	fail := func(op string, err error) {
		passErrors.WithLabelValues(op).Inc()
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, r := range removals {
		if r.jobUID == "" || r.run == nil {
			ready = append(ready, r)
			continue
		}
		b := batches[r.jobUID]
		if b == nil {
			b = &jobBatch{namespace: r.Namespace, name: r.Job, uid: r.jobUID}
			batches[r.jobUID] = b
		}
		b.removals = append(b.removals, r)
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for _, b := range batches {
		g.Go(func() error {
			allowed, waiting, err := c.record(gctx, b)
			mu.Lock()
			defer mu.Unlock()
			kept += waiting
			if err != nil {
				kept += len(b.removals)
				errs = append(errs, err)
				passErrors.WithLabelValues("record").Inc()
				return nil
			}
			ready = append(ready, allowed...)
			return nil
		})
	}
	_ = g.Wait()

	var deleted []Removal
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for _, r := range ready {
		g.Go(func() error {
			gone, err := c.deleteDriver(gctx, r)
			if err != nil {
				fail("delete", err)
				return nil
			}
			if gone {
				mu.Lock()
				deleted = append(deleted, r)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	c.emit(deleted, batches)
	return deleted, kept, errs
}

// record writes the runs of a job's removals into its status.history, and
// returns the removals whose driver may go, and how many wait for the job
// loop. The write carries the resourceVersion read, so it never overwrites
// a status the job loop wrote in between, and the job loop's own write,
// which does the same, never drops what the cleanup recorded: it reads the
// history back and keeps it.
func (c *Cleanup) record(ctx context.Context, b *jobBatch) ([]Removal, int, error) {
	var allowed []Removal
	waiting := 0
	err := retry.RetryOnConflict(statusBackoff, func() error {
		allowed, waiting, b.job = nil, 0, nil
		if err := c.wait(ctx); err != nil {
			return err
		}
		job := &v1alpha1.SparkJob{}
		err := c.client.Get(ctx, types.NamespacedName{Namespace: b.namespace, Name: b.name}, job)
		if apierrors.IsNotFound(err) || (err == nil && job.UID != b.uid) {
			// The job is gone, and the garbage collector is about to take its
			// drivers anyway: there is no history to keep.
			allowed = b.removals
			return nil
		}
		if err != nil {
			return fmt.Errorf("unable to get SparkJob '%s/%s': %w", b.namespace, b.name, err)
		}
		active := map[string]bool{}
		for _, name := range job.Status.ActiveRuns {
			active[name] = true
		}
		var runs []v1alpha1.RunStatus
		for _, r := range b.removals {
			if active[r.run.Name] {
				waiting++
				continue
			}
			allowed = append(allowed, r)
			runs = append(runs, *r.run)
		}
		b.job = job
		base := job.DeepCopy()
		if !addToHistory(&job.Status, runs, c.opts.HistoryLimit) {
			return nil
		}
		if err := c.wait(ctx); err != nil {
			return err
		}
		return c.client.Status().Patch(ctx, job, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	})
	if err != nil {
		return nil, 0, fmt.Errorf("unable to record the runs of SparkJob '%s/%s' before deleting their drivers: %w", b.namespace, b.name, err)
	}
	return allowed, waiting, nil
}

// addToHistory adds the runs status.history lacks, newest first as the job
// loop orders it, bounded by limit — or by the history's own length, when
// the job loop keeps more. It reports whether the history changed: a run
// older than a full history of newer runs is one the bounded history had
// let go of already.
func addToHistory(st *v1alpha1.SparkJobStatus, runs []v1alpha1.RunStatus, limit int) bool {
	known := map[string]bool{}
	for _, run := range st.History {
		known[run.Name] = true
	}
	history := append([]v1alpha1.RunStatus(nil), st.History...)
	added := false
	for _, run := range runs {
		if !known[run.Name] {
			known[run.Name] = true
			history = append(history, run)
			added = true
		}
	}
	if !added {
		return false
	}
	sort.SliceStable(history, func(i, j int) bool { return reconciler.NewerRun(&history[i], &history[j]) })
	if n := max(limit, len(st.History)); len(history) > n {
		history = history[:n]
	}
	if sameNames(history, st.History) {
		return false
	}
	st.History = history
	return true
}

func sameNames(a, b []v1alpha1.RunStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// deleteDriver deletes a driver pod with background propagation, so the
// garbage collector removes what it owns. The UID precondition spares a
// newer pod of the same name. It reports whether the pod is gone: a pod
// already deleted is, a pod replaced by another of its name is not.
func (c *Cleanup) deleteDriver(ctx context.Context, r Removal) (bool, error) {
	if err := c.wait(ctx); err != nil {
		return false, err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: r.Pod}}
	err := c.client.Delete(ctx, pod, client.Preconditions{UID: &r.uid}, client.PropagationPolicy(metav1.DeletePropagationBackground))
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return true, nil
	case apierrors.IsConflict(err):
		return false, nil
	}
	return false, fmt.Errorf("unable to delete driver pod '%s/%s': %w", r.Namespace, r.Pod, err)
}

// maxEventNames bounds the drivers one event names.
const maxEventNames = 10

// emit sends one event per SparkJob whose drivers the pass deleted.
func (c *Cleanup) emit(deleted []Removal, batches map[types.UID]*jobBatch) {
	if c.opts.Recorder == nil {
		return
	}
	byJob := map[types.UID][]string{}
	for _, r := range deleted {
		if r.jobUID != "" {
			byJob[r.jobUID] = append(byJob[r.jobUID], r.Pod+" ("+string(r.Reason)+")")
		}
	}
	for uid, names := range byJob {
		b := batches[uid]
		if b == nil || b.job == nil {
			continue
		}
		sort.Strings(names)
		list := names
		more := ""
		if len(list) > maxEventNames {
			list, more = list[:maxEventNames], fmt.Sprintf(" and %d more", len(names)-maxEventNames)
		}
		c.opts.Recorder.Eventf(b.job, nil, corev1.EventTypeNormal, EventDriversDeleted, "Cleanup",
			"deleted %d finished driver%s: %s%s", len(names), plural(len(names)), strings.Join(list, ", "), more)
	}
}
