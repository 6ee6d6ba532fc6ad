package cleanup

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// EventDriversDeleted is the reason of the event a pass emits on a
// SparkJob whose drivers it deleted.
const EventDriversDeleted = "DriversDeleted"

// execute deletes the drivers decide chose, Concurrency at a time, and
// emits one event per SparkJob. decide has already held back every driver
// whose run the job loop has not recorded (see recorded), so a delete never
// races the job loop's own bookkeeping.
func (c *Cleanup) execute(ctx context.Context, removals []Removal, jobs map[types.UID]jobLimits) ([]Removal, []error) {
	var (
		mu      sync.Mutex
		errs    []error
		deleted []Removal
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for _, r := range removals {
		g.Go(func() error {
			gone, err := c.deleteDriver(gctx, r)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				passErrors.WithLabelValues("delete").Inc()
				errs = append(errs, err)
			case gone:
				deleted = append(deleted, r)
			}
			return nil
		})
	}
	_ = g.Wait()
	c.emit(deleted, jobs)
	return deleted, errs
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
func (c *Cleanup) emit(deleted []Removal, jobs map[types.UID]jobLimits) {
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
		job, ok := jobs[uid]
		if !ok {
			continue
		}
		sort.Strings(names)
		list := names
		more := ""
		if len(list) > maxEventNames {
			list, more = list[:maxEventNames], fmt.Sprintf(" and %d more", len(names)-maxEventNames)
		}
		regarding := &v1alpha1.SparkJob{ObjectMeta: metav1.ObjectMeta{Namespace: job.namespace, Name: job.name, UID: uid}}
		c.opts.Recorder.Eventf(regarding, nil, corev1.EventTypeNormal, EventDriversDeleted, "Cleanup",
			"deleted %d finished driver%s: %s%s", len(names), plural(len(names)), strings.Join(list, ", "), more)
	}
}
