package materialize

import (
	"testing"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// TestShardLabel: a run's driver, executor template and dependents carry
// the job's sparkcd.io/shard label, which is how a shard's pod cache holds
// its own jobs' pods; the label is not in the spec hash, so moving a job
// to another shard starts no run.
func TestShardLabel(t *testing.T) {
	job := decodeJobFile(t, "testdata/materialize/scala-static.job.yaml")
	before := runid.SpecHash(job)
	if job.Labels == nil {
		job.Labels = map[string]string{}
	}
	job.Labels[v1alpha1.LabelShard] = "shard1"
	if after := runid.SpecHash(job); after != before {
		t.Errorf("the shard label changed the spec hash: %s, was %s", after, before)
	}
	objs, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for what, labels := range map[string]map[string]string{
		"driver":    objs.Pod.Labels,
		"executor":  objs.Executor.Labels,
		"configmap": objs.ConfigMap.Labels,
		"service":   objs.Service.Labels,
	} {
		if got := labels[v1alpha1.LabelShard]; got != "shard1" {
			t.Errorf("%s labels %v, want %s=shard1", what, labels, v1alpha1.LabelShard)
		}
	}
}
