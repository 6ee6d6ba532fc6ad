package policies

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestPodRules: each pod rule, met and broken, in each place a job can
// ask for it.
func TestPodRules(t *testing.T) {
	hostPath := v1alpha1.PolicyRules{Pods: &v1alpha1.PodRules{ForbidHostPath: true}}
	hostNet := v1alpha1.PolicyRules{Pods: &v1alpha1.PodRules{ForbidHostNetwork: true}}
	priv := v1alpha1.PolicyRules{Pods: &v1alpha1.PodRules{ForbidPrivileged: true}}
	registries := v1alpha1.PolicyRules{Pods: &v1alpha1.PodRules{AllowedImageRegistries: []string{"docker.io/apache", "ghcr.io/acme/"}}}
	root := corev1.Volume{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}
	tmp := corev1.Volume{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	privileged := &corev1.SecurityContext{Privileged: ptr(true)}
	const allowed = "allowed registries are 'docker.io/apache', 'ghcr.io/acme/'"
	runRuleCases(t, []ruleCase{
		{name: "host-path-forbidden met by an emptyDir", rules: hostPath, job: testJob(func(j *v1alpha1.SparkJob) { j.Spec.Volumes = []corev1.Volume{tmp} })},
		{name: "host-path-forbidden broken by spec.volumes", rules: hostPath,
			job:  testJob(func(j *v1alpha1.SparkJob) { j.Spec.Volumes = []corev1.Volume{tmp, root} }),
			want: violated(RuleHostPathForbidden, "spec.volumes[1].hostPath", "volume 'root' mounts the node's path '/': hostPath volumes are forbidden")},
		{name: "host-path-forbidden broken by a template volume", rules: hostPath,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) {
				p.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Volumes: []corev1.Volume{root}}}
			})),
			want: violated(RuleHostPathForbidden, "spec.executor.template.spec.volumes[0].hostPath", "volume 'root' mounts the node's path '/': hostPath volumes are forbidden")},
		{name: "host-network-forbidden met by hostNetwork: false", rules: hostNet, job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.HostNetwork = ptr(false) }))},
		{name: "host-network-forbidden broken by the driver", rules: hostNet, job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.HostNetwork = ptr(true) })),
			want: violated(RuleHostNetworkForbidden, "spec.driver.hostNetwork", "the driver asks for the node's network (hostNetwork: true): host networking is forbidden")},
		{name: "host-network-forbidden broken by the executors' template", rules: hostNet,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) {
				p.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{HostNetwork: true}}
			})),
			want: violated(RuleHostNetworkForbidden, "spec.executor.template.spec.hostNetwork", "the executor's pod template asks for the node's network (hostNetwork: true): host networking is forbidden")},
		{name: "privileged-forbidden met by privileged: false", rules: priv,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.SecurityContext = &corev1.SecurityContext{Privileged: ptr(false)} }))},
		{name: "privileged-forbidden broken by the executor container", rules: priv,
			job:  testJob(executorPod(func(p *v1alpha1.SparkPodSpec) { p.SecurityContext = privileged })),
			want: violated(RulePrivilegedForbidden, "spec.executor.securityContext.privileged", "the executor container is privileged: privileged containers are forbidden")},
		{name: "privileged-forbidden broken by an init container", rules: priv,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) {
				p.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox", SecurityContext: privileged}}
			})),
			want: violated(RulePrivilegedForbidden, "spec.driver.initContainers[0].securityContext.privileged", "container 'setup' is privileged: privileged containers are forbidden")},
		{name: "privileged-forbidden broken by a template container", rules: priv,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) {
				p.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "spark-kubernetes-driver", SecurityContext: privileged}}}}
			})),
			want: violated(RulePrivilegedForbidden, "spec.driver.template.spec.containers[0].securityContext.privileged", "container 'spark-kubernetes-driver' is privileged: privileged containers are forbidden")},
		{name: "image-registry met by Docker Hub's apache/ and a path prefix", rules: registries,
			job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) {
				p.Image = ptr("ghcr.io/acme/spark:3.5.3@sha256:" + strings.Repeat("a", 64))
				p.Sidecars = []corev1.Container{{Name: "s", Image: "docker.io/apache/fluent-bit:1"}}
			}))},
		{name: "image-registry broken by the job's image", rules: registries, job: testJob(func(j *v1alpha1.SparkJob) { j.Spec.Image = ptr("evil.example.org/spark:1") }),
			want: violated(RuleImageRegistry, "spec.image", "image 'evil.example.org/spark:1' comes from registry 'evil.example.org': "+allowed)},
		{name: "image-registry: a prefix is a path, not a string prefix", rules: registries,
			job:  testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.Image = ptr("ghcr.io/acmecorp/spark:1") })),
			want: violated(RuleImageRegistry, "spec.driver.image", "image 'ghcr.io/acmecorp/spark:1' comes from registry 'ghcr.io': "+allowed)},
		{name: "image-registry: a bare name is docker.io/library", rules: registries,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) {
				p.Sidecars = []corev1.Container{{Name: "log", Image: "busybox:1.36"}}
			})),
			want: violated(RuleImageRegistry, "spec.driver.sidecars[0].image", "image 'busybox:1.36' comes from registry 'docker.io': "+allowed)},
		{name: "image-registry broken by a sparkConf image key", rules: registries,
			job:  testJob(conf("spark.kubernetes.executor.container.image", "quay.io/x/spark:1")),
			want: violated(RuleImageRegistry, "spec.sparkConf[spark.kubernetes.executor.container.image]", "image 'quay.io/x/spark:1' comes from registry 'quay.io': "+allowed)},
		{name: "image-registry broken by no reference", rules: registries,
			job:  testJob(func(j *v1alpha1.SparkJob) { j.Spec.Image = ptr("Not An Image") }),
			want: violated(RuleImageRegistry, "spec.image", "image 'Not An Image' is no image reference (invalid reference format: repository name (library/Not An Image) must be lowercase): "+allowed)},
	})
}

// TestPodRulesValidation: a policy's bad podSecurity and registries are
// refused at load, naming the field.
func TestPodRulesValidation(t *testing.T) {
	p := testPolicy("p", &v1alpha1.PolicyRules{Pods: &v1alpha1.PodRules{AllowedImageRegistries: []string{"", "acme", "ghcr.io/acme", "localhost:5000"}}})
	p.Spec.PodSecurity = &v1alpha1.PodSecurityStandard{Level: "strict", Version: "1.30"}
	var got []string
	for _, e := range validatePolicy(&p) {
		got = append(got, e.Error())
	}
	want := []string{
		"policy 'p': field 'spec.rules.pods.allowedImageRegistries[0]': invalid value: an empty registry allows nothing",
		"policy 'p': field 'spec.rules.pods.allowedImageRegistries[1]': invalid value: 'acme' does not start with a registry host (such as 'ghcr.io' or 'docker.io/acme')",
		"policy 'p': field 'spec.podSecurity.level': invalid value: 'strict' is not privileged, baseline or restricted",
		"policy 'p': field 'spec.podSecurity.version': invalid value: '1.30' is neither 'latest' nor 'v1.N'",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("validation:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
