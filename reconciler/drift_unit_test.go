package reconciler

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestChangedBy(t *testing.T) {
	entry := func(manager, subresource, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Subresource: subresource, Operation: metav1.ManagedFieldsOperationUpdate,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	}
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    string
	}{
		{name: "other managers, sparkcd's own and the status left out", entries: []metav1.ManagedFieldsEntry{
			entry(FieldManager, "", `{"f:spec":{"f:image":{}}}`),
			entry("kubectl-patch", "", `{"f:spec":{"f:image":{},"f:driver":{"f:nodeSelector":{"f:pool":{}}}}}`),
			entry("kubectl-edit", "status", `{"f:status":{"f:specHash":{}}}`),
			entry("other-tool", "", `{"f:metadata":{"f:labels":{"f:team":{},"f:sparkcd.io/x":{}}},"f:spec":{"f:volumes":{"k:{\"name\":\"v\"}":{".":{},"f:name":{}}}}}`),
		}, want: `spec.driver.nodeSelector.pool, spec.image (field manager 'kubectl-patch'); metadata.labels[team], spec.volumes[{"name":"v"}].name (field manager 'other-tool')`},
		{name: "nobody", entries: []metav1.ManagedFieldsEntry{entry(FieldManager, "", `{"f:spec":{}}`)}, want: "a field was removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := changedBy(tt.entries); !strings.HasPrefix(got, tt.want) {
				t.Errorf("changedBy() = %q, want %q", got, tt.want)
			}
		})
	}
}
