package admission

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// fixedLevel is a --pod-security-level for every namespace.
func fixedLevel(t *testing.T, s string) func(string) *PodSecurityLevel {
	t.Helper()
	lv, err := ParsePodSecurityLevel(s)
	if err != nil {
		t.Fatal(err)
	}
	return func(string) *PodSecurityLevel { return &PodSecurityLevel{LevelVersion: lv, Source: "the namespace's"} }
}

// podSecurityLines are a verdict's pod-security findings as
// "severity field: message".
func podSecurityLines(v Verdict) []string {
	var out []string
	for _, f := range v.Findings {
		if f.Rule == RulePodSecurity {
			out = append(out, string(f.Severity)+" "+f.Field+": "+f.Message)
		}
	}
	return out
}

// TestPodSecurity judges jobs with the pod fields Pod Security looks at:
// each broken check is one finding per pod, naming the level, the check
// and its detail as the API server does.
func TestPodSecurity(t *testing.T) {
	yes, no, root := true, false, int64(0)
	const refused = "this job would be refused by the namespace's `baseline` level: "
	tests := []struct {
		name   string
		level  string
		mutate func(*v1alpha1.SparkJob)
		want   []string
	}{
		{name: "a plain job meets baseline", level: "baseline"},
		{name: "privileged judges nothing", level: "privileged", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		}},
		{name: "hostPath / mounted by the driver", level: "baseline", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
			j.Spec.Driver.VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
		}, want: []string{`error spec.driver: ` + refused + `hostPath volumes (volume "root") in the driver pod`}},
		{name: "privileged executor", level: "baseline", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Executor.SecurityContext = &corev1.SecurityContext{Privileged: &yes}
		}, want: []string{`error spec.executor: ` + refused + `privileged (container "spark-kubernetes-executor" must not set securityContext.privileged=true) in the executor pod`}},
		{name: "host network: the defaulted host ports too", level: "baseline", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.HostNetwork = &yes
		}, want: []string{
			`error spec.driver: ` + refused + `host namespaces (hostNetwork=true) in the driver pod`,
			`error spec.driver: ` + refused + `hostPort (container "spark-kubernetes-driver" uses hostPorts 4040, 7078, 7079) in the driver pod`,
		}},
		{name: "added capabilities", level: "baseline", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}
		}, want: []string{`error spec.driver: ` + refused + `non-default capabilities (container "spark-kubernetes-driver" must not include "SYS_ADMIN" in securityContext.capabilities.add) in the driver pod`}},
		{name: "a pinned restricted version: root user", level: "restricted:v1.30", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.SecurityContext = restrictedContext()
			j.Spec.Executor.SecurityContext = restrictedContext()
			j.Spec.Executor.SecurityContext.RunAsUser = &root
			j.Spec.Driver.SecurityContext.AllowPrivilegeEscalation = &no
		}, want: []string{"error spec.executor: this job would be refused by the namespace's `restricted:v1.30` level: " +
			`runAsUser=0 (container "spark-kubernetes-executor" must not set runAsUser=0) in the executor pod`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := validTestJob()
			if tt.mutate != nil {
				tt.mutate(job)
			}
			got := podSecurityLines(Job(job, Options{PodSecurity: fixedLevel(t, tt.level)}))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pod-security findings (-want +got):\n%s", diff)
			}
		})
	}
}

// restrictedContext is a container securityContext that meets restricted.
func restrictedContext() *corev1.SecurityContext {
	no, yes := false, true
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: &no, RunAsNonRoot: &yes,
		Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// TestPodSecurityExecutorConfVolume: a hostPath the executors get from
// sparkConf (spark.kubernetes.executor.volumes.hostPath.*) is in the pod
// Spark creates, so baseline refuses it though no template shows it.
func TestPodSecurityExecutorConfVolume(t *testing.T) {
	job := validTestJob()
	job.Spec.SparkConf = map[string]string{
		"spark.kubernetes.executor.volumes.hostPath.data.mount.path":   "/data",
		"spark.kubernetes.executor.volumes.hostPath.data.options.path": "/",
	}
	got := podSecurityLines(Job(job, Options{PodSecurity: fixedLevel(t, "baseline")}))
	want := []string{"error spec.executor: this job would be refused by the namespace's `baseline` level: hostPath volumes (volume \"data\") in the executor pod"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// staticPolicies are policies for the stricter-of tests.
type staticPolicies []*v1alpha1.AllocationPolicy

func (p staticPolicies) Apply(job *v1alpha1.SparkJob) (*v1alpha1.SparkJob, []v1alpha1.Finding) {
	return job.DeepCopy(), nil
}

func (p staticPolicies) Select(string) []*v1alpha1.AllocationPolicy { return p }

func policyLevel(name string, action v1alpha1.PolicyAction, level, version string) *v1alpha1.AllocationPolicy {
	return &v1alpha1.AllocationPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.AllocationPolicySpec{
		Action: action, PodSecurity: &v1alpha1.PodSecurityStandard{Level: level, Version: version}}}
}

// TestPodSecurityStricterOf: the namespace's level and the policies' —
// the stricter wins; an Audit policy's stricter level only warns.
func TestPodSecurityStricterOf(t *testing.T) {
	tests := []struct {
		name      string
		namespace string
		policies  staticPolicies
		want      []string // "severity policy: level"
	}{
		{name: "namespace only", namespace: "baseline", want: []string{"error : `baseline`"}},
		{name: "policy stricter than the namespace", namespace: "baseline",
			policies: staticPolicies{policyLevel("tight", v1alpha1.Enforce, "restricted", "")}, want: []string{"error tight: `restricted`"}},
		{name: "namespace stricter than the policy", namespace: "restricted",
			policies: staticPolicies{policyLevel("loose", v1alpha1.Enforce, "baseline", "")}, want: []string{"error : `restricted`"}},
		{name: "policy without a namespace level", policies: staticPolicies{policyLevel("p", "", "baseline", "v1.30")}, want: []string{"error p: `baseline:v1.30`"}},
		{name: "audit policy stricter: warnings", namespace: "baseline",
			policies: staticPolicies{policyLevel("watch", v1alpha1.Audit, "restricted", "")}, want: []string{"error : `baseline`", "warning watch: `restricted`"}},
	}
	yes := true
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := validTestJob()
			job.Spec.Driver.HostNetwork = &yes
			opts := Options{Policies: tt.policies}
			if tt.namespace != "" {
				opts.PodSecurity = fixedLevel(t, tt.namespace)
			}
			seen := map[string]bool{}
			var got []string
			for _, f := range Job(job, opts).Findings {
				if f.Rule != RulePodSecurity {
					continue
				}
				parts := strings.SplitN(f.Message, "`", 3)
				if k := string(f.Severity) + " " + f.Policy + ": `" + parts[1] + "`"; !seen[k] {
					seen[k] = true
					got = append(got, k)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePodSecurityLevel(t *testing.T) {
	for in, want := range map[string]string{"baseline": "baseline:latest", "restricted:v1.30": "restricted:v1.30", " privileged:latest ": "privileged:latest"} {
		lv, err := ParsePodSecurityLevel(in)
		if err != nil || lv.String() != want {
			t.Errorf("ParsePodSecurityLevel(%q) = %v, %v; want %s", in, lv, err, want)
		}
	}
	for _, in := range []string{"", "strict", "baseline:1.30", "restricted:v2"} {
		if _, err := ParsePodSecurityLevel(in); err == nil {
			t.Errorf("ParsePodSecurityLevel(%q) = nil error", in)
		}
	}
}

func TestStricter(t *testing.T) {
	l := func(level string, version psaapi.Version) *PodSecurityLevel {
		return &PodSecurityLevel{LevelVersion: psaapi.LevelVersion{Level: psaapi.Level(level), Version: version}}
	}
	v130, latest := psaapi.MajorMinorVersion(1, 30), psaapi.LatestVersion()
	tests := []struct{ a, b, want *PodSecurityLevel }{
		{l("baseline", latest), l("restricted", v130), l("restricted", v130)},
		{l("restricted", v130), l("restricted", latest), l("restricted", latest)},
		{nil, l("baseline", v130), l("baseline", v130)},
		{l("privileged", latest), nil, l("privileged", latest)},
	}
	for _, tt := range tests {
		if got := Stricter(tt.a, tt.b); got.LevelVersion != tt.want.LevelVersion {
			t.Errorf("Stricter(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestDefaultPodForPodSecurity(t *testing.T) {
	ps := &corev1.PodSpec{HostNetwork: true, Containers: []corev1.Container{{Ports: []corev1.ContainerPort{{ContainerPort: 7079}, {ContainerPort: 80, HostPort: 8080}}}}}
	defaultPodForPodSecurity(ps)
	if got := []int32{ps.Containers[0].Ports[0].HostPort, ps.Containers[0].Ports[1].HostPort}; !cmp.Equal(got, []int32{7079, 8080}) {
		t.Errorf("host ports = %v, want [7079 8080]", got)
	}
}

// TestPodSecurityPolicyMessage: a policy's level is named with the policy,
// and an Audit policy warns only of what the enforced level lets through.
func TestPodSecurityPolicyMessage(t *testing.T) {
	yes := true
	job := validTestJob()
	job.Spec.Driver.HostNetwork = &yes
	opts := Options{PodSecurity: fixedLevel(t, "baseline"), Policies: staticPolicies{policyLevel("watch", v1alpha1.Audit, "restricted", "v1.30")}}
	var warnings []string
	errors := 0
	for _, f := range Job(job, opts).Findings {
		switch {
		case f.Rule != RulePodSecurity:
		case f.Severity == v1alpha1.SeverityError:
			errors++
		default:
			warnings = append(warnings, f.Field+": "+f.Message)
		}
	}
	if errors != 2 {
		t.Errorf("%d errors, want 2 (host namespaces, hostPort)", errors)
	}
	for _, w := range warnings {
		if !strings.Contains(w, "this job would be refused by the `restricted:v1.30` level of policy 'watch': ") {
			t.Errorf("warning %q does not name the policy's level", w)
		}
		if strings.Contains(w, "host namespaces") || strings.Contains(w, "hostPort (") {
			t.Errorf("warning %q repeats an error", w)
		}
	}
	if len(warnings) == 0 {
		t.Error("no warning of the restricted checks")
	}
}
