package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/message"
	"github.com/sparkcd/sparkcd/runid"
)

// maxRejectionMessage bounds the sparkcd.io/source-rejected annotation.
const maxRejectionMessage = 1024

// apply server-side applies every admitted job that differs from the
// cluster, and marks the SparkJobs of rejected jobs. A job already in sync
// costs no write: its content hash, labels and annotations are compared
// with the cache, and its spec with the generation last seen in sync (or,
// the first time, field by field).
//
// The jobs are applied by up to ApplyConcurrency workers (each apply is a
// round trip the API server answers on its own), and what each found is
// merged afterwards in the jobs' order: the status, the events and the
// inventory are those of the jobs applied one after the other. The first
// error, in that order, is the reconcile's; once a job has failed no
// other starts, and those already started finish. A job the API server
// refused to the source's service account (identityRefused) stops
// nothing, as before. The rejected jobs are marked after the applies.
func (r *SourceReconciler) apply(ctx context.Context, sc *sourceReconciliation, st *sourceState, rs *renderedSource) error {
	outcomes := r.applyAll(ctx, sc, st, rs.jobs)
	var first error
	for i := range outcomes {
		out := &outcomes[i]
		if !out.started {
			continue
		}
		dj := &rs.jobs[i]
		sc.merge(st, dj, out)
		if out.err != nil && !sc.identityRefused(dj.key, dj.job.Annotations[v1alpha1.AnnotationSourceFile], out.err) && first == nil {
			first = out.err
		}
	}
	if first != nil {
		return first
	}
	for _, rj := range rs.rejected {
		if err := r.markRejected(ctx, sc, rj); err != nil && !sc.identityRefused(rj.key, "", err) {
			return err
		}
	}
	return nil
}

// jobOutcome is what applyOne found and did for one job, for apply to
// merge: the workers share nothing but the outcomes' slice, each writing
// only its own.
type jobOutcome struct {
	// started says a worker took the job (applyAll).
	started bool
	// owner is the other JobSource that applies the job (a conflict).
	owner string
	// kept: the job has git's spec, applied or found in sync.
	kept, applied bool
	drift         []string
	// synced is the job as last seen in sync (sourceState.synced).
	synced *syncedJob
	err    error
}

// applyAll runs applyOne over the jobs with up to ApplyConcurrency
// workers. The workers take the jobs in order, and none once a job has
// failed: taking a job and checking for a failure are one step under mu,
// so the jobs taken are always the first ones, and every job before a
// failed one was taken. sourceState.synced is only read meanwhile.
func (r *SourceReconciler) applyAll(ctx context.Context, sc *sourceReconciliation, st *sourceState, jobs []desiredJob) []jobOutcome {
	outcomes := make([]jobOutcome, len(jobs))
	sc.indexRead() // before the workers read it
	var (
		mu     sync.Mutex
		next   int
		failed bool
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if failed || next >= len(jobs) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	var wg sync.WaitGroup
	for range min(r.opts.ApplyConcurrency, len(jobs)) {
		wg.Go(func() {
			for i, ok := take(); ok; i, ok = take() {
				out := &outcomes[i]
				out.started = true
				out.err = r.applyOne(ctx, sc, st, &jobs[i], out)
				var ie *ImpersonationError
				if out.err != nil && !errors.As(out.err, &ie) {
					mu.Lock()
					failed = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return outcomes
}

// merge records a job's outcome in the reconciliation and the source's
// state, as applyOne did when the jobs were applied one by one.
func (sc *sourceReconciliation) merge(st *sourceState, dj *desiredJob, out *jobOutcome) {
	if out.synced != nil {
		st.synced[dj.key] = *out.synced
	}
	if out.owner != "" {
		sc.conflict(dj.key, out.owner)
	}
	if out.kept {
		sc.keepDigest(dj)
	}
	if out.applied {
		sc.applied = append(sc.applied, dj.key)
	}
	if len(out.drift) > 0 {
		sc.drifted = append(sc.drifted, driftNote{key: dj.key, fields: out.drift})
	}
}

// applyOne applies one job unless it is in sync, and says in out what it
// found; it reads sc and st, and writes neither (apply merges out).
func (r *SourceReconciler) applyOne(ctx context.Context, sc *sourceReconciliation, st *sourceState, dj *desiredJob, out *jobOutcome) error {
	// Most jobs of a poll are in sync: the cache's object is read without
	// a deep copy (a 1,000-job poll made 1,000), and only read: its maps
	// are the cache's. A job found out of sync is read again below.
	live, err := r.liveJob(ctx, r.client, dj.key, client.UnsafeDisableDeepCopy)
	if err != nil {
		return err
	}
	if live != nil && !r.ours(sc, live) {
		out.owner = live.Annotations[AnnotationSource]
		return nil
	}
	if live != nil && r.inSync(st, dj, live, out) {
		out.kept = true
		return r.clearRejected(ctx, live)
	}
	if live != nil {
		// The cache may not have seen the last write yet: ask the API
		// before calling it drift.
		if live, err = r.liveJob(ctx, r.apiReader, dj.key); err != nil {
			return err
		}
		if live != nil && r.inSync(st, dj, live, out) {
			out.kept = true
			return r.clearRejected(ctx, live)
		}
	}
	revision := sc.revision
	if live != nil && live.Annotations[AnnotationAppliedHash] == dj.hash {
		// Same content as last applied: someone else changed it.
		out.drift = appliedDrift(dj.job, live)
		if rev := live.Annotations[v1alpha1.AnnotationRevision]; rev != "" {
			revision = rev
		}
	}
	if err := r.applyJob(ctx, dj, revision, out); err != nil {
		out.drift = nil
		return err
	}
	out.kept, out.applied = true, true
	if live != nil {
		return r.clearRejected(ctx, live)
	}
	return nil
}

// applyJob server-side applies the job with the field manager "sparkcd",
// forcing ownership of every field git sets, together with the digest of
// the spec it applies (runid.AppliedSpecDigest), which the job loop
// checks before it starts a run. A field that another manager added
// survives an apply; restore removes it. The generation the API answered
// with is remembered as in sync (out.synced).
func (r *SourceReconciler) applyJob(ctx context.Context, dj *desiredJob, revision string, out *jobOutcome) error {
	job := dj.job.DeepCopy()
	job.Annotations[v1alpha1.AnnotationRevision] = revision
	job.Annotations[AnnotationAppliedHash] = dj.hash
	job.Annotations[v1alpha1.AnnotationAppliedSpecDigest] = dj.digest
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(job)
	if err != nil {
		return fmt.Errorf("unable to convert SparkJob '%s': %w", dj.key, err)
	}
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	u := &unstructured.Unstructured{Object: obj}
	if err := r.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("unable to apply SparkJob '%s': %w", dj.key, err)
	}
	applied := &v1alpha1.SparkJob{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, applied); err != nil {
		return fmt.Errorf("unable to read the applied SparkJob '%s': %w", dj.key, err)
	}
	applied, err = r.restore(ctx, dj, applied)
	if err != nil {
		return err
	}
	if applied.UID != "" && applied.Generation > 0 {
		out.synced = &syncedJob{uid: applied.UID, generation: applied.Generation, hash: dj.hash, labels: runid.PropagatedLabels(applied.Labels)}
	}
	return nil
}

// inSync reports whether the live SparkJob has what git says: the content
// hash and spec digest applied, every label and annotation sparkcd sets,
// and the spec and propagated labels of that digest (runid.AppliedSpecDigest
// of the live job; a field another manager added or changed breaks it).
// A job found in sync by its digest is remembered in out.synced.
func (r *SourceReconciler) inSync(st *sourceState, dj *desiredJob, live *v1alpha1.SparkJob, out *jobOutcome) bool {
	if live.Annotations[AnnotationAppliedHash] != dj.hash || live.Annotations[v1alpha1.AnnotationRevision] == "" ||
		live.Annotations[v1alpha1.AnnotationAppliedSpecDigest] != dj.digest {
		return false
	}
	if !subsetMap(dj.job.Labels, live.Labels) || !subsetMap(dj.job.Annotations, live.Annotations) {
		return false
	}
	labels := runid.PropagatedLabels(live.Labels)
	if s, ok := st.synced[dj.key]; ok && s.uid == live.UID && s.generation == live.Generation && s.hash == dj.hash && maps.Equal(s.labels, labels) {
		return true
	}
	if digest, err := runid.AppliedSpecDigest(live); err != nil || digest != dj.digest {
		return false
	}
	out.synced = &syncedJob{uid: live.UID, generation: live.Generation, hash: dj.hash, labels: labels}
	return true
}

// ours reports whether the live SparkJob may be applied by this source:
// this source's inventory lists it, or it names this source, or none (a
// SparkJob made by hand is taken over). The inventory comes first: a
// patch that names another source on a job of this one must not make the
// source drop it from its inventory, which would turn the job into one
// made by hand that runs what the patch says.
func (r *SourceReconciler) ours(sc *sourceReconciliation, live *v1alpha1.SparkJob) bool {
	owner := live.Annotations[AnnotationSource]
	return owner == "" || owner == sc.src.Namespace+"/"+sc.src.Name || sc.inInventory(client.ObjectKeyFromObject(live))
}

// markRejected records on the existing SparkJob of a rejected job why its
// new version is not applied; the job keeps its last admitted spec, and
// the job loop reports the annotation as Ready=False, SourceRejected. The
// merge patch is an update, not an apply: the fields sparkcd applied stay
// as they are.
func (r *SourceReconciler) markRejected(ctx context.Context, sc *sourceReconciliation, rj rejectedJob) error {
	if rj.key.Name == "" {
		return nil
	}
	live, err := r.liveJob(ctx, r.client, rj.key)
	if err != nil || live == nil || !r.ours(sc, live) || live.Annotations[AnnotationSource] == "" {
		return err
	}
	sc.keep(rj.key)
	msg := "revision " + sc.revision + ": " + rj.message
	msg = message.Bound(msg, maxRejectionMessage)
	if live.Annotations[AnnotationSourceRejected] == msg {
		return nil
	}
	return r.patchRejected(ctx, live, &msg)
}

// clearRejected removes the rejection of a job whose revision is now
// admitted.
func (r *SourceReconciler) clearRejected(ctx context.Context, live *v1alpha1.SparkJob) error {
	if _, ok := live.Annotations[AnnotationSourceRejected]; !ok {
		return nil
	}
	return r.patchRejected(ctx, live, nil)
}

func (r *SourceReconciler) patchRejected(ctx context.Context, live *v1alpha1.SparkJob, msg *string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]*string{AnnotationSourceRejected: msg}}})
	if err != nil {
		return err
	}
	obj := &v1alpha1.SparkJob{}
	obj.Namespace, obj.Name = live.Namespace, live.Name
	if err := r.client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldManager)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("unable to mark SparkJob '%s/%s': %w", live.Namespace, live.Name, err)
	}
	return nil
}

// liveJob reads a SparkJob, nil when there is none.
func (r *SourceReconciler) liveJob(ctx context.Context, reader client.Reader, key types.NamespacedName, opts ...client.GetOption) (*v1alpha1.SparkJob, error) {
	job := &v1alpha1.SparkJob{}
	if err := reader.Get(ctx, key, job, opts...); err != nil {
		if apierrors.IsNotFound(err) && reader == r.client && r.opts.WatchSelector != nil {
			// A shard caches its own jobs only: a job of that name on
			// another shard (a conflict, or one moving) is on the API.
			return r.liveJob(ctx, r.apiReader, key)
		}
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("unable to get SparkJob '%s': %w", key, err)
	}
	return job, nil
}

// driftFields lists the fields whose live value differs from git's: every
// label and annotation git sets, and every spec field git sets (a field
// the API server defaulted, or another manager added, is not drift).
func driftFields(want, live *v1alpha1.SparkJob) []string {
	var out []string
	for _, m := range []struct {
		path       string
		want, live map[string]string
	}{{"metadata.labels", want.Labels, live.Labels}, {"metadata.annotations", want.Annotations, live.Annotations}} {
		for k, v := range m.want {
			if lv, ok := m.live[k]; !ok || lv != v {
				out = append(out, m.path+"["+k+"]")
			}
		}
	}
	out = append(out, subsetDiff("spec", toJSONValue(want.Spec), toJSONValue(live.Spec))...)
	sort.Strings(out)
	return out
}

// toJSONValue is v as encoding/json decodes it into any.
func toJSONValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}

// subsetDiff returns the paths where want is not contained in live: maps
// are compared key by key (live may have more), lists element by element.
func subsetDiff(path string, want, live any) []string {
	switch w := want.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return []string{path}
		}
		var out []string
		for k, wv := range w {
			out = append(out, subsetDiff(path+"."+k, wv, l[k])...)
		}
		return out
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(w) {
			return []string{path}
		}
		var out []string
		for i := range w {
			out = append(out, subsetDiff(fmt.Sprintf("%s[%d]", path, i), w[i], l[i])...)
		}
		return out
	default:
		if !reflect.DeepEqual(want, live) {
			return []string{path}
		}
		return nil
	}
}

func subsetMap(want, live map[string]string) bool {
	for k, v := range want {
		if lv, ok := live[k]; !ok || lv != v {
			return false
		}
	}
	return true
}

// fieldList names at most ten fields.
func fieldList(fields []string) string {
	if len(fields) > 10 {
		return strings.Join(fields[:10], ", ") + fmt.Sprintf(" and %d more", len(fields)-10)
	}
	return strings.Join(fields, ", ")
}
