package reconciler_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/runid"
)

// TestNamespacePodSecurity: in a namespace that enforces baseline, a job
// whose driver mounts the node's / is refused with the namespace's level
// and the check in its Ready condition, starts no run, and does not keep
// a good job of the same namespace from running; relabelling the
// namespace privileged lets it run, with no change to the job.
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

	// The namespace's relabelling wakes the stalled job, which is judged
	// with the namespace's new level.
	setNamespaceLabels(t, e, ns, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
	waitJob(t, e, ns, bad.Name, "a run once the namespace is privileged", func(j *v1alpha1.SparkJob) bool { return j.Status.LastRun != nil })
}

// TestNamespaceRelabelRejudges: relabelling a namespace judges its jobs
// again, with no change to them. Labelled restricted, a job that ran in
// it as privileged is Ready=False with the pod-security finding, and a job
// whose run is running keeps its driver; labelled privileged again, both
// are Ready as before, and the relabels start no run: each job already
// ran for its spec.
func TestNamespaceRelabelRejudges(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	startLoop(t, e, reconciler.JobOptions{}, ns)
	done, active := piJob(t, ns, "done"), piJob(t, ns, "active")
	for _, j := range []*v1alpha1.SparkJob{done, active} {
		if err := e.Client.Create(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	run := lastRunIn(t, e, ns, done.Name, v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(run.Name), succeeded)
	waitJob(t, e, ns, done.Name, "Ready=True RunSucceeded", func(j *v1alpha1.SparkJob) bool {
		return readyIs(j, metav1.ConditionTrue, reconciler.ReasonRunSucceeded)
	})
	activeRun := lastRunIn(t, e, ns, active.Name, v1alpha1.RunPending)
	setPodStatus(t, e, ns, runid.DriverPodName(activeRun.Name), running)
	lastRunIn(t, e, ns, active.Name, v1alpha1.RunRunning)

	setNamespaceLabels(t, e, ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	for _, name := range []string{done.Name, active.Name} {
		got := waitJob(t, e, ns, name, "Ready=False pod-security", func(j *v1alpha1.SparkJob) bool {
			return readyIs(j, metav1.ConditionFalse, reconciler.ReasonValidationFailed)
		})
		c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		if want := "this job would be refused by the namespace's `restricted` level"; !strings.Contains(c.Message, want) || !strings.Contains(c.Message, "(rule 'pod-security')") {
			t.Errorf("%s: Ready message %q does not contain %q and the rule", name, c.Message, want)
		}
	}
	// Refused, the active job's run goes on: its driver stays and its
	// end is still followed.
	assertDriversStay(t, e, ns, active.Name, 1)
	setPodStatus(t, e, ns, runid.DriverPodName(activeRun.Name), succeeded)
	if got := lastRunIn(t, e, ns, active.Name, v1alpha1.RunSucceeded); got.Name != activeRun.Name {
		t.Errorf("last run %s, want %s", got.Name, activeRun.Name)
	}

	setNamespaceLabels(t, e, ns, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
	for _, name := range []string{done.Name, active.Name} {
		waitJob(t, e, ns, name, "Ready=True RunSucceeded again", func(j *v1alpha1.SparkJob) bool {
			return readyIs(j, metav1.ConditionTrue, reconciler.ReasonRunSucceeded)
		})
	}
	assertDriversStay(t, e, ns, done.Name, 1)
	assertDriversStay(t, e, ns, active.Name, 1)
	if got := getJob(t, e, ns, done.Name).Status.LastRun; got == nil || got.Name != run.Name {
		t.Errorf("last run %v, want %s: a relabel starts no run", got, run.Name)
	}
}

// readyIs reports the job's Ready condition, about its generation.
func readyIs(j *v1alpha1.SparkJob, status metav1.ConditionStatus, reason string) bool {
	c := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
	return c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == j.Generation
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

// TestSourcePodSecurity: the source loop judges each job's pods against
// its target namespace's enforced level: a job with a hostPath volume of
// / is reported on the JobSource with the check and its file, and not
// applied; the other job of the commit is.
func TestSourcePodSecurity(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	setNamespaceLabels(t, e, ns, map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.36"})
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/root.yaml", jobFile(t, piJob(t, "", "root", func(j *v1alpha1.SparkJob) {
		j.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		j.Spec.Driver.VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
	})))
	restricted := piJob(t, "", "fine", func(j *v1alpha1.SparkJob) {
		no, yes := false, true
		sc := &corev1.SecurityContext{AllowPrivilegeEscalation: &no, RunAsNonRoot: &yes,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		j.Spec.Driver.SecurityContext, j.Spec.Executor.SecurityContext = sc, sc
	})
	repo.WriteFile(t, "jobs/fine.yaml", jobFile(t, restricted))
	commit := repo.CommitAndPush(t, "a job that mounts the node's / and one that meets restricted")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	startSourceLoop(t, e, reconciler.SourceOptions{}, ns)
	newSource(t, e, ns, "jobs", srv.URL(""), func(s *v1alpha1.JobSource) { s.Spec.Path = "jobs" })
	src := waitSource(t, e, ns, "jobs", "Ready=True JobsRejected", func(s *v1alpha1.JobSource) bool {
		return sourceReady(s, metav1.ConditionTrue, reconciler.ReasonJobsRejected, commit)
	})
	if got := jobNames(t, e, ns); !slices.Equal(got, []string{"fine"}) {
		t.Errorf("SparkJobs %v, want [fine]", got)
	}
	var found []string
	for _, j := range src.Status.Jobs {
		for _, f := range j.Findings {
			if f.Rule == admission.RulePodSecurity {
				found = append(found, j.Name+" "+j.Source+" "+f.Field+": "+f.Message)
			}
		}
	}
	want := "root jobs/root.yaml spec.driver: this job would be refused by the namespace's `restricted:v1.36` level: "
	if len(found) == 0 || !strings.HasPrefix(found[0], want) || !slices.ContainsFunc(found, func(s string) bool {
		return strings.Contains(s, `volume "root" uses restricted volume type "hostPath"`)
	}) {
		t.Errorf("pod-security findings %q, want the driver's hostPath under %q", found, want)
	}
	// Relabelled privileged, the namespace takes the refused job at the
	// same commit: the relabel woke the source.
	setNamespaceLabels(t, e, ns, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
	eventually(t, "the root job applied once the namespace is privileged", func() (bool, string) {
		got := jobNames(t, e, ns)
		return slices.Equal(got, []string{"fine", "root"}), fmt.Sprintf("SparkJobs %v", got)
	})
}

// jobFile is a job as a file of the jobs repository.
func jobFile(t *testing.T, job *v1alpha1.SparkJob) string {
	t.Helper()
	job.Namespace = ""
	job.APIVersion, job.Kind = v1alpha1.GroupVersion.String(), v1alpha1.SparkJobKind
	b, err := yaml.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
