package policies

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

const (
	lifecycle = "node.kubernetes.io/lifecycle"
	zone      = "topology.kubernetes.io/zone"
)

// pinned places the driver on on-demand nodes and the executors on spot
// nodes, both in zone a, by nodeSelector.
func pinned(j *v1alpha1.SparkJob) {
	j.Spec.Driver.NodeSelector = map[string]string{lifecycle: "on-demand", zone: "eu-west-3a"}
	j.Spec.Executor.NodeSelector = map[string]string{lifecycle: "spot", zone: "eu-west-3a"}
}

// followDriver gives the executors a required podAffinity to a selector.
func followDriver(sel map[string]string, topology string) func(*v1alpha1.SparkJob) {
	return func(j *v1alpha1.SparkJob) {
		j.Spec.Executor.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: sel},
				TopologyKey:   topology,
			}},
		}}
	}
}

// nodePlacementCases: the node labels the driver and the executors must
// require.
func nodePlacementCases() []ruleCase {
	driverRule := v1alpha1.PolicyRules{Placement: &v1alpha1.PlacementRules{
		Driver: &v1alpha1.PodPlacementRule{RequiredNodeLabels: map[string]string{lifecycle: "on-demand"}},
	}}
	executorRule := v1alpha1.PolicyRules{Placement: &v1alpha1.PlacementRules{
		Executor: &v1alpha1.PodPlacementRule{RequiredNodeLabels: map[string]string{lifecycle: "spot"}},
	}}
	return []ruleCase{
		{name: "driver-placement met by nodeSelector", rules: driverRule, job: testJob(pinned)},
		{name: "driver-placement met by spec.nodeSelector", rules: driverRule,
			job: testJob(func(j *v1alpha1.SparkJob) { j.Spec.NodeSelector = map[string]string{lifecycle: "on-demand"} })},
		{name: "driver-placement met by every affinity term", rules: driverRule,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) {
				p.Affinity = nodeAffinity(
					map[string][]string{lifecycle: {"on-demand"}, zone: {"eu-west-3a"}},
					map[string][]string{lifecycle: {"on-demand"}, zone: {"eu-west-3b"}})
			}))},
		{name: "driver-placement broken when unset", rules: driverRule, job: testJob(),
			want: violated(RuleDriverPlacement, `spec.driver.nodeSelector["node.kubernetes.io/lifecycle"]`,
				`driver placement does not require node.kubernetes.io/lifecycle=on-demand (by nodeSelector or required node affinity), policy "p" requires it`)},
		{name: "driver-placement broken by another value", rules: driverRule,
			job: testJob(pinned, driverPod(func(p *v1alpha1.SparkPodSpec) { p.NodeSelector[lifecycle] = "spot" })),
			want: violated(RuleDriverPlacement, `spec.driver.nodeSelector["node.kubernetes.io/lifecycle"]`,
				`driver placement requires node.kubernetes.io/lifecycle=spot, policy "p" requires node.kubernetes.io/lifecycle=on-demand`)},
		{name: "driver-placement broken by an affinity term without the label", rules: driverRule,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) {
				p.Affinity = nodeAffinity(
					map[string][]string{lifecycle: {"on-demand"}},
					map[string][]string{zone: {"eu-west-3b"}})
			})),
			want: violated(RuleDriverPlacement, `spec.driver.nodeSelector["node.kubernetes.io/lifecycle"]`,
				`driver placement does not require node.kubernetes.io/lifecycle=on-demand (by nodeSelector or required node affinity), policy "p" requires it`)},
		{name: "driver-placement broken by an affinity allowing two values", rules: driverRule,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) {
				p.Affinity = nodeAffinity(map[string][]string{lifecycle: {"on-demand", "spot"}})
			})),
			want: violated(RuleDriverPlacement, `spec.driver.nodeSelector["node.kubernetes.io/lifecycle"]`,
				`driver placement does not require node.kubernetes.io/lifecycle=on-demand (by nodeSelector or required node affinity), policy "p" requires it`)},
		{name: "driver-placement broken by an affinity to another value", rules: driverRule,
			job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) {
				p.Affinity = nodeAffinity(map[string][]string{lifecycle: {"spot"}})
			})),
			want: violated(RuleDriverPlacement, "spec.driver.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
				`driver placement requires node.kubernetes.io/lifecycle=spot, policy "p" requires node.kubernetes.io/lifecycle=on-demand`)},

		{name: "executor-placement met", rules: executorRule, job: testJob(pinned)},
		{name: "executor-placement broken by spec.nodeSelector", rules: executorRule,
			job: testJob(func(j *v1alpha1.SparkJob) { j.Spec.NodeSelector = map[string]string{lifecycle: "on-demand"} }),
			want: violated(RuleExecutorPlacement, `spec.nodeSelector["node.kubernetes.io/lifecycle"]`,
				`executor placement requires node.kubernetes.io/lifecycle=on-demand, policy "p" requires node.kubernetes.io/lifecycle=spot`)},
		{name: "executor-placement broken when unset", rules: executorRule, job: testJob(),
			want: violated(RuleExecutorPlacement, `spec.executor.nodeSelector["node.kubernetes.io/lifecycle"]`,
				`executor placement does not require node.kubernetes.io/lifecycle=spot (by nodeSelector or required node affinity), policy "p" requires it`)},
	}
}

// sameZoneCases: executors in the driver's zone, by nodeSelector, node
// affinity or a podAffinity to their own driver.
func sameZoneCases() []ruleCase {
	sameZone := v1alpha1.PolicyRules{Placement: &v1alpha1.PlacementRules{
		Executor: &v1alpha1.PodPlacementRule{SameZoneAsDriver: true},
	}}
	ownDriver := map[string]string{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver, v1alpha1.LabelJob: "pi"}
	return []ruleCase{
		{name: "same-zone met by one pinned zone", rules: sameZone, job: testJob(pinned)},
		{name: "same-zone met by affinity and nodeSelector", rules: sameZone,
			job: testJob(pinned, driverPod(func(p *v1alpha1.SparkPodSpec) {
				delete(p.NodeSelector, zone)
				p.Affinity = nodeAffinity(map[string][]string{zone: {"eu-west-3a"}})
			}))},
		{name: "same-zone met by a podAffinity to the driver", rules: sameZone,
			job: testJob(followDriver(ownDriver, zone))},
		{name: "same-zone broken by two zones", rules: sameZone,
			job: testJob(pinned, executorPod(func(p *v1alpha1.SparkPodSpec) { p.NodeSelector[zone] = "eu-west-3b" })),
			want: violated(RuleSameZone, `spec.executor.nodeSelector["topology.kubernetes.io/zone"]`,
				`executors are pinned to topology.kubernetes.io/zone=eu-west-3b and the driver to topology.kubernetes.io/zone=eu-west-3a, policy "p" requires one zone`)},
		{name: "same-zone broken by unpinned executors", rules: sameZone,
			job: testJob(pinned, executorPod(func(p *v1alpha1.SparkPodSpec) { delete(p.NodeSelector, zone) })),
			want: violated(RuleSameZone, `spec.executor.nodeSelector["topology.kubernetes.io/zone"]`,
				`executors are not pinned to the driver's zone topology.kubernetes.io/zone=eu-west-3a (nor have a required podAffinity to the driver), policy "p" requires it`)},
		{name: "same-zone broken by an unpinned driver", rules: sameZone,
			job: testJob(pinned, driverPod(func(p *v1alpha1.SparkPodSpec) { delete(p.NodeSelector, zone) })),
			want: violated(RuleSameZone, `spec.driver.nodeSelector["topology.kubernetes.io/zone"]`,
				`the driver is not pinned to the executors' zone topology.kubernetes.io/zone=eu-west-3a, policy "p" requires one zone`)},
		{name: "same-zone broken when nothing is pinned", rules: sameZone, job: testJob(),
			want: violated(RuleSameZone, `spec.executor.nodeSelector["topology.kubernetes.io/zone"]`,
				`neither the driver nor the executors are pinned to a zone (topology.kubernetes.io/zone), and executors have no required podAffinity to the driver, policy "p" requires one zone`)},
		{name: "same-zone broken by a podAffinity to any driver", rules: sameZone,
			job: testJob(followDriver(map[string]string{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}, zone)),
			want: violated(RuleSameZone, `spec.executor.nodeSelector["topology.kubernetes.io/zone"]`,
				`neither the driver nor the executors are pinned to a zone (topology.kubernetes.io/zone), and executors have no required podAffinity to the driver, policy "p" requires one zone`)},
		{name: "same-zone broken by a podAffinity over hosts", rules: sameZone,
			job: testJob(followDriver(ownDriver, corev1.LabelHostname)),
			want: violated(RuleSameZone, `spec.executor.nodeSelector["topology.kubernetes.io/zone"]`,
				`neither the driver nor the executors are pinned to a zone (topology.kubernetes.io/zone), and executors have no required podAffinity to the driver, policy "p" requires one zone`)},
		{name: "same-zone broken by a podAffinity matching the executors too", rules: sameZone,
			job: testJob(followDriver(map[string]string{v1alpha1.LabelJob: "pi"}, zone)),
			want: violated(RuleSameZone, `spec.executor.nodeSelector["topology.kubernetes.io/zone"]`,
				`neither the driver nor the executors are pinned to a zone (topology.kubernetes.io/zone), and executors have no required podAffinity to the driver, policy "p" requires one zone`)},
	}
}

func TestPlacementRules(t *testing.T) {
	runRuleCases(t, slices.Concat(
		nodePlacementCases(),
		sameZoneCases(),
	))
}
