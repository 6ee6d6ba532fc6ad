package policies

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func TestComputeEnvelope(t *testing.T) {
	tests := []struct {
		name       string
		job        *v1alpha1.SparkJob
		wantJSON   string
		wantString string
	}{{
		// SPARK-FACTS: memory 1g, Scala → 1024 + max(102, 384) = 1408Mi.
		name: "Scala driver of 1g, 60 executors of 3400m",
		job: testJob(executorPod(func(p *v1alpha1.SparkPodSpec) {
			p.Cores, p.CoreRequest, p.Memory = ptr[int32](4), ptr("3400m"), ptr("4g")
		}), da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = ptr[int32](60) })),
		wantJSON: `{"driverCPU":"1","driverMemoryMiB":1408,"executorCPU":"3400m","executorMemoryMiB":4505,` +
			`"peakExecutors":60,"peakCPU":"205","peakMemoryMiB":271708}`,
		wantString: "driver 1 cpu 1408Mi, executors 3400m cpu 4505Mi x 60, peak 205 cpu 271708Mi",
	}, {
		// SPARK-FACTS: memory 4g, Python → 4096 + int(0.4 × 4096) = 5734Mi.
		name: "Python executors of 4g, static",
		job: testJob(static, func(j *v1alpha1.SparkJob) {
			j.Spec.Type, j.Spec.MainClass = v1alpha1.PythonApplication, nil
			j.Spec.MainApplicationFile = ptr("local:///opt/spark/examples/src/main/python/pi.py")
			j.Spec.Executor.Cores, j.Spec.Executor.Memory = ptr[int32](1), ptr("4g")
			j.Spec.Executor.Instances = ptr[int32](3)
		}),
		wantJSON: `{"driverCPU":"1","driverMemoryMiB":1433,"executorCPU":"1","executorMemoryMiB":5734,` +
			`"peakExecutors":3,"peakCPU":"4","peakMemoryMiB":18635}`,
		wantString: "driver 1 cpu 1433Mi, executors 1 cpu 5734Mi x 3, peak 4 cpu 18635Mi",
	}, {
		name: "unbounded",
		job:  testJob(da(func(d *v1alpha1.DynamicAllocation) { d.MaxExecutors = nil })),
		wantJSON: `{"driverCPU":"1","driverMemoryMiB":1408,"executorCPU":"2","executorMemoryMiB":2432,` +
			`"peakExecutors":null,"peakCPU":null,"peakMemoryMiB":null}`,
		wantString: "driver 1 cpu 1408Mi, executors 2 cpu 2432Mi x unbounded, peak unbounded",
	}, {
		name: "half cores add up in millicores",
		job: testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.CoreRequest = ptr("500m") }),
			executorPod(func(p *v1alpha1.SparkPodSpec) { p.CoreRequest = ptr("1500m") })),
		wantJSON: `{"driverCPU":"500m","driverMemoryMiB":1408,"executorCPU":"1500m","executorMemoryMiB":2432,` +
			`"peakExecutors":10,"peakCPU":"15500m","peakMemoryMiB":25728}`,
		wantString: "driver 500m cpu 1408Mi, executors 1500m cpu 2432Mi x 10, peak 15500m cpu 25728Mi",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := ComputeEnvelope(tc.job)
			if err != nil {
				t.Fatalf("ComputeEnvelope: %v", err)
			}
			b, err := json.Marshal(env)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantJSON, string(b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantString, env.String()); diff != "" {
				t.Errorf("String (-want +got):\n%s", diff)
			}
		})
	}
}

func TestComputeEnvelopeError(t *testing.T) {
	_, err := ComputeEnvelope(testJob(driverPod(func(p *v1alpha1.SparkPodSpec) { p.Memory = ptr("lots") })))
	if err == nil {
		t.Fatal("ComputeEnvelope succeeded on an unparseable memory")
	}
	want := "unable to size the pods of 'pi': "
	if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
		t.Errorf("error %q does not start with %q", got, want)
	}
}
