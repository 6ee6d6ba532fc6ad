package reconciler_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// parallelJobs is the size of the sources of the parallel-apply tests:
// many times the workers, so that they overtake one another.
const parallelJobs = 200

// TestSourceApplyParallel: a source of 200 jobs applied by 16 workers
// reports exactly what one worker reports — the same inventory, the same
// findings in the same order (the conflicts with another source's jobs
// among them, which the apply finds), the same Ready message — and every
// job is applied.
func TestSourceApplyParallel(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	repo := gittest.NewRepo(t)
	for i := range parallelJobs {
		name := fmt.Sprintf("job-%03d", i)
		y := suspendedJobYAML(t, name)
		if i == 120 {
			y = strings.Replace(y, "instances: 2", "instances: two", 1) // rejected
		}
		repo.WriteFile(t, "jobs/"+name+".yaml", y)
	}
	commit := repo.CommitAndPush(t, fmt.Sprintf("%d jobs", parallelJobs))
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	// Jobs of another source, side by side: workers finish them in any
	// order, the status lists them in the jobs' order.
	others := []string{"job-010", "job-011", "job-012", "job-013", "job-150"}
	status := map[int]*v1alpha1.JobSourceStatus{}
	namespaces := map[int]string{}
	for _, workers := range []int{1, 16} {
		ns := sparkNamespace(t, e)
		namespaces[workers] = ns
		for _, name := range others {
			otherSourceJob(t, e, ns, name)
		}
		startSourceLoop(t, e, reconciler.SourceOptions{ApplyConcurrency: workers}, ns)
		newSource(t, e, ns, "jobs", srv.URL(""))
		src := waitSource(t, e, ns, "jobs", fmt.Sprintf("Ready with %d workers", workers), func(s *v1alpha1.JobSource) bool {
			return sourceReady(s, metav1.ConditionTrue, reconciler.ReasonJobsRejected, commit)
		})
		if n := len(jobNames(t, e, ns)); n != parallelJobs-1 {
			t.Errorf("%d workers: %d SparkJobs, want %d (the rejected job has none, the other source's are there)", workers, n, parallelJobs-1)
		}
		status[workers] = &src.Status
	}
	if n := len(status[16].Inventory); n != parallelJobs-1-len(others) {
		t.Errorf("inventory of %d jobs, want %d", n, parallelJobs-1-len(others))
	}
	serial, parallel := comparable(status[1], namespaces[1]), comparable(status[16], namespaces[16])
	if diff := cmp.Diff(serial, parallel); diff != "" {
		t.Errorf("status with 16 workers differs from one worker's (-one +sixteen):\n%s", diff)
	}
	var conflicts []string
	for _, j := range status[16].Jobs {
		if slices.ContainsFunc(j.Findings, func(f v1alpha1.Finding) bool { return f.Rule == reconciler.RuleOwnedByAnotherSource }) {
			conflicts = append(conflicts, j.Name)
		}
	}
	if diff := cmp.Diff(others, conflicts); diff != "" {
		t.Errorf("conflicts in status.jobs (-want +got):\n%s", diff)
	}
}

// TestSourceApplyParallelFailure: a job the API server refuses fails the
// reconcile with an error that names it; every job before it is applied
// (the workers take the jobs in order and start none after a failure), and
// any other applied job has git's spec. Once the refusal is lifted the
// retry applies the rest.
func TestSourceApplyParallelFailure(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	const refused = 100
	for i := range parallelJobs {
		name := fmt.Sprintf("job-%03d", i)
		y := suspendedJobYAML(t, name)
		if i == refused {
			y = strings.Replace(y, reviewedImage, deniedImage, 1)
		}
		repo.WriteFile(t, "jobs/"+name+".yaml", y)
	}
	commit := repo.CommitAndPush(t, fmt.Sprintf("%d jobs", parallelJobs))
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	removePolicy := refuseImage(t, e, ns, deniedImage)
	startSourceLoop(t, e, reconciler.SourceOptions{ApplyConcurrency: 8}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""))
	want := fmt.Sprintf("unable to apply SparkJob '%s/job-%03d'", ns, refused)
	src := waitSource(t, e, ns, "jobs", "Ready=False naming the refused job", func(s *v1alpha1.JobSource) bool {
		c := findSourceReady(s)
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, want)
	})
	if c := findSourceReady(src); !strings.Contains(c.Message, deniedImage+" is refused here") {
		t.Errorf("Ready message %q does not say why", c.Message)
	}
	names := jobNames(t, e, ns)
	for i := range refused {
		if name := fmt.Sprintf("job-%03d", i); !slices.Contains(names, name) {
			t.Errorf("%s, before the refused job, was not applied", name)
		}
	}
	for _, name := range names {
		job := getJob(t, e, ns, name)
		if !strings.HasSuffix(job.Annotations[v1alpha1.AnnotationRevision], commit) || *job.Spec.Image != reviewedImage {
			t.Errorf("SparkJob %s: revision %q, image %s; want git's", name, job.Annotations[v1alpha1.AnnotationRevision], *job.Spec.Image)
		}
	}
	t.Logf("%d of %d jobs applied while job-%03d was refused", len(names), parallelJobs, refused)

	removePolicy()
	requestAndWait(t, e, ns, "jobs")
	waitSource(t, e, ns, "jobs", "Ready once the refusal is lifted", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit) && len(s.Status.Inventory) == parallelJobs
	})
	if n := len(jobNames(t, e, ns)); n != parallelJobs {
		t.Errorf("%d SparkJobs, want %d", n, parallelJobs)
	}
}

// suspendedJobYAML is jobYAML with spec.suspend: the tests of the apply
// start no runs.
func suspendedJobYAML(t testing.TB, name string) string {
	t.Helper()
	return strings.Replace(jobYAML(t, name), "spec:\n", "spec:\n  suspend: true\n", 1)
}

// otherSourceJob creates a suspended SparkJob that another JobSource
// applied.
func otherSourceJob(t testing.TB, e *testenv.Env, ns, name string) {
	t.Helper()
	job := piJob(t, ns, name, func(j *v1alpha1.SparkJob) {
		j.Annotations = map[string]string{reconciler.AnnotationSource: ns + "/other"}
		j.Spec.Suspend = ptr.To(true)
	})
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatal(err)
	}
}

// sourceReport is what a source reports, without its namespace (a spec
// digest covers the job's namespace: the inventory's names only).
type sourceReport struct {
	Inventory []string
	Jobs      []v1alpha1.JobFindings
	Ready     string
}

func comparable(st *v1alpha1.JobSourceStatus, ns string) sourceReport {
	var r sourceReport
	for _, ref := range st.Inventory {
		r.Inventory = append(r.Inventory, ref.Name)
	}
	for _, j := range st.Jobs {
		j = *j.DeepCopy()
		j.Namespace = strings.ReplaceAll(j.Namespace, ns, "NS")
		for i := range j.Findings {
			j.Findings[i].Message = strings.ReplaceAll(j.Findings[i].Message, ns, "NS")
		}
		r.Jobs = append(r.Jobs, j)
	}
	if c := findSourceReady(&v1alpha1.JobSource{Status: *st}); c != nil {
		r.Ready = c.Reason + ": " + strings.ReplaceAll(c.Message, ns, "NS")
	}
	return r
}
