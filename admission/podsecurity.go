package admission

import (
	"cmp"
	"fmt"
	"slices"
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
	// Source names, in a finding, whose level it is when no policy set
	// it: "the namespace's" (its pod-security.kubernetes.io/enforce label,
	// or --pod-security-level offline).
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

// PolicySelector are policies that can say which of them select a
// namespace, to read their spec.podSecurity: *policies.Set and
// *policies.Store are.
type PolicySelector interface {
	Select(namespace string) []*v1alpha1.AllocationPolicy
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

// podSecurityLevels are the levels that judge a job of namespace: the
// stricter of the namespace's and the Enforce policies' (errors), and the
// strictest Audit policy's when it is stricter still (warnings).
func podSecurityLevels(namespace string, opts Options) (enforced, audited *PodSecurityLevel) {
	if opts.PodSecurity != nil {
		enforced = opts.PodSecurity(namespace)
	}
	sel, ok := opts.Policies.(PolicySelector)
	if !ok || opts.Policies == nil {
		return enforced, nil
	}
	for _, p := range sel.Select(namespace) {
		ps := p.Spec.PodSecurity
		if ps == nil {
			continue
		}
		lv, err := ParsePodSecurityLevel(ps.Level + ":" + cmp.Or(ps.Version, "latest"))
		if err != nil {
			continue // the policy's validation refuses it
		}
		l := &PodSecurityLevel{LevelVersion: lv, Policy: p.Name}
		if p.Spec.Action == v1alpha1.Audit {
			audited = Stricter(audited, l)
		} else {
			enforced = Stricter(enforced, l)
		}
	}
	if audited != nil && Stricter(enforced, audited) != audited {
		audited = nil
	}
	if audited != nil && enforced != nil && audited.LevelVersion == enforced.LevelVersion {
		audited = nil
	}
	return enforced, audited
}

// podSecurity judges the run's pods against the levels of podSecurityLevels.
func podSecurity(objs *materialize.Objects, namespace string, opts Options) []v1alpha1.Finding {
	enforced, audited := podSecurityLevels(namespace, opts)
	out := podSecurityFindings(objs, enforced, v1alpha1.SeverityError)
	for _, w := range podSecurityFindings(objs, audited, v1alpha1.SeverityWarning) {
		if !slices.ContainsFunc(out, func(e v1alpha1.Finding) bool { return e.Field == w.Field && sameReason(e.Message, w.Message) }) {
			out = append(out, w)
		}
	}
	return out
}

// sameReason reports whether two pod-security messages name the same
// broken checks: what follows the level's description (which holds no
// ": ").
func sameReason(a, b string) bool {
	_, ra, _ := strings.Cut(a, ": ")
	_, rb, _ := strings.Cut(b, ": ")
	return ra == rb
}

// podSecurityFindings judges the driver pod and the executor pod of a run
// as the namespace's Pod Security admission will, one finding per pod and
// broken check.
func podSecurityFindings(objs *materialize.Objects, lv *PodSecurityLevel, sev v1alpha1.Severity) []v1alpha1.Finding {
	if lv == nil || lv.Level == psaapi.LevelPrivileged || objs == nil {
		return nil
	}
	ev, err := podSecurityEvaluator()
	if err != nil {
		return []v1alpha1.Finding{{Severity: sev, Rule: RulePodSecurity, Policy: lv.Policy,
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
				Severity: sev, Rule: RulePodSecurity, Field: "spec." + p.role, Policy: lv.Policy,
				Message: fmt.Sprintf("this job would be refused by %s: %s in the %s pod", lv.describe(), reason, p.role),
			})
		}
	}
	return out
}

// describe names the level in a finding: "the namespace's `baseline`
// level", "the `restricted:v1.30` level of policy 'tight'".
func (l *PodSecurityLevel) describe() string {
	level := l.LevelVersion.String()
	if l.Version.Latest() {
		level = string(l.Level)
	}
	if l.Policy != "" {
		return fmt.Sprintf("the `%s` level of policy '%s'", level, l.Policy)
	}
	return fmt.Sprintf("%s `%s` level", cmp.Or(l.Source, "the namespace's"), level)
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
