package reconciler_test

import (
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
)

var shardJobs = flag.Int("sparkcd.shard-jobs", 2000, "SparkJobs BenchmarkShards splits between two shards")

// shardTestJobs is how many jobs TestShardsSplitJobs splits: enough for
// both shards to work at once, few enough for make test.
const shardTestJobs = 200

// TestShardsSplitJobs: a main instance (!sparkcd.io/shard) and shard a
// (sparkcd.io/shard=a) on one API server split the SparkJobs of a
// namespace by their label: every job gets one driver, created once, by
// its own shard. Stopped, shard a's new jobs wait while the main
// instance's new jobs still start; shard a back, its jobs start, and none
// of the earlier runs starts again.
func TestShardsSplitJobs(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	main := startShard(t, e, "main", mainSelector, false, ns)
	a := startShard(t, e, "a", shardASelector, false, ns)
	shards := map[string][]*shard{"": {main}, "a": {a}}

	jobs := createShardJobs(t, e, ns, "job", shardTestJobs)
	waitDrivers(t, e, ns, jobs, waitTimeout)
	checkSplit(t, e, ns, jobs, shards)

	// Shard a is lost: its new jobs wait, the main instance's start.
	a.stop()
	later := map[string]string{}
	for i := range 10 {
		later[fmt.Sprintf("later-a-%d", i)] = "a"
		later[fmt.Sprintf("later-m-%d", i)] = ""
	}
	for _, name := range sortedKeys(later) {
		if later[name] == "a" {
			createJob(t, e, labelledJob(t, ns, name, "a"))
		}
	}
	mains := map[string]string{}
	for _, name := range sortedKeys(later) {
		if later[name] == "" {
			createJob(t, e, labelledJob(t, ns, name, ""))
			mains[name] = ""
		}
	}
	waitDrivers(t, e, ns, mains, waitTimeout)
	have := driversByJob(t, e, ns)
	for name, s := range later {
		if s == "a" && len(have[name]) > 0 {
			t.Errorf("job %s of the stopped shard a has drivers %v", name, have[name])
		}
	}

	// Shard a is back: its jobs start, the earlier runs do not again.
	a2 := startShard(t, e, "a", shardASelector, false, ns)
	shards["a"] = append(shards["a"], a2)
	for name, s := range later {
		jobs[name] = s
	}
	waitDrivers(t, e, ns, jobs, waitTimeout)
	checkSplit(t, e, ns, jobs, shards)
}

// TestShardsSources: a JobSource labelled for shard a is fetched and
// applied by shard a alone, and its jobs carry its shard label — even a
// job whose file in git names another shard — so shard a runs them; an
// unlabelled source and its jobs are the main instance's. Each instance
// writes only its own source.
func TestShardsSources(t *testing.T) {
	e := env.Env(t)
	nsA, nsMain := sparkNamespace(t, e), sparkNamespace(t, e)
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/plain.yaml", jobYAML(t, "plain"))
	repo.WriteFile(t, "jobs/elsewhere.yaml", shardJobYAML(t, "elsewhere", "b"))
	commit := repo.CommitAndPush(t, "two jobs")
	srv := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)

	main := startShard(t, e, "main", mainSelector, true, nsA, nsMain)
	a := startShard(t, e, "a", shardASelector, true, nsA, nsMain)
	newSource(t, e, nsA, "jobs", srv.URL(""), func(s *v1alpha1.JobSource) {
		s.Labels = map[string]string{v1alpha1.LabelShard: "a"}
	})
	newSource(t, e, nsMain, "jobs", srv.URL(""))
	for _, ns := range []string{nsA, nsMain} {
		waitSource(t, e, ns, "jobs", "Ready", func(s *v1alpha1.JobSource) bool {
			return sourceReady(s, metav1.ConditionTrue, meta.SucceededReason, commit)
		})
	}
	jobsA := map[string]string{"plain": "a", "elsewhere": "a"}
	jobsMain := map[string]string{"plain": "", "elsewhere": ""}
	for ns, jobs := range map[string]map[string]string{nsA: jobsA, nsMain: jobsMain} {
		for name, want := range jobs {
			got, ok := getJob(t, e, ns, name).Labels[v1alpha1.LabelShard]
			if got != want || ok != (want != "") {
				t.Errorf("SparkJob %s/%s: shard label %q (set %v), want %q", ns, name, got, ok, want)
			}
		}
		waitDrivers(t, e, ns, jobs, waitTimeout)
		checkSplit(t, e, ns, jobs, map[string][]*shard{"": {main}, "a": {a}})
	}
	for _, s := range []struct {
		inst *shard
		own  string
	}{{main, nsMain}, {a, nsA}} {
		for _, w := range s.inst.sent.sourceWrites() {
			if !strings.Contains(w, "/namespaces/"+s.own+"/") {
				t.Errorf("instance %s wrote another shard's JobSource: %s", s.inst.name, w)
			}
		}
	}
	// A run's pods carry their job's shard, which is how a shard's pod
	// cache holds its own.
	for _, d := range driversByJob(t, e, nsA)["plain"] {
		pod := getObject(t, e, &corev1.Pod{}, nsA, strings.TrimPrefix(d, nsA+"/"))
		if pod.Labels[v1alpha1.LabelShard] != "a" {
			t.Errorf("driver %s labels %v, want %s=a", d, pod.Labels, v1alpha1.LabelShard)
		}
	}
}

// BenchmarkShards: -sparkcd.shard-jobs SparkJobs (2,000 by default), half
// of them labelled for shard a, created at once in one namespace with a
// main instance and shard a running on the API server; it reports the
// seconds until every job has its driver and checks the split as
// TestShardsSplitJobs does. For comparison, one unsharded instance does
// the same number of jobs in a namespace of its own.
func BenchmarkShards(b *testing.B) {
	e := env.Env(b)
	n := *shardJobs
	// A guard, not a target: a loaded two-core machine is slow.
	timeout := max(waitTimeout, time.Duration(n)*500*time.Millisecond)
	var sharded, single time.Duration
	for range b.N {
		b.StopTimer()
		ns := sparkNamespace(b, e)
		main := startShard(b, e, "main", mainSelector, false, ns)
		a := startShard(b, e, "a", shardASelector, false, ns)
		b.StartTimer()
		sharded += timed(func() {
			jobs := createShardJobs(b, e, ns, "job", n)
			waitDrivers(b, e, ns, jobs, timeout)
			b.StopTimer()
			checkSplit(b, e, ns, jobs, map[string][]*shard{"": {main}, "a": {a}})
			main.stop()
			a.stop()
			b.StartTimer()
		})

		b.StopTimer()
		ns = sparkNamespace(b, e)
		one := startShard(b, e, "one", "", false, ns)
		b.StartTimer()
		single += timed(func() {
			jobs := createShardJobs(b, e, ns, "job", n)
			waitDrivers(b, e, ns, jobs, timeout)
			b.StopTimer()
			one.stop()
			b.StartTimer()
		})
	}
	per := func(d time.Duration) float64 { return d.Seconds() / float64(b.N) }
	b.Logf("%d jobs: two shards %.1fs, one instance %.1fs (%d passes)", n, per(sharded), per(single), b.N)
	b.ReportMetric(per(sharded), "two-shards-s")
	b.ReportMetric(per(single), "one-instance-s")
	b.ReportMetric(float64(n)/per(sharded)*60, "two-shards-jobs/min")
	b.ReportMetric(sharded.Seconds()/single.Seconds(), "two-shards/one")
}

// shardJobYAML is jobYAML with the sparkcd.io/shard label shard.
func shardJobYAML(t testing.TB, name, shard string) string {
	t.Helper()
	job := &v1alpha1.SparkJob{}
	if err := yaml.Unmarshal([]byte(jobYAML(t, name)), job); err != nil {
		t.Fatal(err)
	}
	job.Labels = map[string]string{v1alpha1.LabelShard: shard}
	out, err := yaml.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(out), "  creationTimestamp: null\n", "", 1)
	return strings.Replace(s, "status: {}\n", "", 1)
}

// TestShardsMoveActiveRun: a job relabelled from the main instance to
// shard a while its run is active is followed by shard a to the run's
// end: shard a finds the driver on the API server, moves it into its own
// shard (label), and records the end the driver reports — no second run
// starts, and the main instance no longer handles the job.
func TestShardsMoveActiveRun(t *testing.T) {
	e := env.Env(t)
	ns := sparkNamespace(t, e)
	main := startShard(t, e, "main", mainSelector, false, ns)
	a := startShard(t, e, "a", shardASelector, false, ns)
	createJob(t, e, labelledJob(t, ns, "moving", ""))
	run := lastRunIn(t, e, ns, "moving", v1alpha1.RunPending, v1alpha1.RunRunning)
	pods := drivers(t, e, ns, "moving")
	if len(pods) != 1 {
		t.Fatalf("%d drivers, want 1", len(pods))
	}
	setPodStatus(t, e, ns, pods[0].Name, running)
	lastRunIn(t, e, ns, "moving", v1alpha1.RunRunning)

	job := getJob(t, e, ns, "moving")
	job.Labels = map[string]string{v1alpha1.LabelShard: "a"}
	if err := e.Client.Update(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the driver moved to shard a", func() (bool, string) {
		pod := getObject(t, e, &corev1.Pod{}, ns, pods[0].Name)
		return pod.Labels[v1alpha1.LabelShard] == "a", fmt.Sprintf("labels %v", pod.Labels)
	})
	setPodStatus(t, e, ns, pods[0].Name, terminated(corev1.PodSucceeded, "Completed", 0))
	if got := lastRunIn(t, e, ns, "moving", v1alpha1.RunSucceeded); got.Name != run.Name {
		t.Errorf("last run %s, want %s", got.Name, run.Name)
	}
	if n := len(drivers(t, e, ns, "moving")); n != 1 {
		t.Errorf("%d drivers, want 1", n)
	}
	checkSplit(t, e, ns, map[string]string{"moving": ""}, map[string][]*shard{"": {main}, "a": {a}})
}
