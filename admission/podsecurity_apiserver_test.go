package admission

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/render/build"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

// podSecurityVersion pins the namespaces' enforce-version to the test
// control plane's minor, so both sides run the same checks (a later
// pod-security-admission module knows later versions' checks too).
const podSecurityVersion = "v1.36"

// TestPodSecurityMatchesAPIServer renders every job of the Spark Operator
// corpus and a set of bad jobs (hostPath /, privileged, hostNetwork, root
// user, added capabilities) to their driver pod and executor pod, creates
// each with dry-run=server in a namespace that enforces baseline and one
// that enforces restricted, and checks that sparkcd's pod-security check
// refuses exactly the pods the API server's Pod Security admission
// refuses, naming the same checks with the same details.
func TestPodSecurityMatchesAPIServer(t *testing.T) {
	e := env.Env(t)
	namespaces := map[string]string{}
	for _, level := range []string{"baseline", "restricted"} {
		ns := e.Namespace(t)
		patch := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"` + level + `","pod-security.kubernetes.io/enforce-version":"` + podSecurityVersion + `"}}}`)
		if _, err := e.Clientset.CoreV1().Namespaces().Patch(t.Context(), ns, "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		namespaces[level] = ns
	}
	jobs := append(corpusJobs(t), badPodJobs()...)
	refused, compared := 0, 0
	refusedAt := map[string]bool{}
	for _, job := range jobs {
		for level, ns := range namespaces {
			t.Run(job.Name+"/"+level, func(t *testing.T) {
				lv := namespaceLevel(t, e, ns)
				j := job.DeepCopy()
				j.Namespace = ns
				v := Job(j, Options{PodSecurity: func(string) *PodSecurityLevel { return lv }})
				if v.Job == nil || hasOtherErrors(v.Findings) {
					return // refused before its pods exist: nothing to compare
				}
				objs, err := materialize.Materialize(v.Job, runid.OfflineRun(v.Job, ""), materialize.DefaultOptions())
				if err != nil {
					t.Fatal(err)
				}
				ours := podSecurityReasons(podSecurityFindings(objs, lv, v1alpha1.SeverityError))
				for role, pod := range map[string]*corev1.Pod{"driver": objs.Pod, "executor": objs.Executor} {
					theirs := dryRunCreate(t, e.Clientset, pod)
					want := ""
					if r := ours[role]; len(r) > 0 {
						want = `violates PodSecurity "` + lv.String() + `": ` + strings.Join(r, ", ")
						refused++
						refusedAt[job.Name+"/"+level] = true
					}
					compared++
					if theirs != want {
						t.Errorf("%s pod:\n  API server: %q\n  sparkcd:    %q", role, theirs, want)
					}
				}
			})
		}
	}
	t.Logf("compared %d pods of %d jobs, %d refused", compared, len(jobs), refused)
	for name, want := range map[string][2]bool{ // refused at baseline, at restricted
		"host-path-root": {true, true}, "privileged": {true, true}, "host-network": {true, true},
		"capabilities": {true, true}, "executor-conf-host-path": {true, true},
		"run-as-root": {false, true}, "restricted-ok": {false, false},
	} {
		if got := [2]bool{refusedAt[name+"/baseline"], refusedAt[name+"/restricted"]}; got != want {
			t.Errorf("job %s refused at baseline, restricted = %v, want %v", name, got, want)
		}
	}
	if refused == 0 || compared < 2*len(namespaces)*10 {
		t.Errorf("compared %d pods, %d refused: the cases test too little", compared, refused)
	}
}

// namespaceLevel reads the namespace's labels as the API server does.
func namespaceLevel(t *testing.T, e *testenv.Env, name string) *PodSecurityLevel {
	t.Helper()
	ns, err := e.Clientset.CoreV1().Namespaces().Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, errs := psaapi.PolicyToEvaluate(ns.Labels, psaapi.Policy{})
	if len(errs) > 0 {
		t.Fatal(errs.ToAggregate())
	}
	return &PodSecurityLevel{LevelVersion: p.Enforce, Source: "the namespace's"}
}

// hasOtherErrors reports an error finding of another rule than
// pod-security.
func hasOtherErrors(fs []v1alpha1.Finding) bool {
	for _, f := range fs {
		if f.Severity == v1alpha1.SeverityError && f.Rule != RulePodSecurity {
			return true
		}
	}
	return false
}

// podSecurityReasons are each pod's broken checks, "reason (detail)", in
// the evaluator's order, from the findings' messages.
func podSecurityReasons(fs []v1alpha1.Finding) map[string][]string {
	out := map[string][]string{}
	for _, f := range fs {
		role := strings.TrimPrefix(f.Field, "spec.")
		_, reason, _ := strings.Cut(f.Message, ": ")
		out[role] = append(out[role], strings.TrimSuffix(reason, " in the "+role+" pod"))
	}
	return out
}

// dryRunCreate creates the pod with dry-run=server and returns the Pod
// Security part of the refusal, or "" when the pod is accepted. A pod the
// API server finds invalid fails the test: its job was admitted by
// sparkcd (the caller compares admitted jobs only), and the API server
// would refuse its pod before Pod Security sees it. Any other refusal
// fails the test too: the comparison must be of Pod Security alone.
func dryRunCreate(t *testing.T, cs kubernetes.Interface, pod *corev1.Pod) string {
	t.Helper()
	if pc := pod.Spec.PriorityClassName; pc != "" {
		_, err := cs.SchedulingV1().PriorityClasses().Create(t.Context(), &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: pc}, Value: 1000}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	_, err := cs.CoreV1().Pods(pod.Namespace).Create(t.Context(), pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err == nil {
		return ""
	}
	if apierrors.IsInvalid(err) {
		t.Fatalf("sparkcd admits the job of pod '%s', which the API server finds invalid: %v", pod.Name, err)
	}
	_, msg, ok := strings.Cut(err.Error(), "is forbidden: ")
	if !ok || !apierrors.IsForbidden(err) || !strings.HasPrefix(msg, "violates PodSecurity") {
		t.Fatalf("creating pod '%s': %v", pod.Name, err)
	}
	return msg
}

// corpusJobs are the jobs of the Spark Operator corpus (test/corpus).
func corpusJobs(t *testing.T) []*v1alpha1.SparkJob {
	t.Helper()
	root, err := filepath.Abs("../test/corpus/operator")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files in %s: %v", root, err)
	}
	var out []*v1alpha1.SparkJob
	for _, f := range files {
		res, err := build.Build(t.Context(), root, filepath.Base(f), build.DefaultBuildOptions())
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i := range res.Jobs {
			if j := res.Jobs[i].Object; j != nil {
				j = j.DeepCopy()
				j.Name = fmt.Sprintf("corpus-%02d", len(out))
				t.Logf("%s is %s", j.Name, filepath.Base(f))
				out = append(out, j)
			}
		}
	}
	return out
}

// badPodJobs are jobs whose pods Pod Security refuses at baseline or at
// restricted only, and one that meets restricted.
func badPodJobs() []*v1alpha1.SparkJob {
	yes, root := true, int64(0)
	job := func(name string, mutate func(*v1alpha1.SparkJob)) *v1alpha1.SparkJob {
		j := validTestJob()
		j.Name = name
		mutate(j)
		return j
	}
	return []*v1alpha1.SparkJob{
		job("host-path-root", func(j *v1alpha1.SparkJob) {
			j.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
			j.Spec.Driver.VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
			j.Spec.Executor.VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
		}),
		job("privileged", func(j *v1alpha1.SparkJob) {
			j.Spec.Executor.SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		}),
		job("host-network", func(j *v1alpha1.SparkJob) { j.Spec.Driver.HostNetwork = &yes; j.Spec.Executor.HostNetwork = &yes }),
		job("run-as-root", func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.SecurityContext, j.Spec.Executor.SecurityContext = restrictedContext(), restrictedContext()
			j.Spec.Driver.SecurityContext.RunAsUser = &root
			j.Spec.Executor.PodSecurityContext = &corev1.PodSecurityContext{RunAsUser: &root}
		}),
		job("capabilities", func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "NET_BIND_SERVICE"}}}
			j.Spec.Executor.SecurityContext = restrictedContext()
			j.Spec.Executor.SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"}
		}),
		job("executor-conf-host-path", func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{
				"spark.kubernetes.executor.volumes.hostPath.data.mount.path":   "/data",
				"spark.kubernetes.executor.volumes.hostPath.data.options.path": "/var/lib",
			}
		}),
		job("restricted-ok", func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.SecurityContext, j.Spec.Executor.SecurityContext = restrictedContext(), restrictedContext()
		}),
	}
}
