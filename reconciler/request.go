package reconciler

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// RequestRun asks for a manual run of a SparkJob by setting its
// sparkcd.io/run-requested-at annotation to at, as `sparkcd run` does.
// The job loop starts one run per new value.
func RequestRun(ctx context.Context, c client.Client, job types.NamespacedName, at time.Time) error {
	value := at.UTC().Format(time.RFC3339Nano)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationRunRequestedAt, value)
	obj := &v1alpha1.SparkJob{}
	obj.Namespace, obj.Name = job.Namespace, job.Name
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("unable to request a run of SparkJob '%s': %w", job, err)
	}
	return nil
}
