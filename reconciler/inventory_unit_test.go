package reconciler

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestChangedEntries(t *testing.T) {
	ref := func(name, digest string) v1alpha1.InventoryRef {
		return v1alpha1.InventoryRef{Namespace: "ns", Name: name, Digest: digest}
	}
	key := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }
	tests := []struct {
		name          string
		before, after []v1alpha1.InventoryRef
		want          []types.NamespacedName
	}{
		{name: "nothing changed", before: []v1alpha1.InventoryRef{ref("a", "1")}, after: []v1alpha1.InventoryRef{ref("a", "1")}},
		{name: "digest changed, entry added and removed",
			before: []v1alpha1.InventoryRef{ref("a", "1"), ref("b", "1"), ref("gone", "1")},
			after:  []v1alpha1.InventoryRef{ref("a", "2"), ref("b", "1"), ref("new", "1")},
			want:   []types.NamespacedName{key("a"), key("gone"), key("new")}},
		{name: "previous set", before: []v1alpha1.InventoryRef{ref("a", "1")},
			after: []v1alpha1.InventoryRef{{Namespace: "ns", Name: "a", Digest: "1", Previous: "0"}},
			want:  []types.NamespacedName{key("a")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := changedEntries(tt.before, tt.after)
			slices.SortFunc(got, func(a, b types.NamespacedName) int { return strings.Compare(a.Name, b.Name) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changedEntries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReviewedAndPending(t *testing.T) {
	full := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	job := func(annotation string) *v1alpha1.SparkJob {
		j := &v1alpha1.SparkJob{}
		j.Annotations = map[string]string{v1alpha1.AnnotationAppliedSpecDigest: annotation}
		return j
	}
	entry := func(digest, previous string) []listing {
		return []listing{{source: "ns/src", ref: v1alpha1.InventoryRef{Namespace: "ns", Name: "j", Digest: digest, Previous: previous}}}
	}
	if !reviewed(entry(inventoryDigest(full), ""), full) {
		t.Error("a spec whose digest begins with the entry's is not reviewed")
	}
	if reviewed(entry("", ""), "") || reviewed(entry(inventoryDigest(full), ""), other) {
		t.Error("an empty or different digest is reviewed")
	}
	if len(inventoryDigest(full)) != 32 {
		t.Errorf("inventory digest of %d characters, want 32", len(inventoryDigest(full)))
	}
	// The source recorded other, the job still has full as applied.
	if !pending(entry(inventoryDigest(other), inventoryDigest(full)), job(full), full) {
		t.Error("a job with the previous applied spec is not pending")
	}
	// A forged annotation matching a patched spec is drift, not pending.
	if pending(entry(inventoryDigest(other), ""), job(full), full) {
		t.Error("a job with no recorded previous digest is pending")
	}
	if pending(entry(inventoryDigest(other), inventoryDigest(full)), job(full), other[:10]+full[10:]) {
		t.Error("a job whose spec differs from its annotation is pending")
	}
}
