package reconciler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/build"
)

// Supporting objects: the ConfigMaps, Secrets, ServiceAccounts… beside the
// jobs of a source's path. admission.Objects decides which may be applied
// (the kinds of spec.supportingKinds, namespaced, in the target
// namespaces), as `sparkcd check` does; this file applies them before the
// jobs, reports the ConfigMaps and Secrets a job needs that neither git
// nor the cluster holds, and prunes them with the jobs. See
// docs/supporting-objects.md.

// RuleApplyRefused: the API server refused a supporting object (no
// permission, a kind it does not serve, an invalid object); the other
// objects and the jobs are applied all the same.
const RuleApplyRefused = "apply-refused"

// desiredSupport is a supporting object to apply.
type desiredSupport struct {
	ref    v1alpha1.SupportingRef
	obj    *unstructured.Unstructured
	source string // file:line, for findings
}

// judgeSupporting judges the build's supporting objects and places the
// admitted ones in rs; the findings of the others are the source's.
func (r *SourceReconciler) judgeSupporting(rs *renderedSource, res *build.BuildResult, allowed []string, src *v1alpha1.JobSource) {
	rs.objectVerdicts = admission.Objects(res.Objects, admission.ObjectOptions{
		Kinds: src.Spec.SupportingKinds, Targets: allowed, Namespaced: r.namespaced, Decryption: rs.decryption,
	})
	for _, v := range rs.objectVerdicts {
		ref := v1alpha1.SupportingRef{Group: v.Group, Kind: v.Kind, Namespace: v.Namespace, Name: v.Name}
		source := v.Origin.File
		if v.Line > 0 {
			source = fmt.Sprintf("%s:%d", source, v.Line)
		}
		if len(v.Findings) > 0 {
			rs.findings = append(rs.findings, v1alpha1.JobFindings{ObjectRef: v1alpha1.ObjectRef{Namespace: v.Namespace, Name: v.Name},
				Source: source, Findings: v.Findings})
		}
		if v.Admitted() {
			rs.objects = append(rs.objects, desiredSupport{ref: ref, obj: v.Object.Object, source: source})
		}
	}
}

// namespaced tells from the cluster's discovery whether a kind is
// namespaced; a kind the cluster does not serve is unknown.
func (r *SourceReconciler) namespaced(gk schema.GroupKind) (namespaced, known bool) {
	m, err := r.client.RESTMapper().RESTMapping(gk)
	if err != nil {
		return false, false
	}
	return m.Scope.Name() == apimeta.RESTScopeNameNamespace, true
}

// applySupporting server-side applies the admitted supporting objects,
// before the jobs that use them, with the field manager and the labels of
// the jobs. An object that exists without this source's label (made by
// hand, or by another source) is left alone and reported.
func (r *SourceReconciler) applySupporting(ctx context.Context, sc *sourceReconciliation, rs *renderedSource) error {
	sc.keepUndecrypted(rs)
	for i := range rs.objects {
		ds := &rs.objects[i]
		live, err := r.liveSupport(ctx, ds.ref)
		if apierrors.IsForbidden(err) {
			// Without reading it, sparkcd cannot tell whose it is.
			sc.supportRefused(ds, err)
			continue
		}
		if err != nil {
			return err
		}
		if live != nil && live.Labels[v1alpha1.LabelSource] != sourceLabel(sc.src) {
			sc.supportConflict(ds, live)
			continue
		}
		u := ds.obj.DeepCopy()
		u.SetNamespace(ds.ref.Namespace)
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
		labels[v1alpha1.LabelSource] = sourceLabel(sc.src)
		u.SetLabels(labels)
		annotations := u.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[AnnotationSource] = sc.src.Namespace + "/" + sc.src.Name
		u.SetAnnotations(annotations)
		u.SetResourceVersion("")
		err = r.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership)
		switch {
		case err == nil:
			sc.keepObject(ds.ref)
			// A server-side apply that changes nothing keeps the
			// resourceVersion: only a real write counts.
			if live == nil || live.ResourceVersion != u.GetResourceVersion() {
				sc.appliedObjects++
			}
		case apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apimeta.IsNoMatchError(err) || apierrors.IsNotFound(err):
			// Not this source's to fix by retrying: a finding.
			sc.supportRefused(ds, err)
		default:
			return fmt.Errorf("unable to apply %s '%s/%s': %w", refKind(ds.ref), ds.ref.Namespace, ds.ref.Name, err)
		}
	}
	return nil
}

// liveSupport reads the metadata of a supporting object, nil when there
// is none (or its kind is not served: the apply then says so). A refusal
// to read it is an error for which apierrors.IsForbidden holds.
func (r *SourceReconciler) liveSupport(ctx context.Context, ref v1alpha1.SupportingRef) (*metav1.PartialObjectMetadata, error) {
	gk := schema.GroupKind{Group: ref.Group, Kind: ref.Kind}
	m, err := r.client.RESTMapper().RESTMapping(gk)
	if err != nil {
		if apimeta.IsNoMatchError(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("unable to map %s: %w", refKind(ref), err)
	}
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(m.GroupVersionKind)
	reader, sa, err := r.supportReader(ctx, ref)
	if err != nil {
		return nil, err
	}
	err = reader.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, live)
	if sa != nil && apierrors.IsForbidden(err) {
		return nil, &ImpersonationError{ServiceAccount: sa.String(), Verb: "get", Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Err: err}
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("unable to get %s '%s/%s': %w", refKind(ref), ref.Namespace, ref.Name, err)
	}
	return live, nil
}

// supportReader reads a supporting object's metadata: as sparkcd, except
// a Secret of a source with a service account (ctx's), which sparkcd may
// not read (source_secrets.go) and the account, which applies it, reads.
func (r *SourceReconciler) supportReader(ctx context.Context, ref v1alpha1.SupportingRef) (client.Reader, *serviceAccount, error) {
	sa, ok := serviceAccountFrom(ctx)
	ic, isIdentity := r.client.(*identityClient)
	if !ok || !isIdentity || ref.Group != "" || ref.Kind != "Secret" {
		return r.apiReader, nil, nil
	}
	c, err := ic.ids.client(sa)
	return c, &sa, err
}

// checkReferences adds a missing-reference warning to each applied job
// for every ConfigMap or Secret it needs that neither git nor the cluster
// holds. It runs on every reconcile, so the warning goes once the object
// is created; the cluster is read object by object (metadata only).
func (r *SourceReconciler) checkReferences(ctx context.Context, sc *sourceReconciliation, rs *renderedSource) error {
	exists := func(kind, namespace, name string) (bool, error) {
		live, err := r.liveSupport(ctx, v1alpha1.SupportingRef{Kind: kind, Namespace: namespace, Name: name})
		if apierrors.IsForbidden(err) {
			// sparkcd may not look: no warning it cannot stand behind.
			return true, nil
		}
		return live != nil, err
	}
	var added []v1alpha1.JobFindings
	for i := range rs.jobs {
		dj := &rs.jobs[i]
		missing, err := admission.MissingReferences(dj.job, rs.objectVerdicts, exists)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			added = append(added, v1alpha1.JobFindings{ObjectRef: v1alpha1.ObjectRef{Namespace: dj.key.Namespace, Name: dj.key.Name},
				Source: dj.job.Annotations[v1alpha1.AnnotationSourceFile], Findings: missing})
		}
	}
	if len(added) == 0 {
		return nil
	}
	// sc.findings is the cached render's slice: copy before adding.
	findings := slices.Clone(sc.findings)
	for _, a := range added {
		at := slices.IndexFunc(findings, func(f v1alpha1.JobFindings) bool { return f.ObjectRef == a.ObjectRef })
		if at < 0 {
			findings = append(findings, a)
			continue
		}
		findings[at].Findings = append(slices.Clone(findings[at].Findings), a.Findings...)
	}
	sc.findings = findings
	return nil
}

// supportConflict reports an object this source may not take over.
func (sc *sourceReconciliation) supportConflict(ds *desiredSupport, live *metav1.PartialObjectMetadata) {
	owner := "made outside sparkcd (it has no " + v1alpha1.LabelSource + " label of this source)"
	if o := live.Annotations[AnnotationSource]; o != "" {
		owner = "applied by JobSource '" + o + "'"
	}
	sc.conflicts = append(sc.conflicts, v1alpha1.JobFindings{
		ObjectRef: v1alpha1.ObjectRef{Namespace: ds.ref.Namespace, Name: ds.ref.Name}, Source: ds.source,
		Findings: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RuleOwnedByAnotherSource, Field: "metadata.name",
			Message: fmt.Sprintf("%s '%s/%s' already exists, %s: it is left as it is", refKind(ds.ref), ds.ref.Namespace, ds.ref.Name, owner)}},
	})
}

// supportRefused reports an object the API server refused. One applied
// before stays in the inventory, so that no prune follows a refused
// update.
func (sc *sourceReconciliation) supportRefused(ds *desiredSupport, err error) {
	sc.noteImpersonation(err)
	if slices.Contains(sc.base.Status.SupportingInventory, ds.ref) {
		sc.keepObject(ds.ref)
	}
	sc.conflicts = append(sc.conflicts, v1alpha1.JobFindings{
		ObjectRef: v1alpha1.ObjectRef{Namespace: ds.ref.Namespace, Name: ds.ref.Name}, Source: ds.source,
		Findings: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RuleApplyRefused, Field: "kind",
			Message: fmt.Sprintf("the API server refused %s '%s/%s': %s", refKind(ds.ref), ds.ref.Namespace, ds.ref.Name, apiReason(ds.ref, err))}},
	})
}

// apiReason is the API server's message of a refusal. For a Secret, whose
// invalid values an "Invalid value" message would quote, only the reason
// and the fields at fault are kept.
func apiReason(ref v1alpha1.SupportingRef, err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return err.Error()
	}
	st := status.Status()
	if ref.Group != "" || ref.Kind != "Secret" || st.Reason == metav1.StatusReasonForbidden {
		return st.Message
	}
	msg := string(st.Reason)
	if st.Details != nil {
		var fields []string
		for _, c := range st.Details.Causes {
			if c.Field != "" {
				fields = append(fields, c.Field)
			}
		}
		if len(fields) > 0 {
			msg += " at " + strings.Join(fields, ", ")
		}
	}
	return msg + " (the API server's message is not shown: it may quote the Secret's values)"
}

// keepObject puts a supporting object into the inventory.
func (sc *sourceReconciliation) keepObject(ref v1alpha1.SupportingRef) { sc.keptObjects[ref] = true }

func refKind(ref v1alpha1.SupportingRef) string {
	return v1alpha1.SupportingKind{Group: ref.Group, Kind: ref.Kind}.String()
}

// supportingInventoryOf lists the refs sorted.
func supportingInventoryOf(refs map[v1alpha1.SupportingRef]bool) []v1alpha1.SupportingRef {
	if len(refs) == 0 {
		return nil
	}
	out := make([]v1alpha1.SupportingRef, 0, len(refs))
	for ref := range refs {
		out = append(out, ref)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Name < b.Name
	})
	return out
}
