package admission

import (
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// RulePodSecurity: the driver pod or an executor pod of the job would be
// refused by the Pod Security Standards level its namespace enforces (or a
// policy sets).
const RulePodSecurity = "pod-security"

// PodSecurityLevel is a Pod Security Standards level and version that
// judges a namespace's pods, and who set it.
type PodSecurityLevel struct {
	psaapi.LevelVersion
	// Source names who set it in a finding: "the namespace's" (its
	// pod-security.kubernetes.io/enforce label, or --pod-security-level
	// offline) or "policy 'name''s".
	Source string
	// Policy is the AllocationPolicy that set it, if one did.
	Policy string
}

// ParsePodSecurityLevel reads "LEVEL" or "LEVEL:VERSION", such as
// "baseline" or "restricted:v1.36"; the version defaults to latest, as a
// namespace without the enforce-version label has it.
func ParsePodSecurityLevel(s string) (psaapi.LevelVersion, error) {
	level, version, _ := strings.Cut(strings.TrimSpace(s), ":")
	var lv psaapi.LevelVersion
	l, err := psaapi.ParseLevel(level)
	if err != nil {
		return lv, fmt.Errorf("pod security level '%s' is not privileged, baseline or restricted", level)
	}
	v := psaapi.LatestVersion()
	if version != "" {
		if v, err = psaapi.ParseVersion(version); err != nil {
			return lv, fmt.Errorf("pod security version '%s' is not 'latest' or 'v1.N'", version)
		}
	}
	return psaapi.LevelVersion{Level: l, Version: v}, nil
}

// Stricter is the stricter of two levels: the higher level, and of two
// versions of one level the later (a later version only adds checks).
// A nil level is none.
func Stricter(a, b *PodSecurityLevel) *PodSecurityLevel {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	if c := psaapi.CompareLevels(a.Level, b.Level); c != 0 {
		if c > 0 {
			return a
		}
		return b
	}
	if a.Version.Older(b.Version) {
		return b
	}
	return a
}

// PodSecurityPolicies are policies that may set a Pod Security level for a
// namespace (AllocationPolicy spec.podSecurity); *policies.Set and the
// cluster's live set are.
type PodSecurityPolicies interface {
	PodSecurity(namespace string) *PodSecurityLevel
}

var (
	evaluatorOnce sync.Once
	evaluator     psapolicy.Evaluator
	evaluatorErr  error
)

// podSecurityEvaluator is Kubernetes' own Pod Security evaluator, with
// every check the API server runs.
func podSecurityEvaluator() (psapolicy.Evaluator, error) {
	evaluatorOnce.Do(func() { evaluator, evaluatorErr = psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil) })
	return evaluator, evaluatorErr
}

// podSecurityLevel is the level that judges the job: the stricter of the
// namespace's and the policies'.
func podSecurityLevel(namespace string, opts Options) *PodSecurityLevel {
	var lv *PodSecurityLevel
	if opts.PodSecurity != nil {
		lv = opts.PodSecurity(namespace)
	}
	if p, ok := opts.Policies.(PodSecurityPolicies); ok && opts.Policies != nil {
		lv = Stricter(lv, p.PodSecurity(namespace))
	}
	return lv
}

// podSecurityFindings judges the driver pod and the executor pod of a run
// as the namespace's Pod Security admission will, one finding per pod and
// broken check.
func podSecurityFindings(objs *materialize.Objects, lv *PodSecurityLevel) []v1alpha1.Finding {
	if lv == nil || lv.Level == psaapi.LevelPrivileged || objs == nil {
		return nil
	}
	ev, err := podSecurityEvaluator()
	if err != nil {
		return []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RulePodSecurity, Policy: lv.Policy,
			Message: "unable to judge the pods against Pod Security: " + err.Error()}}
	}
	var out []v1alpha1.Finding
	for _, p := range []struct {
		role string
		pod  *corev1.Pod
	}{{"driver", objs.Pod}, {"executor", objs.Executor}} {
		if p.pod == nil {
			continue
		}
		pod := p.pod.DeepCopy()
		defaultPodForPodSecurity(&pod.Spec)
		for _, r := range ev.EvaluatePod(lv.LevelVersion, &pod.ObjectMeta, &pod.Spec) {
			if r.Allowed {
				continue
			}
			reason := r.ForbiddenReason
			if r.ForbiddenDetail != "" {
				reason += " (" + r.ForbiddenDetail + ")"
			}
			out = append(out, v1alpha1.Finding{
				Severity: v1alpha1.SeverityError, Rule: RulePodSecurity, Field: "spec." + p.role, Policy: lv.Policy,
				Message: fmt.Sprintf("this job would be refused by %s `%s` level: %s in the %s pod", lv.Source, levelString(lv.LevelVersion), reason, p.role),
			})
		}
	}
	return out
}

// levelString is "baseline", or "baseline:v1.30" for a pinned version.
func levelString(lv psaapi.LevelVersion) string {
	if lv.Version.Latest() {
		return string(lv.Level)
	}
	return lv.String()
}

// defaultPodForPodSecurity sets what the API server defaults before Pod
// Security admission sees a pod and that its checks read: a host-network
// pod's container ports get hostPort = containerPort (SetDefaults_PodSpec).
func defaultPodForPodSecurity(ps *corev1.PodSpec) {
	if !ps.HostNetwork {
		return
	}
	for _, cs := range [][]corev1.Container{ps.InitContainers, ps.Containers} {
		for i := range cs {
			for j := range cs[i].Ports {
				if cs[i].Ports[j].HostPort == 0 {
					cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
				}
			}
		}
	}
}
