package cleanup_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
)

// TestCleanupShards: each shard's pass (Options.JobSelector, as `serve
// --watch-label-selector` sets it) deletes the drivers of its own
// SparkJobs only. The main instance's pass leaves shard a's drivers alone —
// even one past the global TTL whose job keeps it longer, which a pass that
// does not read that job would take for an orphan — and shard a's pass
// leaves the main instance's.
func TestCleanupShards(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	ctx := t.Context()
	ns := e.Namespace(t)
	now := time.Now().Truncate(time.Second)
	shardA := func(j *v1alpha1.SparkJob) { j.Labels = map[string]string{v1alpha1.LabelShard: "a"} }
	jobs := map[string]*v1alpha1.SparkJob{
		"main-job": sparkJob(ns, "main-job"),
		"a-job":    sparkJob(ns, "a-job", shardA),
		"a-long": sparkJob(ns, "a-long", shardA, func(j *v1alpha1.SparkJob) {
			j.Spec.TimeToLiveSeconds = ptr.To[int64](7 * 24 * 3600)
		}),
	}
	var drivers []driverSpec
	for name, job := range jobs {
		if err := e.Client.Create(ctx, job); err != nil {
			t.Fatal(err)
		}
		drivers = append(drivers, driverSpec{namespace: ns, name: name + "-driver", job: job, managed: true, phase: corev1.PodSucceeded, age: 48 * time.Hour})
	}
	pods, err := createDrivers(ctx, e.Client, drivers, now, 4)
	if err != nil {
		t.Fatal(err)
	}
	for name, job := range jobs {
		recordHistory(t, e.Client, job, pods[ns+"/"+name+"-driver"])
	}

	pass := func(selector string) map[string]cleanup.Reason {
		t.Helper()
		sel, err := labels.Parse(selector)
		if err != nil {
			t.Fatal(err)
		}
		opts := cleanup.DefaultOptions()
		opts.Clock = clocktesting.NewFakeClock(now)
		opts.Namespaces = []string{ns}
		opts.JobSelector = sel
		cl, err := cleanup.New(e.Client, opts)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := cl.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return reasons(rep)
	}
	if diff := cmp.Diff(map[string]cleanup.Reason{ns + "/main-job-driver": cleanup.ReasonTTLExpired}, pass("!"+v1alpha1.LabelShard)); diff != "" {
		t.Errorf("the main instance's pass (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]cleanup.Reason{ns + "/a-job-driver": cleanup.ReasonTTLExpired}, pass(v1alpha1.LabelShard+"=a")); diff != "" {
		t.Errorf("shard a's pass (-want +got):\n%s", diff)
	}
	for key, want := range map[string]bool{ns + "/a-long-driver": true, ns + "/main-job-driver": false, ns + "/a-job-driver": false} {
		if got := podExists(t, e, key); got != want {
			t.Errorf("pod %s exists: %t, want %t", key, got, want)
		}
	}
}
