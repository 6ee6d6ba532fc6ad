package corpus

import (
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/review"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// podTemplateDir is where Spark's driver reads the executor pod template
// (spark.kubernetes.executor.podTemplateFile lives below it).
const podTemplateDir = "/opt/spark/pod-template"

// TestCorpusRunsCreatedOnAPIServer creates, for every job of every corpus
// file, the job and the objects of its first run on a real API server, in
// a namespace of its own, in the order the job loop does: the SparkJob, the
// driver pod, then every other object of the run with the driver pod as its
// controller. Real creates, not dry runs: admission, defaulting and the
// schemas all see the objects. A job with error findings not on the
// expectation list is a failure (the check test lists them); its objects
// are still created when they render, so that the API server's verdict is
// known too.
func TestCorpusRunsCreatedOnAPIServer(t *testing.T) {
	e := env.Env(t)
	for _, file := range corpusFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			report := checkFile(t, file)
			ns := e.Namespace(t)
			for i := range report.Jobs {
				j := report.Jobs[i]
				if j.Job == nil {
					t.Errorf("%s: a unit yields no job:%s", file, describe(j.Findings))
					continue
				}
				if n := unexpectedErrors(file, j); n > 0 {
					t.Errorf("%s: job '%s' is refused (%d errors; see TestCorpusCheckAndRender)", file, j.Name, n)
				}
				createRun(t, e, file, ns, j)
			}
		})
	}
}

// createRun materialises the first run of j in namespace ns and creates
// its objects.
func createRun(t *testing.T, e *testenv.Env, file, ns string, j review.JobReport) {
	t.Helper()
	job := j.Job.DeepCopy()
	job.Namespace = ns
	j.Job = job
	objs, err := j.Objects(runid.OfflineRun(job, ""), materialize.DefaultOptions(), true)
	if err != nil {
		t.Errorf("%s: job '%s': not rendered: %v", file, job.Name, err)
		return
	}
	pod, rest := splitRun(objs)
	if pod == nil {
		t.Errorf("%s: job '%s': no driver pod rendered", file, job.Name)
		return
	}
	ctx := t.Context()
	for _, o := range rest {
		if sj, ok := o.(*v1alpha1.SparkJob); ok {
			if err := e.Client.Create(ctx, sj); err != nil {
				t.Errorf("%s: creating SparkJob '%s': %v", file, sj.Name, err)
			} else if got, want := runid.RunName(sj.Name, runid.Short(runid.SpecHash(sj))), pod.Labels[v1alpha1.LabelRun]; got != want {
				// The job loop names the run from the SparkJob the API
				// server stored (its CRD's defaults in): render must agree.
				t.Errorf("%s: job '%s': the job loop names its run '%s', render '%s'", file, sj.Name, got, want)
			}
		}
	}
	ensurePriorityClass(t, e, pod.Spec.PriorityClassName)
	if err := e.Client.Create(ctx, pod); err != nil {
		t.Errorf("%s: job '%s': creating the driver pod: %v", file, job.Name, err)
		return
	}
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	for _, o := range rest {
		obj, ok := o.(client.Object)
		if !ok {
			t.Errorf("%s: job '%s': rendered a %T, which is not an object", file, job.Name, o)
			continue
		}
		if _, isJob := o.(*v1alpha1.SparkJob); isJob {
			continue
		}
		if metav1.GetControllerOf(obj) == nil {
			obj.SetOwnerReferences(append(obj.GetOwnerReferences(), ref))
		}
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Errorf("%s: job '%s': creating %T '%s': %v", file, job.Name, o, obj.GetName(), err)
		}
	}
	checkExecutorTemplate(t, file, pod, rest)
}

// splitRun returns the driver pod of a rendered run and the other objects.
func splitRun(objs []kruntime.Object) (*corev1.Pod, []kruntime.Object) {
	var pod *corev1.Pod
	var rest []kruntime.Object
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok && pod == nil && p.Labels["spark-role"] == "driver" {
			pod = p
			continue
		}
		rest = append(rest, o)
	}
	return pod, rest
}

// ensurePriorityClass creates the class a driver names: the Priority
// admission plugin resolves it on create, and the platform team creates it
// once per cluster.
func ensurePriorityClass(t *testing.T, e *testenv.Env, name string) {
	t.Helper()
	if name == "" {
		return
	}
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: 1000}
	if err := e.Client.Create(t.Context(), pc); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating priority class '%s': %v", name, err)
	}
}

// checkExecutorTemplate checks that the executor pod template the driver
// mounts decodes strictly as a Pod, as Spark reads it.
func checkExecutorTemplate(t *testing.T, file string, pod *corev1.Pod, rest []kruntime.Object) {
	t.Helper()
	cmName, key := "", ""
	for _, c := range pod.Spec.Containers {
		for _, m := range c.VolumeMounts {
			if m.MountPath != podTemplateDir {
				continue
			}
			for _, v := range pod.Spec.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil && len(v.ConfigMap.Items) > 0 {
					cmName, key = v.ConfigMap.Name, v.ConfigMap.Items[0].Key
				}
			}
		}
	}
	if cmName == "" {
		t.Errorf("%s: the driver pod mounts no executor pod template at %s", file, podTemplateDir)
		return
	}
	for _, o := range rest {
		cm, ok := o.(*corev1.ConfigMap)
		if !ok || cm.Name != cmName {
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(cm.Data[key]), &corev1.Pod{}); err != nil {
			t.Errorf("%s: the executor pod template (%s/%s) does not decode as a Pod: %v", file, cmName, key, err)
		}
		return
	}
	t.Errorf("%s: the run renders no ConfigMap '%s' for the executor pod template", file, cmName)
}
