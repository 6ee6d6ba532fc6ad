package reconciler_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

var insightReps = flag.Int("sparkcd.insight-reps", 3, "pairs of passes, with and without the executor bookkeeping, BenchmarkRunInsightCost takes the medians of")

// The acceptance bounds of issue 16 and the executors each run scales to.
const (
	insightExecutors  = 10
	maxInsightCPU     = 0.10
	maxInsightRSSMiB  = 50
	insightPassBudget = 15 * time.Minute
)

// BenchmarkRunInsightCost measures what the executor bookkeeping
// (insight.go) costs the job loop: -sparkcd.jobs SparkJobs with a Running
// driver each, whose runs scale to 10 executor pods — created on the API
// server as a Spark driver creates them — and back to none (each deleted
// as Spark deletes it, then removed as a kubelet removes it), until every
// run's status shows the 10 and the 0 (and, with the bookkeeping, a peak
// of 10 and a timeline ending at 0).
//
// The job loop runs in a process of its own (the test binary started
// again, TestRunInsightCostLoop), so that its cpu and memory are its own:
// the test's clients and the control plane are other processes. A pass
// measures the loop's cpu from the first executor's creation until every
// run shows the end, and its memory at the peak, after a GC that returns
// free memory to the OS: RSS (VmRSS) and heap in use. Passes with and
// without the bookkeeping (JobOptions.DisableRunInsight) alternate,
// -sparkcd.insight-reps of each, in alternating order, on a fresh
// namespace each; the figures are the medians. The benchmark fails when
// the bookkeeping adds more than 10 % cpu or 50 MiB RSS.
func BenchmarkRunInsightCost(b *testing.B) {
	e := env.Env(b)
	n := *benchJobs
	var on, off []insightPass
	for range b.N {
		for rep := range *insightReps {
			order := []bool{true, false}
			if rep%2 == 1 {
				order = []bool{false, true}
			}
			for _, insight := range order {
				p := runInsightPass(b, e, n, insight)
				b.Logf("pass %d, bookkeeping %-5v: cpu %.2fs, rss %.1f MiB, heap %.1f MiB, writes %d, wall %s",
					rep+1, insight, p.cpu, mib(p.rss), mib(p.heap), p.writes, p.wall.Round(time.Second))
				if insight {
					on = append(on, p)
				} else {
					off = append(off, p)
				}
			}
		}
	}
	with, without := medianPass(on), medianPass(off)
	overhead := with.cpu/without.cpu - 1
	rss, heap := mib(with.rss)-mib(without.rss), mib(with.heap)-mib(without.heap)
	b.ReportMetric(with.cpu, "cpu-with-s")
	b.ReportMetric(without.cpu, "cpu-without-s")
	b.ReportMetric(100*overhead, "cpu-overhead-%")
	b.ReportMetric(rss, "rss-delta-MiB")
	b.ReportMetric(heap, "heap-delta-MiB")
	b.ReportMetric(float64(with.writes), "writes-with")
	b.ReportMetric(float64(without.writes), "writes-without")
	// Rows with their targets and PASS/MISS, as every bench row: a miss
	// does not stop the benchmarks after this one.
	atMost(b, fmt.Sprintf("run insight's bookkeeping, job loop cpu (%.2fs with, %.2fs without)", with.cpu, without.cpu),
		100*overhead, " %", 100*maxInsightCPU)
	atMost(b, "run insight's bookkeeping, job loop RSS", rss, " MiB", maxInsightRSSMiB)
}

// insightPass is what one pass measured of the loop's process.
type insightPass struct {
	// cpu is user + system seconds from the first executor's creation
	// until every run shows the end, less the GC of the peak's snapshot.
	cpu float64
	// rss and heap are VmRSS and heap in use at the peak, after a GC.
	rss, heap uint64
	// writes are the loop's write requests in the window.
	writes int64
	wall   time.Duration
}

// runInsightPass runs one pass on a fresh namespace: n jobs, their drivers
// Running, then the executors up to 10 each and down to none.
func runInsightPass(b *testing.B, e *testenv.Env, n int, insight bool) insightPass {
	ns := sparkNamespace(b, e)
	loop := startLoopProcess(b, e, ns, insight)
	defer loop.stop()
	wait := watchReleased(b, e, ns, n)
	createJobs(b, e, ns, n)
	wait()
	drivers := runningDrivers(b, e, ns, n)

	started := time.Now()
	first := loop.stats()
	scaleExecutors(b, e, drivers)
	waitAllJobs(b, e, ns, n, "10 executors each", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun.Executors == insightExecutors
	})
	peak := loop.stats()
	removeExecutors(b, e, ns, n)
	waitAllJobs(b, e, ns, n, "every run's end", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun.Executors == 0 && (!insight || insightEnded(j.Status.LastRun.Insight))
	})
	last := loop.stats()
	return insightPass{
		cpu:    last.CPU - first.CPUAfterGC - (peak.CPUAfterGC - peak.CPU),
		rss:    peak.RSS,
		heap:   peak.HeapInuse,
		writes: last.Writes - first.Writes,
		wall:   time.Since(started),
	}
}

// insightEnded says whether a run's record shows the peak of 10 and a
// timeline that reached 10 and ends at 0.
func insightEnded(in *v1alpha1.RunInsight) bool {
	if in == nil || in.PeakExecutors != insightExecutors || in.Timeline.Len() == 0 {
		return false
	}
	counts := in.Timeline.Executors
	return counts[len(counts)-1] == 0 && slices.Contains(counts, insightExecutors)
}

// runningDrivers marks the driver of every job's run Running, as a kubelet
// does, waits until every status shows it, and returns the drivers.
func runningDrivers(b *testing.B, e *testenv.Env, ns string, n int) []*corev1.Pod {
	drivers := markDrivers(b, e, ns, n, running)
	waitAllJobs(b, e, ns, n, "every run Running", func(j *v1alpha1.SparkJob) bool {
		return j.Status.LastRun.Phase == v1alpha1.RunRunning
	})
	return drivers
}

// markDrivers changes the status of the n driver pods in ns as a kubelet
// does, 32 at a time, and returns the drivers.
func markDrivers(b *testing.B, e *testenv.Env, ns string, n int, mutate func(*corev1.PodStatus)) []*corev1.Pod {
	pods := &corev1.PodList{}
	if err := e.Client.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
		b.Fatal(err)
	}
	if len(pods.Items) != n {
		b.Fatalf("%d driver pods, want %d", len(pods.Items), n)
	}
	parallel(b, n, func(i int) error {
		p := &pods.Items[i]
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := e.Client.Get(context.Background(), client.ObjectKeyFromObject(p), p); err != nil {
				return err
			}
			mutate(&p.Status)
			return e.Client.Status().Update(context.Background(), p)
		})
	})
	drivers := make([]*corev1.Pod, n)
	for i := range pods.Items {
		drivers[i] = &pods.Items[i]
	}
	return drivers
}

// scaleExecutors creates 10 executor pods for every driver's run, as its
// Spark driver would (createExecutor), 32 at a time.
func scaleExecutors(b *testing.B, e *testenv.Env, drivers []*corev1.Pod) {
	parallel(b, len(drivers)*insightExecutors, func(i int) error {
		d := drivers[i/insightExecutors]
		run := v1alpha1.RunStatus{Name: d.Labels[v1alpha1.LabelRun], AppID: d.Labels[v1alpha1.LabelSparkAppSelector]}
		return e.Client.Create(context.Background(), executorPod(d, d.Labels[v1alpha1.LabelJob], run, i%insightExecutors+1))
	})
}

// removeExecutors deletes every executor pod in ns as Spark releases one
// (a delete with the pod's grace period), then removes it as the kubelet
// does once its containers stopped (a delete with no grace period).
func removeExecutors(b *testing.B, e *testenv.Env, ns string, n int) {
	pods := &corev1.PodList{}
	if err := e.Client.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleExecutor}); err != nil {
		b.Fatal(err)
	}
	if len(pods.Items) != n*insightExecutors {
		b.Fatalf("%d executor pods, want %d", len(pods.Items), n*insightExecutors)
	}
	parallel(b, len(pods.Items), func(i int) error {
		p := &pods.Items[i]
		if err := e.Client.Delete(context.Background(), p); err != nil {
			return err
		}
		return client.IgnoreNotFound(e.Client.Delete(context.Background(), p, client.GracePeriodSeconds(0)))
	})
}

// waitAllJobs polls, once a second, until the last run of every one of
// the n jobs in ns satisfies cond.
func waitAllJobs(b *testing.B, e *testenv.Env, ns string, n int, what string, cond func(*v1alpha1.SparkJob) bool) {
	deadline := time.Now().Add(insightPassBudget)
	for {
		jobs := &v1alpha1.SparkJobList{}
		if err := e.Client.List(context.Background(), jobs, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		ok := 0
		for i := range jobs.Items {
			if j := &jobs.Items[i]; j.Status.LastRun != nil && cond(j) {
				ok++
			}
		}
		if ok == n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s: %d of %d jobs", what, ok, n)
		}
		time.Sleep(time.Second)
	}
}

func mib(bytes uint64) float64 { return float64(bytes) / (1 << 20) }

// medianPass is the pass whose every figure is the median of the passes'.
func medianPass(ps []insightPass) insightPass {
	med := func(f func(insightPass) float64) float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = f(p)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return insightPass{
		cpu:    med(func(p insightPass) float64 { return p.cpu }),
		rss:    uint64(med(func(p insightPass) float64 { return float64(p.rss) })),
		heap:   uint64(med(func(p insightPass) float64 { return float64(p.heap) })),
		writes: int64(med(func(p insightPass) float64 { return float64(p.writes) })),
	}
}

// Environment of the loop's process (TestRunInsightCostLoop).
const (
	loopNamespaceEnv  = "SPARKCD_BENCH_LOOP_NAMESPACE"
	loopKubeconfigEnv = "SPARKCD_BENCH_LOOP_KUBECONFIG"
	loopInsightEnv    = "SPARKCD_BENCH_LOOP_INSIGHT"
	loopStatsPrefix   = "sparkcd-bench-stats: "
	// loopProfileEnv, when set, names a directory the loop's process
	// writes its cpu profile to, for `go tool pprof`.
	loopProfileEnv = "SPARKCD_BENCH_LOOP_PROFILE"
)

// loopStats is what the loop's process reports of itself.
type loopStats struct {
	// CPU is user + system seconds before the GC, CPUAfterGC after it.
	CPU, CPUAfterGC float64
	// RSS is VmRSS after the GC returned free memory to the OS.
	RSS, HeapInuse uint64
	// Writes counts the loop's write requests.
	Writes int64
}

// loopProcess is a job loop running in a process of its own.
type loopProcess struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines *bufio.Scanner
	b     *testing.B
}

// startLoopProcess starts the test binary again as a job loop on ns
// (TestRunInsightCostLoop), with or without the executor bookkeeping, and
// waits until its caches are in sync.
func startLoopProcess(b *testing.B, e *testenv.Env, ns string, insight bool) *loopProcess {
	bin, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestRunInsightCostLoop$", "-test.count=1")
	cmd.Env = append(os.Environ(), loopNamespaceEnv+"="+ns, loopKubeconfigEnv+"="+e.Kubeconfig, fmt.Sprintf("%s=%v", loopInsightEnv, insight))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("unable to start the loop's process: %v", err)
	}
	l := &loopProcess{cmd: cmd, in: in, lines: bufio.NewScanner(out), b: b}
	l.stats()
	return l
}

// stats asks the loop's process for its figures and waits for them.
func (l *loopProcess) stats() loopStats {
	if _, err := io.WriteString(l.in, "stats\n"); err != nil {
		l.b.Fatalf("the loop's process: %v", err)
	}
	for l.lines.Scan() {
		line, ok := strings.CutPrefix(l.lines.Text(), loopStatsPrefix)
		if !ok {
			continue
		}
		var s loopStats
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			l.b.Fatalf("the loop's process said %q: %v", line, err)
		}
		return s
	}
	l.b.Fatalf("the loop's process ended: %v", l.lines.Err())
	return loopStats{}
}

// stop ends the loop's process: it stops when its stdin closes.
func (l *loopProcess) stop() {
	_ = l.in.Close()
	if err := l.cmd.Wait(); err != nil {
		l.b.Errorf("the loop's process: %v", err)
	}
}

// TestRunInsightCostLoop is the job loop's process of
// BenchmarkRunInsightCost, and does nothing in any other run: it runs the
// loop on the namespace its environment names, answers every "stats" line
// on its stdin with a loopStats line on its stdout, and stops when its
// stdin closes.
func TestRunInsightCostLoop(t *testing.T) {
	ns := os.Getenv(loopNamespaceEnv)
	if ns == "" {
		return
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(loopKubeconfigEnv))
	if err != nil {
		t.Fatal(err)
	}
	opts := reconciler.JobOptions{DisableRunInsight: os.Getenv(loopInsightEnv) != "true"}
	if dir := os.Getenv(loopProfileEnv); dir != "" {
		stop := cpuProfile(t, filepath.Join(dir, fmt.Sprintf("loop-insight-%s-%s.pprof", os.Getenv(loopInsightEnv), ns)))
		defer stop()
	}
	mgr, writes := jobLoopManager(t, &testenv.Env{Config: cfg}, opts, []string{ns})
	defer runManager(t, mgr)()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		s := loopStats{CPU: cpuSeconds()}
		debug.FreeOSMemory()
		s.CPUAfterGC = cpuSeconds()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		s.HeapInuse, s.RSS, s.Writes = m.HeapInuse, vmRSS(), writes.Load()
		line, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("%s%s\n", loopStatsPrefix, line)
	}
}

// cpuProfile writes the process's cpu profile to path until stop.
func cpuProfile(t *testing.T, path string) (stop func()) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		t.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}
}

// cpuSeconds is the process's user + system cpu time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// vmRSS is the process's resident set from /proc/self/status, in bytes.
func vmRSS() uint64 { return procStatusKB("/proc/self/status", "VmRSS:") }

// procStatusKB is the field (such as "VmRSS:") of a /proc/PID/status
// file, in bytes; 0 when it cannot be read.
func procStatusKB(path, field string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
