package policies

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The example jobs of jobs/examples, as their base files and overlays make
// them: the example policies must admit the prod overlay cleanly and warn
// about the dev overlay exactly as docs/policies.md says.

func exampleSparkPi() *v1alpha1.SparkJob {
	return &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "spark-pi"},
		Spec: v1alpha1.SparkJobSpec{
			Type: v1alpha1.ScalaApplication, SparkVersion: "3.5.3", Image: ptr("apache/spark:3.5.3"),
			MainClass:           ptr("org.apache.spark.examples.SparkPi"),
			MainApplicationFile: ptr("local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar"),
			Driver:              v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{Cores: ptr[int32](1), Memory: ptr("1g")}},
			Executor: v1alpha1.ExecutorSpec{Instances: ptr[int32](2),
				SparkPodSpec: v1alpha1.SparkPodSpec{Cores: ptr[int32](1), Memory: ptr("1g")}},
		},
	}
}

func exampleSireneCount() *v1alpha1.SparkJob {
	return &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "sirene-count"},
		Spec: v1alpha1.SparkJobSpec{
			Type: v1alpha1.PythonApplication, SparkVersion: "3.5.3", Image: ptr("apache/spark:3.5.3-python3"),
			MainApplicationFile: ptr("local:///opt/spark/work-dir/sirene_count.py"),
			SparkConf:           map[string]string{"spark.sql.shuffle.partitions": "400"},
			Driver:              v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{Cores: ptr[int32](1), Memory: ptr("2g")}},
			Executor: v1alpha1.ExecutorSpec{SparkPodSpec: v1alpha1.SparkPodSpec{
				Cores: ptr[int32](4), CoreRequest: ptr("3400m"), Memory: ptr("4g")}},
			DynamicAllocation: &v1alpha1.DynamicAllocation{
				Enabled: ptr(true), InitialExecutors: ptr[int32](1), MinExecutors: ptr[int32](1), MaxExecutors: ptr[int32](60),
				ExecutorAllocationRatio: ptr("1"), ShuffleTrackingEnabled: ptr(true), ShuffleTrackingTimeout: ptr[int64](1800000),
				ExecutorIdleTimeout: dur("60s"), CachedExecutorIdleTimeout: dur("15m"),
			},
		},
	}
}

func exampleNightlyETL() *v1alpha1.SparkJob {
	return &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-etl"},
		Spec: v1alpha1.SparkJobSpec{
			Type: v1alpha1.JavaApplication, SparkVersion: "3.5.3", Image: ptr("registry.example.com/data/nightly-etl:2.7.1"),
			MainClass: ptr("com.example.etl.NightlyOrders"), MainApplicationFile: ptr("local:///opt/etl/nightly-etl.jar"),
			Schedule: "0 2 * * *", TimeZone: "Europe/Paris", ConcurrencyPolicy: v1alpha1.ForbidConcurrent,
			Driver:   v1alpha1.DriverSpec{SparkPodSpec: v1alpha1.SparkPodSpec{Cores: ptr[int32](1), Memory: ptr("2g")}},
			Executor: v1alpha1.ExecutorSpec{SparkPodSpec: v1alpha1.SparkPodSpec{Cores: ptr[int32](2), Memory: ptr("6g")}},
			DynamicAllocation: &v1alpha1.DynamicAllocation{
				Enabled: ptr(true), MinExecutors: ptr[int32](0), MaxExecutors: ptr[int32](20),
				ShuffleTrackingEnabled: ptr(true), ShuffleTrackingTimeout: ptr[int64](900000),
				CachedExecutorIdleTimeout: dur("10m"),
			},
		},
	}
}

// prodOverlay is jobs/examples/overlays/prod.
func prodOverlay(j *v1alpha1.SparkJob) *v1alpha1.SparkJob {
	j.Namespace = "spark-prod"
	j.Spec.Driver.PriorityClassName = ptr("spark-driver")
	j.Spec.Driver.NodeSelector = map[string]string{lifecycle: "on-demand", zone: "eu-west-3a"}
	j.Spec.Executor.NodeSelector = map[string]string{lifecycle: "spot", zone: "eu-west-3a"}
	j.Spec.Executor.Tolerations = []corev1.Toleration{{
		Key: lifecycle, Operator: corev1.TolerationOpEqual, Value: "spot", Effect: corev1.TaintEffectNoSchedule,
	}}
	return j
}

// devOverlay is jobs/examples/overlays/dev.
func devOverlay(j *v1alpha1.SparkJob) *v1alpha1.SparkJob {
	j.Namespace = "spark-dev"
	if j.Spec.DynamicAllocation != nil {
		j.Spec.DynamicAllocation.MaxExecutors = ptr[int32](5)
	}
	return j
}

func TestExamplePolicies(t *testing.T) {
	policies, err := Load("testdata/examples")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	s := mustSet(t, policies...)
	warning := func(job, rule, field, message string) map[string][]v1alpha1.Finding {
		return map[string][]v1alpha1.Finding{job: {{
			Severity: v1alpha1.SeverityWarning, Rule: rule, Field: field, Message: message, Policy: "dev",
		}}}
	}
	tests := []struct {
		name    string
		overlay func(*v1alpha1.SparkJob) *v1alpha1.SparkJob
		want    map[string][]v1alpha1.Finding
	}{
		{name: "prod is clean", overlay: prodOverlay, want: map[string][]v1alpha1.Finding{}},
		{name: "dev warns", overlay: devOverlay, want: merge(
			warning("spark-pi", RuleDynamicAllocationRequired, "spec.dynamicAllocation.enabled",
				`dynamic allocation is off, policy "dev" requires it`),
			warning("sirene-count", RuleJobCores, "spec.dynamicAllocation.maxExecutors",
				`job cpu at peak is 18 (driver 1 + 5 executors x 3400m), policy "dev" allows at most 16`),
		)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string][]v1alpha1.Finding{}
			for _, j := range []*v1alpha1.SparkJob{exampleSparkPi(), exampleSireneCount(), exampleNightlyETL()} {
				if _, findings := s.Apply(tc.overlay(j)); len(findings) > 0 {
					got[j.Name] = findings
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings by job (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExampleProdDefaults: prod turns the static spark-pi into a bounded
// dynamic job, which is why it meets prod's rules.
func TestExampleProdDefaults(t *testing.T) {
	policies, err := Load("testdata/examples")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got, _ := mustSet(t, policies...).Apply(prodOverlay(exampleSparkPi()))
	env, err := ComputeEnvelope(got)
	if err != nil {
		t.Fatal(err)
	}
	want := "driver 1 cpu 1408Mi, executors 1 cpu 1408Mi x 10, peak 11 cpu 15488Mi"
	if diff := cmp.Diff(want, env.String()); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
}

func merge(ms ...map[string][]v1alpha1.Finding) map[string][]v1alpha1.Finding {
	out := map[string][]v1alpha1.Finding{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = append(out[k], v...)
		}
	}
	return out
}
