package reconciler_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// The selectors of a sharded install: the main instance handles what no
// shard claims, shard a what is labelled a.
const (
	mainSelector   = "!" + v1alpha1.LabelShard
	shardASelector = v1alpha1.LabelShard + "=a"
)

// shard is one running sparkcd instance of a sharded install.
type shard struct {
	name string
	// sent records what the instance created and wrote.
	sent *sentRequests
	stop func()
}

// sentRequests records, from an instance's transport, the driver pods it
// created (the API answered 201) and the paths of its writes to JobSources.
type sentRequests struct {
	mu      sync.Mutex
	drivers map[string]int // "<namespace>/<name>" → creates answered 201
	sources []string       // "<method> <path>" of JobSource writes
}

func (s *sentRequests) created() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.drivers))
	for k, v := range s.drivers {
		out[k] = v
	}
	return out
}

func (s *sentRequests) sourceWrites() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sources...)
}

// recorder is the RoundTripper that fills a sentRequests.
type recorder struct {
	next http.RoundTripper
	s    *sentRequests
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodGet {
		return resp, err
	}
	if strings.Contains(req.URL.Path, "/jobsources/") {
		r.s.mu.Lock()
		r.s.sources = append(r.s.sources, req.Method+" "+req.URL.Path)
		r.s.mu.Unlock()
	}
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/pods") || resp.StatusCode != http.StatusCreated {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	// The body is JSON or protobuf, as the client asked.
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(body, nil, nil)
	if pod, ok := obj.(*corev1.Pod); err == nil && ok && pod.Labels[v1alpha1.LabelSparkRole] == v1alpha1.RoleDriver {
		r.s.mu.Lock()
		r.s.drivers[pod.Namespace+"/"+pod.Name]++
		r.s.mu.Unlock()
	}
	return resp, nil
}

// startShard starts an instance with the job loop (and with sources, the
// source loop) on selector in namespaces, as `serve
// --watch-label-selector` wires it.
func startShard(t testing.TB, e *testenv.Env, name, selector string, sources bool, namespaces ...string) *shard {
	t.Helper()
	sel, err := reconciler.ParseWatchSelector(selector)
	if err != nil {
		t.Fatal(err)
	}
	sent := &sentRequests{drivers: map[string]int{}}
	cfg := rest.CopyConfig(e.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &recorder{next: rt, s: sent} })
	mopts := reconciler.DefaultManagerOptions()
	mopts.Namespaces = namespaces
	mopts.Logger = testLogger(t).WithName(name)
	mopts.QPS, mopts.Burst = 1000, 2000
	mopts.WatchSelector = sel
	mgr, err := reconciler.NewManager(cfg, mopts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reconciler.NewJobReconciler(mgr, reconciler.JobOptions{}); err != nil {
		t.Fatal(err)
	}
	if sources {
		sopts := reconciler.SourceOptions{CacheDir: t.TempDir(), WatchSelector: sel, Logger: slog.New(slog.DiscardHandler)}
		if _, err := reconciler.NewSourceReconciler(mgr, sopts); err != nil {
			t.Fatal(err)
		}
	}
	return &shard{name: name, sent: sent, stop: runManager(t, mgr)}
}

// labelledJob is a pi SparkJob, labelled for shard a when shard is "a".
func labelledJob(t testing.TB, ns, name, shard string) *v1alpha1.SparkJob {
	return piJob(t, ns, name, func(j *v1alpha1.SparkJob) {
		if shard != "" {
			j.Labels = map[string]string{v1alpha1.LabelShard: shard}
		}
	})
}

// createShardJobs creates jobs named prefix-0000… in ns, 32 at a time; the
// odd ones are shard a's. It returns each job's shard ("" for the main
// instance's) by job name.
func createShardJobs(t testing.TB, e *testenv.Env, ns, prefix string, n int) map[string]string {
	want := make(map[string]string, n)
	for i := range n {
		want[fmt.Sprintf("%s-%04d", prefix, i)] = map[bool]string{true: "a"}[i%2 == 1]
	}
	parallel(t, n, func(i int) error {
		name := fmt.Sprintf("%s-%04d", prefix, i)
		return e.Client.Create(context.Background(), labelledJob(t, ns, name, want[name]))
	})
	return want
}

// driversByJob lists the driver pods of ns by their job's name.
func driversByJob(t testing.TB, e *testenv.Env, ns string) map[string][]string {
	t.Helper()
	pods := &corev1.PodList{}
	if err := e.Client.List(context.Background(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range pods.Items {
		job := p.Labels[v1alpha1.LabelJob]
		out[job] = append(out[job], p.Namespace+"/"+p.Name)
	}
	return out
}

// waitDrivers waits until each of jobs has a driver pod, within timeout.
func waitDrivers(t testing.TB, e *testenv.Env, ns string, jobs map[string]string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, "a driver for every job", func() (bool, string) {
		have := driversByJob(t, e, ns)
		missing := 0
		for job := range jobs {
			if len(have[job]) == 0 {
				missing++
			}
		}
		return missing == 0, fmt.Sprintf("%d of %d jobs without a driver", missing, len(jobs))
	})
}

// checkSplit checks that every driver of ns was created once, by the
// shard of its job, and that no job has more than one: shards maps a
// shard's name ("" for main) to its instances, in the order they ran.
func checkSplit(t testing.TB, e *testenv.Env, ns string, jobs map[string]string, shards map[string][]*shard) {
	t.Helper()
	// A driver can be listed before the transport of the shard that
	// created it has recorded the create's answer: wait for every record.
	var createdBy map[string][]string
	byJob := driversByJob(t, e, ns)
	eventually(t, "every driver's create recorded", func() (bool, string) {
		createdBy = shardCreates(ns, shards)
		for job, drivers := range byJob {
			for _, d := range drivers {
				if _, ok := jobs[job]; ok && len(createdBy[d]) == 0 {
					return false, "no create recorded for driver " + d
				}
			}
		}
		return true, ""
	})
	for job, drivers := range byJob {
		want, ok := jobs[job]
		if !ok {
			continue
		}
		if len(drivers) != 1 {
			t.Errorf("job %s has %d drivers, want 1: %v", job, len(drivers), drivers)
		}
		for _, d := range drivers {
			if by := createdBy[d]; len(by) != 1 || by[0] != want {
				t.Errorf("driver %s of job %s (shard %q) was created by %q, want once by %q", d, job, want, by, want)
			}
		}
	}
}

// shardCreates lists, for each driver pod of ns, the shards whose
// transports recorded its create, once per create.
func shardCreates(ns string, shards map[string][]*shard) map[string][]string {
	createdBy := map[string][]string{}
	for name, instances := range shards {
		for _, s := range instances {
			for pod, n := range s.sent.created() {
				if !strings.HasPrefix(pod, ns+"/") {
					continue
				}
				for range n {
					createdBy[pod] = append(createdBy[pod], name)
				}
			}
		}
	}
	return createdBy
}

// createJob creates job.
func createJob(t testing.TB, e *testenv.Env, job *v1alpha1.SparkJob) {
	t.Helper()
	if err := e.Client.Create(context.Background(), job); err != nil {
		t.Fatal(err)
	}
}

// sortedKeys are m's keys in order.
func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
