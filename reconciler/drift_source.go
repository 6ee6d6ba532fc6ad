package reconciler

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// restore makes the SparkJob the source loop just applied hold exactly the
// spec git has. A server-side apply takes back every field git sets, but
// a field git does not set that another manager added (`kubectl patch` of
// spec.driver.nodeSelector, another tool's apply) survives it, and so does
// a pod label: the digest of the applied job then differs from git's.
// restore replaces the whole spec with git's, and removes the propagated
// labels git does not set, in one JSON patch that first tests the
// resourceVersion of the apply's answer: a job changed meanwhile is left
// for the next reconcile (the job loop starts no run from it). It returns
// the job as stored.
func (r *SourceReconciler) restore(ctx context.Context, dj *desiredJob, applied *v1alpha1.SparkJob) (*v1alpha1.SparkJob, error) {
	digest, err := runid.AppliedSpecDigest(applied)
	if err != nil || digest == dj.digest {
		return applied, err
	}
	ops := []map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": applied.ResourceVersion},
		{"op": "replace", "path": "/spec", "value": dj.job.Spec},
	}
	for k := range runid.PropagatedLabels(applied.Labels) {
		if _, ok := dj.job.Labels[k]; !ok {
			ops = append(ops, map[string]any{"op": "remove", "path": "/metadata/labels/" + jsonPointerEscape(k)})
		}
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("unable to restore SparkJob '%s': %w", dj.key, err)
	}
	restored := &v1alpha1.SparkJob{}
	restored.Namespace, restored.Name = dj.key.Namespace, dj.key.Name
	if err := r.client.Patch(ctx, restored, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(FieldManager)); err != nil {
		return nil, fmt.Errorf("unable to restore the spec of SparkJob '%s' from git: %w", dj.key, err)
	}
	if err := r.disownUpdates(ctx, restored); err != nil {
		return nil, err
	}
	if digest, err = runid.AppliedSpecDigest(restored); err != nil {
		return nil, err
	}
	if digest != dj.digest {
		return nil, fmt.Errorf("SparkJob '%s' still differs from git after its spec was restored: %s", dj.key, fieldList(appliedDrift(dj.job, restored)))
	}
	return restored, nil
}

// disownUpdates drops the managedFields entry that restore's patch left
// under sparkcd's name (operation Update). The apply owns every field git
// sets; a second owner of them would keep a field that git later removes
// in place after the apply, and the job Drifted until restore ran again.
// A patch of managedFields alone changes no field, so it adds no entry.
func (r *SourceReconciler) disownUpdates(ctx context.Context, job *v1alpha1.SparkJob) error {
	kept := slices.DeleteFunc(slices.Clone(job.ManagedFields), func(e metav1.ManagedFieldsEntry) bool {
		return e.Manager == FieldManager && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == ""
	})
	if len(kept) == len(job.ManagedFields) || len(kept) == 0 {
		return nil
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": job.ResourceVersion},
		{"op": "replace", "path": "/metadata/managedFields", "value": kept},
	})
	if err != nil {
		return err
	}
	if err := r.client.Patch(ctx, job, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("unable to patch the field managers of SparkJob '%s/%s': %w", job.Namespace, job.Name, err)
	}
	return nil
}

// appliedDrift lists the fields where the live SparkJob differs from git:
// driftFields (what git sets and the job lacks), and the spec fields and
// pod labels the job has and git does not set, the API server's defaults
// left out.
func appliedDrift(want, live *v1alpha1.SparkJob) []string {
	out := driftFields(want, live)
	w, errW := runid.AppliedSpec(want)
	l, errL := runid.AppliedSpec(live)
	if errW == nil && errL == nil {
		out = append(out, subsetDiff("spec", toJSONValue(l.Spec), toJSONValue(w.Spec))...)
		for k := range l.Labels {
			if _, ok := w.Labels[k]; !ok {
				out = append(out, "metadata.labels["+k+"]")
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// jsonPointerEscape escapes a map key for a JSON pointer (RFC 6901).
func jsonPointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
