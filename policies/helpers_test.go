package policies

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

func dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func qty(s string) *resource.Quantity {
	q := resource.MustParse(s)
	return &q
}

// testJob is a well-written Scala job: dynamic allocation 1..10 with shuffle
// tracking and bounded timeouts, a 1-core 1g driver and 2-core 2g
// executors (pods of 1408Mi and 2432Mi).
func testJob(mods ...func(*v1alpha1.SparkJob)) *v1alpha1.SparkJob {
	j := &v1alpha1.SparkJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.SparkJobKind},
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "spark-prod"},
		Spec: v1alpha1.SparkJobSpec{
			Type:                v1alpha1.ScalaApplication,
			SparkVersion:        "3.5.3",
			Image:               ptr("apache/spark:3.5.3"),
			MainClass:           ptr("org.apache.spark.examples.SparkPi"),
			MainApplicationFile: ptr("local:///opt/spark/examples/jars/spark-examples.jar"),
			Driver: v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
				Cores: ptr[int32](1), Memory: ptr("1g"),
			}},
			Executor: v1alpha1.ExecutorSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
				Cores: ptr[int32](2), Memory: ptr("2g"),
			}},
			DynamicAllocation: &v1alpha1.DynamicAllocation{
				Enabled:                   ptr(true),
				InitialExecutors:          ptr[int32](1),
				MinExecutors:              ptr[int32](1),
				MaxExecutors:              ptr[int32](10),
				ShuffleTrackingEnabled:    ptr(true),
				ShuffleTrackingTimeout:    ptr[int64](1800000),
				ExecutorIdleTimeout:       dur("60s"),
				CachedExecutorIdleTimeout: dur("15m"),
			},
		},
	}
	for _, m := range mods {
		m(j)
	}
	return j
}

// conf sets sparkConf entries.
func conf(kv ...string) func(*v1alpha1.SparkJob) {
	return func(j *v1alpha1.SparkJob) {
		if j.Spec.SparkConf == nil {
			j.Spec.SparkConf = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			j.Spec.SparkConf[kv[i]] = kv[i+1]
		}
	}
}

// da changes the job's dynamic allocation.
func da(m func(*v1alpha1.DynamicAllocation)) func(*v1alpha1.SparkJob) {
	return func(j *v1alpha1.SparkJob) {
		if j.Spec.DynamicAllocation == nil {
			j.Spec.DynamicAllocation = &v1alpha1.DynamicAllocation{}
		}
		m(j.Spec.DynamicAllocation)
	}
}

// static turns dynamic allocation off by leaving it unset.
func static(j *v1alpha1.SparkJob) { j.Spec.DynamicAllocation = nil }

func driverPod(m func(*v1alpha1.SparkPodSpec)) func(*v1alpha1.SparkJob) {
	return func(j *v1alpha1.SparkJob) { m(&j.Spec.Driver.SparkPodSpec) }
}

func executorPod(m func(*v1alpha1.SparkPodSpec)) func(*v1alpha1.SparkJob) {
	return func(j *v1alpha1.SparkJob) { m(&j.Spec.Executor.SparkPodSpec) }
}

// nodeAffinity is a required node affinity with one term per value map.
func nodeAffinity(terms ...map[string][]string) *corev1.Affinity {
	var ts []corev1.NodeSelectorTerm
	for _, t := range terms {
		var term corev1.NodeSelectorTerm
		for k, vs := range t {
			term.MatchExpressions = append(term.MatchExpressions, corev1.NodeSelectorRequirement{
				Key: k, Operator: corev1.NodeSelectorOpIn, Values: vs,
			})
		}
		ts = append(ts, term)
	}
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: ts},
	}}
}

// testPolicy is an Enforce policy named name over every namespace.
func testPolicy(name string, rules *v1alpha1.PolicyRules) v1alpha1.AllocationPolicy {
	return v1alpha1.AllocationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.AllocationPolicyKind},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.AllocationPolicySpec{Action: v1alpha1.Enforce, Rules: rules},
	}
}

func mustSet(t testing.TB, policies ...v1alpha1.AllocationPolicy) *Set {
	t.Helper()
	s, err := NewSet(policies)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

// violated is the error finding of policy "p" for one rule.
func violated(rule, field, message string) []v1alpha1.Finding {
	return []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: rule, Field: field, Message: message, Policy: "p"}}
}

// cmpIgnoreErr compares PolicyErrors without their wrapped error.
var cmpIgnoreErr = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Err" }, cmp.Ignore())
