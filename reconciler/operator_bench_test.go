package reconciler_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
	"github.com/sparkcd/sparkcd/render/materialize"
	"github.com/sparkcd/sparkcd/runid"
)

var (
	operatorJobs = flag.Int("sparkcd.operator-jobs", 6000,
		"SparkJobs each pass of BenchmarkOperatorShape creates (the Spark Operator's benchmark: 6,000 SparkApplications)")
	operatorRate = flag.Int("sparkcd.operator-rate", 1000,
		"SparkJobs per minute of BenchmarkOperatorShape's paced pass (the Spark Operator's benchmark: 1,000); 0 skips the pass")
	operatorFastRate = flag.Int("sparkcd.operator-fast-rate", 0,
		"SparkJobs per minute of BenchmarkOperatorShape's fast pass, which finds the sustained maximum: 0 creates them as fast as 32 clients can, -1 skips the pass")
	operatorFloor = flag.Bool("sparkcd.operator-floor", true,
		"end BenchmarkOperatorShape with the floor pass: the fast pass with a bare controller making sparkcd's requests in its place")
)

// The goals of issue 15 for the Operator's benchmark shape, on this
// two-core machine with the API server and etcd included.
const (
	operatorMinPerMinute = 3000
	operatorMaxP99       = time.Second
	// operatorNodes fake nodes, each with room for 1,000 drivers.
	operatorNodes = 20
)

// BenchmarkOperatorShape runs the Kubeflow Spark Operator's benchmark
// shape against sparkcd: -sparkcd.operator-jobs SparkJobs converted from
// the Operator's spark-pi (testdata/operator-spark-pi.yaml), spread over
// three namespaces as the Operator's spark-team-a/b/c, created at
// -sparkcd.operator-rate per minute (the paced pass), then as many again
// at -sparkcd.operator-fast-rate (the fast pass). The control plane of
// this benchmark has KWOK nodes and kube-scheduler, so the drivers are
// scheduled, run, and succeed after about ten seconds (the demo's stages),
// and the loop follows them as in a cluster. The loop runs with the
// manager's and the job loop's defaults, as `sparkcd serve` does.
//
// Each pass reports the sustained rate (drivers created per minute, from
// the first SparkJob's creation to the last driver) and the p50 and p99
// from a SparkJob's creation request to its driver pod's creation, and to
// the driver Running. The goals: the fast pass sustains ≥ 3,000 apps/min,
// and the paced pass has p99 ≤ 1 s to the driver pod. A third pass, the
// floor (-sparkcd.operator-floor), repeats the fast pass with a bare
// controller in the job loop's place, making the requests of sparkcd's
// starts with no cache, queue, judgement or rate limit (startReactor): it
// tells what this control plane allows any controller of sparkcd's design,
// an upper bound, as it leaves out the status writes of each run's end.
func BenchmarkOperatorShape(b *testing.B) {
	e := testenv.Start(b, testenv.WithControllerManager(),
		testenv.WithKWOK(filepath.Join("..", "deploy", "demo", "kwok", "stages.yaml")))
	fakeNodes(b, e, operatorNodes)
	var paced, fast, floor operatorPass
	for range b.N {
		if *operatorRate > 0 {
			paced = runOperatorPass(b, e, *operatorJobs, *operatorRate, false)
		}
		if *operatorFastRate >= 0 {
			fast = runOperatorPass(b, e, *operatorJobs, *operatorFastRate, false)
		}
		if *operatorFloor {
			floor = runOperatorPass(b, e, *operatorJobs, max(*operatorFastRate, 0), true)
		}
	}
	if *operatorRate > 0 {
		paced.report(b, "paced")
		b.Logf("paced pass, %d SparkJobs at %s: %s", *operatorJobs, rateText(*operatorRate), paced)
		b.Logf("  p99 to driver pod %s (target ≤ %s): %s", paced.p99.Round(time.Millisecond), operatorMaxP99, verdict(paced.p99 <= operatorMaxP99))
	}
	if *operatorFastRate >= 0 {
		fast.report(b, "fast")
		b.Logf("fast pass, %d SparkJobs at %s: %s", *operatorJobs, rateText(*operatorFastRate), fast)
		b.Logf("  sustained %.0f apps/min (target ≥ %d): %s", fast.perMinute, operatorMinPerMinute, verdict(fast.perMinute >= operatorMinPerMinute))
	}
	if *operatorFloor {
		floor.report(b, "floor")
		b.Logf("floor pass, the fast pass with a bare controller making sparkcd's requests for each run's start, without rate limit: %s", floor)
		if *operatorFastRate >= 0 {
			b.Logf("  sparkcd sustains %.2f × the floor's rate", fast.perMinute/floor.perMinute)
		}
	}
}

// operatorPass is what one pass measured.
type operatorPass struct {
	perMinute                float64
	p50, p99                 time.Duration // creation request → driver pod created
	runningP50, runningP99   time.Duration // creation request → driver Running
	writes                   int64
	wall, creating, draining time.Duration
}

func (p operatorPass) String() string {
	return fmt.Sprintf("%.0f apps/min sustained; to driver pod p50 %s, p99 %s; to driver Running p50 %s, p99 %s; loop writes %d; creation took %s, last driver %s later",
		p.perMinute, p.p50.Round(time.Millisecond), p.p99.Round(time.Millisecond),
		p.runningP50.Round(time.Millisecond), p.runningP99.Round(time.Millisecond), p.writes,
		p.creating.Round(time.Second), p.draining.Round(time.Millisecond))
}

func (p operatorPass) report(b *testing.B, pass string) {
	b.ReportMetric(p.perMinute, pass+"-apps/min")
	b.ReportMetric(ms(p.p50), pass+"-p50-ms")
	b.ReportMetric(ms(p.p99), pass+"-p99-ms")
	b.ReportMetric(ms(p.runningP99), pass+"-running-p99-ms")
}

func rateText(perMinute int) string {
	if perMinute == 0 {
		return "32 clients' full speed"
	}
	return fmt.Sprintf("%d/min", perMinute)
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// runOperatorPass creates n SparkJobs at perMinute (0: unpaced) in three
// fresh namespaces under a fresh job loop, and waits for every driver to
// run. With floor, a bare controller (startReactor) takes the job loop's
// place: the floor of sparkcd's requests on this control plane.
func runOperatorPass(b *testing.B, e *testenv.Env, n, perMinute int, floor bool) operatorPass {
	b.StopTimer()
	defer b.StartTimer()
	namespaces := []string{sparkNamespace(b, e), sparkNamespace(b, e), sparkNamespace(b, e)}
	jobs := make([]*v1alpha1.SparkJob, n)
	for i := range jobs {
		jobs[i] = readJob(b, "operator-spark-pi.yaml", namespaces[i%len(namespaces)])
		jobs[i].Name = fmt.Sprintf("spark-pi-%05d", i)
	}
	l := &loop{writes: &atomic.Int64{}, stop: func() {}}
	if floor {
		startReactor(b, e, namespaces, renderedOperatorRuns(b, jobs))
	} else {
		l = startDefaultLoop(b, e, namespaces)
	}
	defer l.stop()
	drivers := watchDrivers(b, e, namespaces)
	defer drivers.stop()
	created := make([]time.Time, n)
	writes := l.writes.Load()
	b.StartTimer()
	start := time.Now()
	var interval time.Duration
	if perMinute > 0 {
		interval = time.Minute / time.Duration(perMinute)
	}
	parallel(b, n, func(i int) error {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval))) // the pace, not a wait
		created[i] = time.Now()
		return e.Client.Create(context.Background(), jobs[i])
	})
	creating := time.Since(start)
	drivers.waitRunning(b, jobs)
	b.StopTimer()
	p := operatorPass{writes: l.writes.Load() - writes, wall: time.Since(start), creating: creating}
	var toPod, toRunning []time.Duration
	var last time.Time
	for i, job := range jobs {
		seen := drivers.get(job)
		toPod = append(toPod, seen.created.Sub(created[i]))
		toRunning = append(toRunning, seen.running.Sub(created[i]))
		if seen.created.After(last) {
			last = seen.created
		}
	}
	p.draining = last.Sub(start) - creating
	p.perMinute = float64(n) / last.Sub(start).Minutes()
	p.p50, p.p99 = percentiles(toPod)
	p.runningP50, p.runningP99 = percentiles(toRunning)
	return p
}

// renderedOperatorRuns renders a run of each job, defaulted as the job
// loop defaults it, keyed by namespace/name.
func renderedOperatorRuns(b *testing.B, jobs []*v1alpha1.SparkJob) map[string]*materialize.Objects {
	runs := make(map[string]*materialize.Objects, len(jobs))
	for _, job := range jobs {
		defaulted := job.DeepCopy()
		v1alpha1.SetDefaults(defaulted)
		objs, err := materialize.Materialize(defaulted, runid.OfflineRun(defaulted, ""), materialize.DefaultOptions())
		if err != nil {
			b.Fatalf("render %s: %v", job.Name, err)
		}
		runs[job.Namespace+"/"+job.Name] = objs
	}
	return runs
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[(len(d)*99)/100]
}

// startDefaultLoop starts the job loop on namespaces as `sparkcd serve`
// runs it: the manager's default client limits and the job loop's
// default concurrency, with its writes counted.
func startDefaultLoop(b *testing.B, e *testenv.Env, namespaces []string) *loop {
	b.Helper()
	cfg := rest.CopyConfig(e.Config)
	cfg.QPS, cfg.Burst = 0, 0 // NewManager's defaults, as serve's flags
	writes := &atomic.Int64{}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &writeCounter{next: rt, n: writes} })
	mopts := reconciler.DefaultManagerOptions()
	mopts.Namespaces = namespaces
	mopts.Logger = testLogger(b)
	mgr, err := reconciler.NewManager(cfg, mopts)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := reconciler.NewJobReconciler(mgr, reconciler.DefaultJobOptions()); err != nil {
		b.Fatal(err)
	}
	return &loop{writes: writes, stop: runManager(b, mgr)}
}

// fakeNodes creates n KWOK nodes, each with room for 1,000 drivers.
func fakeNodes(b *testing.B, e *testenv.Env, n int) {
	room := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("1000"),
		corev1.ResourceMemory: resource.MustParse("4000Gi"),
		corev1.ResourcePods:   resource.MustParse("1000"),
	}
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
			},
			Status: corev1.NodeStatus{Allocatable: room, Capacity: room},
		}
		if err := e.Client.Create(context.Background(), node); err != nil {
			b.Fatalf("create node %s: %v", name, err)
		}
	}
}

// driverTimes is when a driver pod was first seen, and first seen Running.
type driverTimes struct{ created, running time.Time }

// driverWatch records when each SparkJob's driver pod appears and runs.
type driverWatch struct {
	mu      sync.Mutex
	seen    map[string]driverTimes // by namespace/job
	running atomic.Int64
	stop    func()
}

// watchDrivers watches the driver pods of namespaces (watchPods).
func watchDrivers(b *testing.B, e *testenv.Env, namespaces []string) *driverWatch {
	d := &driverWatch{seen: map[string]driverTimes{}}
	d.stop, _ = watchPods(b, e, "", v1alpha1.LabelSparkRole+"="+v1alpha1.RoleDriver, func(pod *corev1.Pod) bool {
		if slices.Contains(namespaces, pod.Namespace) {
			d.observe(pod, time.Now())
		}
		return false
	})
	return d
}

func (d *driverWatch) observe(pod *corev1.Pod, now time.Time) {
	key := pod.Namespace + "/" + pod.Labels[v1alpha1.LabelJob]
	d.mu.Lock()
	defer d.mu.Unlock()
	t := d.seen[key]
	if t.created.IsZero() {
		t.created = now
	}
	if t.running.IsZero() && pod.Status.Phase != corev1.PodPending {
		t.running = now
		d.running.Add(1)
	}
	d.seen[key] = t
}

func (d *driverWatch) get(job *v1alpha1.SparkJob) driverTimes {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seen[job.Namespace+"/"+job.Name]
}

// waitRunning waits until every job's driver has run, at most ten minutes.
func (d *driverWatch) waitRunning(b *testing.B, jobs []*v1alpha1.SparkJob) {
	testenv.Eventually(b, 10*time.Minute, "every driver running", func() (bool, string) {
		n := d.running.Load()
		return n >= int64(len(jobs)), fmt.Sprintf("%d of %d drivers running", n, len(jobs))
	})
}
