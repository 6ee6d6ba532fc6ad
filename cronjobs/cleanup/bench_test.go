package cleanup_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

var benchDrivers = flag.Int("cleanup-drivers", 10000, "finished drivers BenchmarkCleanup creates for each side")

// BenchmarkCleanup: N finished drivers, each with a ConfigMap and a
// Service, for a cleanup pass, and N identical ones for `kubectl delete
// pods -l spark-role=driver --field-selector=status.phase==Succeeded`, in
// the same run. It reports both times, their ratio, and the peak heap and
// resident memory the pass added.
func BenchmarkCleanup(b *testing.B) {
	e := env.Env(b)
	n := *benchDrivers
	b.StopTimer()
	for range b.N {
		ctx := context.Background()
		nsPass, nsKubectl := e.Namespace(b), e.Namespace(b)
		now := time.Now().Truncate(time.Second)
		created := time.Now()
		for _, ns := range []string{nsPass, nsKubectl} {
			if err := benchDriversIn(ctx, e, ns, n, now); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("created 2 × %d drivers with their dependents in %s", n, time.Since(created).Round(time.Millisecond))

		opts := cleanup.DefaultOptions()
		opts.Namespaces = []string{nsPass}
		cl, err := cleanup.New(e.Client, opts)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		mem := startMemorySampler()
		b.StartTimer()
		start := time.Now()
		rep, err := cl.RunOnce(ctx)
		pass := time.Since(start)
		b.StopTimer()
		heap, rss := mem.stop()
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Deleted) != n {
			b.Fatalf("the pass deleted %d drivers, want %d", len(rep.Deleted), n)
		}
		gc := time.Now()
		waitGone(b, e, nsPass, n)
		b.Logf("pass %s; the garbage collector took %s more", pass.Round(time.Millisecond), time.Since(gc).Round(time.Millisecond))

		start = time.Now()
		out, err := e.Kubectl(ctx, "delete", "pods", "-n", nsKubectl, "-l", "spark-role=driver", "--field-selector=status.phase==Succeeded").CombinedOutput()
		kubectl := time.Since(start)
		if err != nil {
			b.Fatalf("kubectl delete: %v\n%s", err, out)
		}
		if got := strings.Count(string(out), " deleted"); got != n {
			b.Fatalf("kubectl deleted %d pods, want %d", got, n)
		}
		waitGone(b, e, nsKubectl, n)

		b.ReportMetric(pass.Seconds(), "pass-s")
		b.ReportMetric(kubectl.Seconds(), "kubectl-s")
		b.ReportMetric(kubectl.Seconds()/pass.Seconds(), "x-faster")
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(rss)/(1<<20), "peak-rss-delta-MiB")
	}
}

// benchDriversIn creates n succeeded drivers two days old in ns, owned
// by one SparkJob per hundred, each with a ConfigMap and a Service.
func benchDriversIn(ctx context.Context, e *testenv.Env, ns string, n int, now time.Time) error {
	jobs := make([]*v1alpha1.SparkJob, max(1, n/100))
	for i := range jobs {
		jobs[i] = sparkJob(ns, fmt.Sprintf("bench-%03d", i))
		if err := e.Client.Create(ctx, jobs[i]); err != nil {
			return err
		}
	}
	specs := make([]driverSpec, n)
	for i := range specs {
		specs[i] = driverSpec{namespace: ns, name: "d" + strconv.Itoa(i) + "-driver", job: jobs[i%len(jobs)], managed: true,
			phase: corev1.PodSucceeded, age: 48 * time.Hour, dependents: true}
	}
	if _, err := createDrivers(ctx, e.Client, specs, now, 48); err != nil {
		return err
	}
	// Each job's history is full of runs newer than the drivers, as a job
	// with a long past has: the job loop let go of the drivers' runs, so
	// the cleanup may delete them (it deletes only the drivers of runs the
	// job loop is done with).
	newer := time.Now().Add(time.Minute)
	for _, job := range jobs {
		for h := range cleanup.DefaultStatusHistoryLimit {
			start := metav1.NewTime(newer.Add(-time.Duration(h) * time.Second))
			job.Status.History = append(job.Status.History, v1alpha1.RunStatus{
				Name: fmt.Sprintf("%s-h%d", job.Name, h), Phase: v1alpha1.RunSucceeded, StartTime: &start})
		}
		if err := e.Client.Status().Update(ctx, job); err != nil {
			return err
		}
	}
	return nil
}

// waitGone waits for the garbage collector to remove the dependents of
// the n deleted drivers, so one side's cascade does not slow the other.
// The collector deletes each of the 2n dependents with one request, at
// most gcQPS a second (the test control plane's kube-controller-manager),
// so the wait allows twice that long on top of waitTimeout: 10,000
// drivers' dependents take 100 s at the least, more than waitTimeout.
func waitGone(b *testing.B, e *testenv.Env, ns string, n int) {
	b.Helper()
	const gcQPS = 200
	timeout := waitTimeout + 2*time.Duration(2*n)*time.Second/gcQPS
	testenv.Eventually(b, timeout, "the dependents in "+ns+" to go", func() (bool, string) {
		left := 0
		for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &corev1.ServiceList{}, &corev1.PodList{}} {
			if err := e.Client.List(context.Background(), list, client.InNamespace(ns), client.Limit(1)); err != nil {
				return false, err.Error()
			}
			if l, ok := list.(interface{ GetRemainingItemCount() *int64 }); ok && l.GetRemainingItemCount() != nil {
				left += int(*l.GetRemainingItemCount())
			}
			left += itemCount(list)
		}
		// kube-root-ca.crt is not published without its controller; any
		// ConfigMap left is a dependent.
		return left == 0, fmt.Sprintf("%d objects left", left)
	})
}

func itemCount(list client.ObjectList) int {
	switch l := list.(type) {
	case *corev1.ConfigMapList:
		return len(l.Items)
	case *corev1.ServiceList:
		return len(l.Items)
	case *corev1.PodList:
		return len(l.Items)
	}
	return 0
}

// memorySampler records the peak heap and resident memory above where
// they were when it started.
type memorySampler struct {
	done          chan struct{}
	wg            sync.WaitGroup
	baseHeap      uint64
	baseRSS       uint64
	peakHeap, rss uint64
}

func startMemorySampler() *memorySampler {
	m := &memorySampler{done: make(chan struct{})}
	m.baseHeap, m.baseRSS = heapBytes(), rssBytes()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memorySampler) sample() {
	if h := heapBytes(); h > m.baseHeap && h-m.baseHeap > m.peakHeap {
		m.peakHeap = h - m.baseHeap
	}
	if r := rssBytes(); r > m.baseRSS && r-m.baseRSS > m.rss {
		m.rss = r - m.baseRSS
	}
}

func (m *memorySampler) stop() (heap, rss uint64) {
	close(m.done)
	m.wg.Wait()
	m.sample()
	return m.peakHeap, m.rss
}

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// rssBytes reads the resident set from /proc/self/statm (Linux); zero
// elsewhere.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}
