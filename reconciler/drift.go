package reconciler

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/runtime/conditions"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// ReasonDrifted: a SparkJob that a JobSource manages no longer has the
// spec the source applied from git (someone patched it); no run starts
// until the source loop restores it, which it does at once.
const ReasonDrifted = "Drifted"

// EventDrifted is the warning on a SparkJob that drifted from git.
const EventDrifted = "Drifted"

// ReasonApplyPending: the JobSource recorded a new spec from git for the
// SparkJob and has not applied it yet; the job keeps its previous spec
// and starts no run until the apply lands.
const ReasonApplyPending = "ApplyPending"

// checkDrift is the gate that makes what runs what was reviewed: a job
// that a JobSource manages — some JobSource's status.inventory lists it —
// runs only while its spec (and the labels that go onto its pods) have
// the digest that inventory records for it. The status of a JobSource is
// written by sparkcd alone; the job's own annotations are not trusted,
// since whoever may patch the job may forge them in the same patch.
// Otherwise the job has drifted: rc.drift says which fields changed and
// which field managers changed them, and no run starts. A job no
// inventory lists is made by hand and runs what it says, whatever labels
// or annotations it carries; it has no revision either, so its runs
// record none.
func (r *JobReconciler) checkDrift(ctx context.Context, rc *reconciliation) {
	job := rc.job
	entries, err := listings(ctx, r.sources, r.apiReader, job)
	if err != nil {
		rc.drift = &waiting{reason: ReasonDrifted, message: err.Error() + "; no run starts until it can be read", retry: minRetryDelay}
		rc.revision = ""
		return
	}
	rc.listedBy = entries
	if len(entries) == 0 {
		rc.revision = ""
		return
	}
	got, err := r.digests.get(job)
	if err == nil && reviewed(entries, got) {
		return
	}
	rc.revision = ""
	source := entries[0].source
	switch {
	case err != nil:
		rc.drift = &waiting{reason: ReasonDrifted, message: fmt.Sprintf("the spec cannot be compared with the one JobSource '%s' applied: %v; no run starts until the source restores it", source, err)}
	case !slices.ContainsFunc(entries, func(l listing) bool { return l.ref.Digest != "" }):
		// Applied before sparkcd recorded digests (an upgrade): the
		// source's next poll records them; nobody changed the job.
		rc.drift = &waiting{reason: ReasonDrifted, quiet: true, message: fmt.Sprintf("JobSource '%s' has not recorded the digest of the spec it applied in its status.inventory; no run starts until it does", source)}
	case pending(entries, job, got):
		rc.drift = &waiting{reason: ReasonApplyPending, quiet: true, message: fmt.Sprintf("JobSource '%s' recorded a new spec from git and is applying it; no run starts until it lands", source)}
	default:
		msg := fmt.Sprintf("the spec differs from the one JobSource '%s' applied from git at revision %s: %s", source,
			cmp.Or(job.Annotations[v1alpha1.AnnotationRevision], "unknown"), changedBy(r.managedFields(ctx, job)))
		rc.drift = &waiting{reason: ReasonDrifted, message: msg + "; no run starts until the source restores it"}
	}
}

// pending reports a job that still has exactly the spec its source applied
// before, while the inventory already records the next one: the source
// loop records a digest before it applies it, and the apply has not landed
// (or failed, and is retried). The job's own annotation says what was
// applied; a forged one gains nothing, since the job runs only the
// inventory's digest.
func pending(entries []listing, job *v1alpha1.SparkJob, got string) bool {
	applied := inventoryDigest(job.Annotations[v1alpha1.AnnotationAppliedSpecDigest])
	return applied != "" && applied == inventoryDigest(got) &&
		slices.ContainsFunc(entries, func(l listing) bool { return l.ref.Previous == applied })
}

// ranRevision reports whether a run of the job's spec hash at its
// revision, one from git, is known from the status or a driver pod. The
// status says which spec last ran (specHash), but anyone who may edit the
// status can change that (`kubectl edit --subresource=status`); a commit
// run for a revision that already ran would run the same reviewed spec
// again under a trigger that is not true. A job made by hand has no
// revision: a spec that comes back runs again, as it always did.
func (rc *reconciliation) ranRevision() bool {
	if rc.revision == "" {
		return false
	}
	for name, run := range rc.runs {
		if run.SpecHash == rc.hash && run.Revision == rc.revision && !rc.adopted[name] && !rc.interruptedRun(name) {
			return true
		}
	}
	return false
}

// statusEdited warns that the status said a spec that already ran had
// not, naming the field managers other than sparkcd that wrote the status.
func (rc *reconciliation) statusEdited(entries []metav1.ManagedFieldsEntry) {
	var managers []string
	for _, e := range entries {
		if e.Subresource == "status" && e.Manager != FieldManager {
			managers = append(managers, "'"+e.Manager+"'")
		}
	}
	by := "a write that left no field manager"
	if len(managers) > 0 {
		by = "field manager " + strings.Join(slices.Compact(slices.Sorted(slices.Values(managers))), ", ")
	}
	note := fmt.Sprintf("status.specHash was edited (%q) by %s: the spec of revision %s already ran; no run starts, the status is restored",
		runid.Short(rc.job.Status.SpecHash), by, rc.revision)
	rc.events = append(rc.events, runEvent{eventType: corev1.EventTypeWarning, reason: EventDrifted, note: note})
}

// managedFields reads the job's field managers from the API server: the
// cache strips them (TransformStripManagedFields), and they are needed
// only to explain a drift.
func (r *JobReconciler) managedFields(ctx context.Context, job *v1alpha1.SparkJob) []metav1.ManagedFieldsEntry {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(v1alpha1.SparkJobKind))
	if err := r.apiReader.Get(ctx, client.ObjectKeyFromObject(job), m); err != nil {
		return nil
	}
	return m.ManagedFields
}

// markDrifted reports the drift in the conditions, and warns in an event
// when the message is new and someone changed the job.
func markDrifted(rc *reconciliation) {
	msg := boundMessage(rc.drift.message)
	reason := rc.drift.reason
	before := conditions.Get(rc.base, meta.ReadyCondition)
	conditions.MarkReconciling(rc.job, reason, "%s", msg)
	conditions.MarkFalse(rc.job, meta.ReadyCondition, reason, "%s", msg)
	// A job applied before sparkcd recorded digests (an upgrade), or whose
	// new spec is being applied, waits quietly: nobody changed it.
	if !rc.drift.quiet && (before == nil || before.Reason != reason || before.Message != msg) {
		rc.events = append(rc.events, runEvent{eventType: corev1.EventTypeWarning, reason: EventDrifted, note: msg})
	}
}

// changedBy names the spec fields and pod labels that field managers other
// than sparkcd own, with the managers: who changed what.
func changedBy(entries []metav1.ManagedFieldsEntry) string {
	byManager := map[string][]string{}
	for _, e := range entries {
		if e.Manager == FieldManager || e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		var fields map[string]any
		if json.Unmarshal(e.FieldsV1.Raw, &fields) != nil {
			continue
		}
		var paths []string
		if spec, ok := fields["f:spec"].(map[string]any); ok {
			paths = fieldPaths("spec", spec, paths)
		}
		if meta, ok := fields["f:metadata"].(map[string]any); ok {
			if labels, ok := meta["f:labels"].(map[string]any); ok {
				for k := range labels {
					name := strings.TrimPrefix(k, "f:")
					if len(runid.PropagatedLabels(map[string]string{name: ""})) > 0 {
						paths = append(paths, "metadata.labels["+name+"]")
					}
				}
			}
		}
		if len(paths) > 0 {
			byManager[e.Manager] = append(byManager[e.Manager], paths...)
		}
	}
	if len(byManager) == 0 {
		return "a field was removed, or changed by a write that left no field manager"
	}
	var parts []string
	for _, m := range slices.Sorted(maps.Keys(byManager)) {
		paths := byManager[m]
		slices.Sort(paths)
		parts = append(parts, fmt.Sprintf("%s (field manager '%s')", fieldList(slices.Compact(paths)), m))
	}
	return strings.Join(parts, "; ")
}

// fieldPaths appends the leaf paths of a managedFields set (FieldsV1:
// "f:name" a field, "k:{…}" a list item by key, "v:…" by value, "i:N" by
// index, "." the node itself).
func fieldPaths(path string, set map[string]any, out []string) []string {
	leaf := true
	for k, v := range set {
		if k == "." {
			continue
		}
		leaf = false
		var p string
		switch {
		case strings.HasPrefix(k, "f:"):
			p = path + "." + k[2:]
		case len(k) > 2 && k[1] == ':':
			p = path + "[" + k[2:] + "]"
		default:
			p = path + "[" + k + "]"
		}
		child, _ := v.(map[string]any)
		out = fieldPaths(p, child, out)
	}
	if leaf {
		out = append(out, path)
	}
	return out
}

// digests caches the digest of each job's spec while its generation and
// labels stay the same: the reconciles of a run (its pod's events, its
// status writes) do not digest an unchanged job again.
type digests struct {
	mu sync.Mutex
	m  map[types.NamespacedName]cachedDigest
}

type cachedDigest struct {
	uid        types.UID
	generation int64
	labels     map[string]string
	digest     string
}

func newDigests() *digests { return &digests{m: map[types.NamespacedName]cachedDigest{}} }

func (d *digests) get(job *v1alpha1.SparkJob) (string, error) {
	key := client.ObjectKeyFromObject(job)
	labels := runid.PropagatedLabels(job.Labels)
	d.mu.Lock()
	c, ok := d.m[key]
	d.mu.Unlock()
	if ok && c.uid == job.UID && c.generation == job.Generation && maps.Equal(c.labels, labels) {
		return c.digest, nil
	}
	digest, err := runid.AppliedSpecDigest(job)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	d.m[key] = cachedDigest{uid: job.UID, generation: job.Generation, labels: labels, digest: digest}
	d.mu.Unlock()
	return digest, nil
}

func (d *digests) forget(key types.NamespacedName) {
	d.mu.Lock()
	delete(d.m, key)
	d.mu.Unlock()
}
