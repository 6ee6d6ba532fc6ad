package reconciler_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// serveProcess is a `sparkcd serve` process of BenchmarkServeScale, its
// logs in a file.
type serveProcess struct {
	cmd              *exec.Cmd
	started          time.Time
	log              string
	metricsAddr      string
	pprofAddr        string
	done             chan struct{}
	syncedController map[string]bool
}

// sparkcdBinary is $SPARKCD_BINARY, or a sparkcd built from ./cmd/sparkcd
// into the benchmark's temporary directory.
func sparkcdBinary(b *testing.B) string {
	if bin := os.Getenv("SPARKCD_BINARY"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			b.Fatalf("SPARKCD_BINARY: %v (make build writes bin/sparkcd)", err)
		}
		return bin
	}
	bin := filepath.Join(b.TempDir(), "sparkcd")
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-o", bin, "../cmd/sparkcd")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/sparkcd (set SPARKCD_BINARY to a built sparkcd instead, as make bench does): %v\n%s", err, out)
	}
	return bin
}

// startServeProcess starts `sparkcd serve` on every namespace of e with
// serve's defaults, its /metrics and pprof endpoints on loopback ports;
// with profile, it samples the heap finely and traces its GC.
func startServeProcess(b *testing.B, e *testenv.Env, bin string, profile bool) *serveProcess {
	b.Helper()
	dir := b.TempDir()
	p := &serveProcess{log: filepath.Join(dir, "serve.log"), metricsAddr: loopbackAddr(b), done: make(chan struct{})}
	args := []string{"serve", "--kubeconfig", e.Kubeconfig, "--metrics-addr", p.metricsAddr, "--health-addr", "",
		"--webhook-addr", "", "--cache-dir", filepath.Join(dir, "git"), "--log-format", "json"}
	p.pprofAddr = loopbackAddr(b)
	args = append(args, "--pprof-addr", p.pprofAddr)
	logFile, err := os.Create(p.log)
	if err != nil {
		b.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if profile {
		// A heap sample every 16 KiB instead of 512: a profile that
		// shows the small objects a job holds.
		// gctrace: the heap at each GC, in the log the profile directory
		// gets a copy of.
		p.cmd.Env = append(os.Environ(), "GODEBUG=memprofilerate=16384,gctrace=1")
	}
	// Nothing outlives an interrupted `go test`.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = p.cmd.Wait(); _ = logFile.Close(); close(p.done) }()
	b.Cleanup(func() { p.stop(b) })
	return p
}

// stop ends the process with SIGTERM, then SIGKILL after 30 s.
func (p *serveProcess) stop(b *testing.B) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		b.Logf("serve did not stop within 30 s of SIGTERM; killed")
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitSynced waits until every controller that started has logged
// "Starting workers" — controller-runtime logs it once the controller's
// caches are synced — and the job and source loops are among them; it
// returns the time since the process started.
func (p *serveProcess) waitSynced(b *testing.B) time.Duration {
	var at time.Time
	testenv.Eventually(b, 5*time.Minute, "every controller's caches synced", func() (bool, string) {
		p.checkRunning(b)
		starting, working := p.controllers(b)
		for _, c := range []string{"sparkjob", "jobsource"} {
			if !working[c] {
				return false, fmt.Sprintf("controller %s has not started its workers (started: %v)", c, keys(working))
			}
		}
		for c := range starting {
			if !working[c] {
				return false, fmt.Sprintf("controller %s has not started its workers", c)
			}
		}
		at = time.Now()
		return true, ""
	})
	return at.Sub(p.started)
}

// controllers reads the log for the controllers that started their event
// sources and those that started their workers.
func (p *serveProcess) controllers(b *testing.B) (starting, working map[string]bool) {
	f, err := os.Open(p.log)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	starting, working = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct{ Msg, Controller string }
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Controller == "" {
			continue
		}
		switch line.Msg {
		case "Starting EventSource":
			starting[line.Controller] = true
		case "Starting workers":
			working[line.Controller] = true
		}
	}
	return starting, working
}

// waitStarted waits until the job loop has reconciled at least n jobs and
// is idle: its queue empty, no worker busy. It returns the time since the
// process started.
func (p *serveProcess) waitStarted(b *testing.B, n int) time.Duration {
	var at time.Time
	testenv.Eventually(b, 10*time.Minute, fmt.Sprintf("the job loop idle after reconciling %d jobs", n), func() (bool, string) {
		p.checkRunning(b)
		m, err := p.readMetrics()
		if err != nil {
			return false, err.Error()
		}
		done := m.sum("sparkcd_job_reconcile_duration_seconds", nil)
		depth := m.sum("workqueue_depth", map[string]string{"name": "sparkjob"})
		busy := m.sum("controller_runtime_active_workers", map[string]string{"controller": "sparkjob"})
		at = time.Now()
		return done >= float64(n) && depth == 0 && busy == 0,
			fmt.Sprintf("%.0f reconciles, %.0f queued, %.0f busy", done, depth, busy)
	})
	// A conflict on a status write is retried; the writes say what the
	// retries cost.
	if errs := p.metrics(b).sum("controller_runtime_reconcile_errors_total", map[string]string{"controller": "sparkjob"}); errs > 0 {
		logVerbose(b, "the job loop retried %.0f reconciles", errs)
	}
	return at.Sub(p.started)
}

// checkRunning fails the benchmark when the process has ended.
func (p *serveProcess) checkRunning(b *testing.B) {
	select {
	case <-p.done:
		b.Fatalf("serve exited: %v\n%s", p.cmd.ProcessState, p.tail(30))
	default:
	}
}

// cpu is the process's user and system time so far, from /proc/PID/stat
// (in clock ticks of 1/100 s, the kernel's USER_HZ).
func (p *serveProcess) cpu(b *testing.B) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's name, which is in parentheses:
	// utime and stime are the 14th and 15th of the line.
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	fields := strings.Fields(string(rest))
	var utime, stime int64
	if _, err := fmt.Sscan(fields[11], &utime); err != nil {
		b.Fatal(err)
	}
	if _, err := fmt.Sscan(fields[12], &stime); err != nil {
		b.Fatal(err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// memory is the process's resident set and its peak, from /proc/PID/status.
func (p *serveProcess) memory(b *testing.B) (rss, peak uint64) {
	path := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	rss, peak = procStatusKB(path, "VmRSS:"), procStatusKB(path, "VmHWM:")
	if rss == 0 || peak == 0 {
		b.Fatalf("no VmRSS or VmHWM in %s", path)
	}
	logVerbose(b, "serve: RSS %.0f MiB (anonymous %.0f, files %.0f), peak %.0f MiB", mib(rss),
		mib(procStatusKB(path, "RssAnon:")), mib(procStatusKB(path, "RssFile:")), mib(peak))
	return rss, peak
}

// liveHeap is the heap the process's live objects occupy: its pprof
// endpoint runs a GC, then /metrics tells what that GC marked live
// (go_gc_heap_live_bytes). Unlike RSS, it does not depend on when the
// GC last ran or how much free memory the runtime has yet returned.
func (p *serveProcess) liveHeap(b *testing.B) uint64 {
	resp, err := http.Get("http://" + p.pprofAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	live := p.metrics(b).sum("go_gc_heap_live_bytes", nil)
	if live == 0 {
		b.Fatal("serve's /metrics has no go_gc_heap_live_bytes")
	}
	return uint64(live)
}

// heapProfile writes the process's heap profile, after a GC, and its log
// into dir, named after what.
func (p *serveProcess) heapProfile(b *testing.B, dir, what string) {
	resp, err := http.Get("http://" + p.pprofAddr + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	path := filepath.Join(dir, "serve-heap-"+what+".pprof")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if log, err := os.ReadFile(p.log); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "serve-"+what+".log"), log, 0o600)
	}
	logVerbose(b, "heap profile and log of serve, %s: %s", what, path)
}

// tail is the end of the process's log.
func (p *serveProcess) tail(n int) string {
	out, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// serveMetrics is one /metrics page.
type serveMetrics map[string]*dto.MetricFamily

// metrics reads the process's /metrics.
func (p *serveProcess) metrics(b *testing.B) serveMetrics {
	m, err := p.readMetrics()
	if err != nil {
		b.Fatalf("serve's /metrics: %v", err)
	}
	return m
}

func (p *serveProcess) readMetrics() (serveMetrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.metricsAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// sum adds up the samples of the family name (a histogram's counts) whose
// labels include want.
func (m serveMetrics) sum(name string, want map[string]string) float64 {
	f := m[name]
	if f == nil {
		return 0
	}
	var total float64
	for _, s := range f.GetMetric() {
		if hasLabels(s, want) {
			total += sampleValue(s)
		}
	}
	return total
}

// writes counts the requests of the process's client that change
// something: every method but GET.
func (m serveMetrics) writes() float64 {
	var n float64
	for _, s := range m["rest_client_requests_total"].GetMetric() {
		if label(s, "method") != http.MethodGet {
			n += sampleValue(s)
		}
	}
	return n
}

// diffWrites lists the write series that grew since before.
func (m serveMetrics) diffWrites(before serveMetrics) string {
	old := map[string]float64{}
	for _, s := range before["rest_client_requests_total"].GetMetric() {
		old[s.String()] = sampleValue(s)
	}
	var out []string
	for _, s := range m["rest_client_requests_total"].GetMetric() {
		if label(s, "method") != http.MethodGet && sampleValue(s) != old[s.String()] {
			out = append(out, fmt.Sprintf("%s %s +%.0f", label(s, "method"), label(s, "code"), sampleValue(s)-old[s.String()]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func sampleValue(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	return 0
}

func hasLabels(s *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		if label(s, k) != v {
			return false
		}
	}
	return true
}

func label(s *dto.Metric, name string) string {
	for _, l := range s.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// loopbackAddr is a loopback address whose port was free a moment ago.
func loopbackAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitRecordedAll waits until every SparkJob of the cluster has its status
// recorded for its generation, and there are n.
func waitRecordedAll(b *testing.B, e *testenv.Env, n int) {
	testenv.Eventually(b, 5*time.Minute, "every SparkJob's status recorded", func() (bool, string) {
		jobs := &v1alpha1.SparkJobList{}
		if err := e.Client.List(context.Background(), jobs); err != nil {
			return false, err.Error()
		}
		recorded := 0
		for _, j := range jobs.Items {
			if j.Status.ObservedGeneration == j.Generation {
				recorded++
			}
		}
		return recorded == n && len(jobs.Items) == n, fmt.Sprintf("%d of %d recorded", recorded, len(jobs.Items))
	})
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
