package reconciler_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// TestNamespacePodSecurity: in a namespace that enforces baseline, a job
// whose driver mounts the node's / is refused with the namespace's level
// and the check in its Ready condition, starts no run, and does not keep
// a good job of the same namespace from running; relabelling the
// namespace privileged lets it run.
func TestNamespacePodSecurity(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	setNamespaceLabels(t, e, ns, map[string]string{"pod-security.kubernetes.io/enforce": "baseline"})
	startLoop(t, e, reconciler.JobOptions{}, ns)
	bad := piJob(t, ns, "host-root", func(j *v1alpha1.SparkJob) {
		j.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		j.Spec.Driver.VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
	})
	good := piJob(t, ns, "fine")
	for _, j := range []*v1alpha1.SparkJob{bad, good} {
		if err := e.Client.Create(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	got := waitJob(t, e, ns, bad.Name, "refused by Pod Security", func(j *v1alpha1.SparkJob) bool {
		return readyReason(t, j, reconciler.ReasonValidationFailed)
	})
	c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
	if want := "this job would be refused by the namespace's `baseline` level: hostPath volumes (volume \"root\") in the driver pod"; !strings.Contains(c.Message, want) {
		t.Errorf("Ready message %q does not contain %q", c.Message, want)
	}
	waitJob(t, e, ns, good.Name, "the good job's run", func(j *v1alpha1.SparkJob) bool { return j.Status.LastRun != nil })
	assertDriversStay(t, e, ns, bad.Name, 0)

	setNamespaceLabels(t, e, ns, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
	// A label change of the namespace wakes no stalled job: its next
	// change does, and is judged with the namespace's new level.
	updateJob(t, e, ns, bad.Name, func(j *v1alpha1.SparkJob) { j.Spec.Arguments = []string{"10"} })
	waitJob(t, e, ns, bad.Name, "a run once the namespace is privileged", func(j *v1alpha1.SparkJob) bool { return j.Status.LastRun != nil })
}

func setNamespaceLabels(t *testing.T, e *testenv.Env, ns string, labels map[string]string) {
	t.Helper()
	n := &corev1.Namespace{}
	if err := e.Client.Get(context.Background(), client.ObjectKey{Name: ns}, n); err != nil {
		t.Fatal(err)
	}
	base := n.DeepCopy()
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	for k, v := range labels {
		n.Labels[k] = v
	}
	if err := e.Client.Patch(context.Background(), n, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}
