package faults_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
	"github.com/sparkcd/sparkcd/reconciler"
)

// The slow, flaky API server case.
const (
	// proxyJobs jobs, two commits.
	proxyJobs = 20
	// proxyLatency delays every chunk in each direction: a request and its
	// response come 500 ms later than without the proxy, a new TLS
	// connection's first answer about a second later.
	proxyLatency = 250 * time.Millisecond
	// proxyCutMin and proxyCutMax bound the random pause between cuts.
	proxyCutMin, proxyCutMax = 3 * time.Second, 10 * time.Second
	// proxyInterval is the JobSource's interval; the quiet window lasts
	// quietPolls of its polls.
	proxyInterval = 3 * time.Second
	quietPolls    = 3
	// eventRetry is longer than the longest gap between two attempts of
	// one event write in client-go's event sink: it sleeps 10 s jittered
	// by up to 25 % (12.5 s) after a failed attempt, and the next attempt
	// is counted when its answer arrives, half a second or more later
	// through the proxy, on a loaded machine later still (13 s failed seed
	// 1796183932622004005: the retry of an event a cut broke landed in the
	// quiet window). No write for that long means no retry is pending.
	eventRetry = 20 * time.Second
)

// TestSlowFlakyAPIServer puts a TCP proxy between `sparkcd serve` and
// kube-apiserver that delays every chunk by 250 ms each way (500 ms on
// every request and its response) and, every 3–10 s (seeded), cuts every
// connection through it, so that every watch breaks and every request in
// flight fails, some after the API server has acted on them. Under that,
// sparkcd applies 20 jobs and runs them, and a second commit changes all
// of them once half the first runs have started. Every run must start exactly once, with its dependents; every
// job must have one run per spec it was applied with, all finished, and
// a status that agrees with its drivers. Once all is done, and once the
// retries of event writes that cuts broke are over, a quiet window of
// three source polls, with the proxy still slow and still cutting, must
// cost sparkcd no write at all (rest_client_requests_total on its
// /metrics: POST, PUT, PATCH, DELETE).
func TestSlowFlakyAPIServer(t *testing.T) {
	t.Parallel()
	e := env.Env(t)
	fig := caseFigures(t, "slow-flaky-apiserver")
	ns := sparkNamespace(t, e)
	ctx := t.Context()
	rng := newRand(t)

	host, err := url.Parse(e.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startFlakyProxy(t, host.Host, proxyLatency)
	metrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))

	repo := gittest.NewRepo(t)
	commitProxyJobs(t, repo, 100, "20 jobs")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)
	createSource(t, e, ns, git.URL(""), proxyInterval)

	stopKubelet := startKubelet(t, e, ns)
	// The later --kubeconfig and --metrics-addr win over serveCluster's.
	serve := newServeCluster(t, e, ns, "--kubeconfig", proxyKubeconfig(t, e, proxy.addr()), "--metrics-addr", metrics)
	proc := serve.start()
	began := time.Now()
	stopCuts := proxy.cutAtRandom(rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), proxyCutMin, proxyCutMax)
	t.Cleanup(func() {
		stopCuts()
		fig.faults = int(proxy.cuts.Load())
	})

	eventually(t, "the first commit applied and half of its runs started", func() (bool, string) {
		jobs, err := countJobs(ctx, e, ns)
		if err != nil {
			return false, err.Error()
		}
		drivers, _, err := countDrivers(ctx, e, ns)
		return err == nil && jobs == proxyJobs && drivers >= proxyJobs/2, fmt.Sprintf("%d SparkJobs, %d drivers, %v", jobs, drivers, err)
	})
	second := commitProxyJobs(t, repo, 200, "200 slices")
	t.Logf("second commit pushed after %s and %d cuts", time.Since(began).Round(time.Second), proxy.cuts.Load())

	waitSourceApplied(t, e, ns, second)
	audit, interrupted := waitRuns(t, e, ns, jobNames("job-", proxyJobs, wantRuns{min: 1, max: 2, commit: second, interrupted: true}))
	both := 0
	for _, runs := range audit.runs {
		if len(runs) == 2 {
			both++
		}
	}
	stopKubelet()
	fig.runs = audit.total() + interrupted
	fig.duplicates = len(audit.duplicates)
	fig.lost = interrupted
	if len(audit.duplicates) > 0 {
		t.Fatalf("runs started twice: %s", strings.Join(audit.duplicates, "; "))
	}
	if interrupted > 0 {
		t.Errorf("%d runs never started: sparkcd failed them as Interrupted", interrupted)
	}
	converged := proxy.cuts.Load()
	t.Logf("converged after %s and %d cuts of %d connections: %d jobs ran both specs, %d only the second (applied before their first run was due)",
		time.Since(began).Round(time.Second), converged, proxy.accepted.Load(), both, proxyJobs-both)

	after, cuts := checkQuietWindow(t, metrics, proxy, stopCuts, converged)
	// Not yet a check: a run whose start a cut broke after its driver was
	// created is recorded by a later reconcile, which neither counts it
	// nor sends its RunStarted event.
	started, finished := int(after.sum("sparkcd_runs_started_total{")), int(after.sum("sparkcd_runs_finished_total{"))
	if started != audit.total() || finished != audit.total() {
		t.Logf("sparkcd_runs_started_total is %d and sparkcd_runs_finished_total %d for %d runs; %d RunStarted events",
			started, finished, audit.total(), countEvents(t, e, ns, reconciler.EventRunStarted))
	}
	if proc.exited() {
		t.Errorf("sparkcd exited behind the flaky proxy:\n%s", proc.tail(40))
	}
	if !t.Failed() {
		fig.held(cuts)
	}
}

// commitProxyJobs writes the proxyJobs jobs with slices, commits them
// with message and pushes, and returns the commit.
func commitProxyJobs(t *testing.T, repo *gittest.Repo, slices int, message string) string {
	t.Helper()
	for i := range proxyJobs {
		repo.WriteFile(t, fmt.Sprintf("jobs/job-%02d.yaml", i), jobYAML(fmt.Sprintf("job-%02d", i), slices))
	}
	return repo.CommitAndPush(t, message)
}

// checkQuietWindow runs the quiet window behind the proxy, still slow and
// still cutting, then stops the cuts: it wants no write from sparkcd, and
// returns the metrics at its end and how many cuts there were in all;
// converged is the count when the runs converged.
func checkQuietWindow(t *testing.T, metrics string, proxy *flakyProxy, stopCuts func(), converged int64) (metricSamples, int) {
	t.Helper()
	// The quiet window, with the proxy still slow and still cutting:
	// first the tail — the status writes of the last runs' ends and the
	// retries of the event writes that cuts broke — must stop; then
	// quietPolls polls must write nothing.
	settled, converging := time.Now(), scrapeMetrics(t, metrics)
	waitNoWrites(t, metrics, eventRetry)
	before := scrapeMetrics(t, metrics)
	tail := int(before.writes() - converging.writes())
	waitPolls(t, metrics, quietPolls)
	after := scrapeMetrics(t, metrics)
	stopCuts()
	cuts := int(proxy.cuts.Load())
	writes := after.writes() - before.writes()
	t.Logf("tail: %d writes in %s (%s); quiet window: %d source polls, %d job reconciles, %d writes, %d cuts",
		tail, time.Since(settled).Round(time.Second), before.diffWrites(converging), int(after.sourcePolls()-before.sourcePolls()),
		int(after.jobReconciles()-before.jobReconciles()), int(writes), cuts-int(converged))
	if writes != 0 {
		t.Errorf("sparkcd wrote %d times in a quiet window of %d polls: %s", int(writes), quietPolls, after.diffWrites(before))
	}
	return after, cuts
}

// countEvents counts the events of ns with reason.
func countEvents(t *testing.T, e *testenv.Env, ns, reason string) int {
	t.Helper()
	list := &eventsv1.EventList{}
	if err := e.Client.List(t.Context(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range list.Items {
		if ev.Reason == reason {
			n++
		}
	}
	return n
}

// proxyKubeconfig writes a copy of the administrator's kubeconfig whose
// server is the proxy. The apiserver's certificate covers 127.0.0.1, so
// TLS is verified through the proxy as without it.
func proxyKubeconfig(t *testing.T, e *testenv.Env, addr string) string {
	t.Helper()
	kc, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc.Clusters {
		c.Server = "https://" + addr
	}
	path := filepath.Join(t.TempDir(), "proxy.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// flakyProxy is a TCP proxy on loopback in front of one address. Every
// chunk read from either side is written to the other latency later, as
// over a long or congested network, without limiting the throughput; and
// cut closes every connection through it at once, as a lost route or a
// restarted load balancer would. It passes TLS through untouched.
type flakyProxy struct {
	ln      net.Listener
	target  string
	latency time.Duration
	// accepted counts the connections proxied, cuts those cut.
	accepted, cuts atomic.Int64

	mu     sync.Mutex
	conns  map[*proxiedConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// proxiedConn is one client connection and its connection to the target.
type proxiedConn struct {
	client, server net.Conn
	once           sync.Once
}

func (c *proxiedConn) close() {
	c.once.Do(func() {
		_ = c.client.Close()
		_ = c.server.Close()
	})
}

// startFlakyProxy listens on a loopback port and proxies to target until
// the test ends.
func startFlakyProxy(t *testing.T, target string, latency time.Duration) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: target, latency: latency, conns: map[*proxiedConn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *flakyProxy) addr() string { return p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.handle(client)
	}
}

// handle relays one connection both ways until both sides have closed it
// or it is cut.
func (p *flakyProxy) handle(client net.Conn) {
	defer p.wg.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	c := &proxiedConn{client: client, server: server}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.close()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	p.accepted.Add(1)

	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.relay(c, server, client) }()
	go func() { defer both.Done(); p.relay(c, client, server) }()
	both.Wait()
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// relay copies src to dst, each chunk held back until latency after it
// was read. When src ends, dst is half-closed, so the other direction
// finishes; when a write fails, the connection is closed.
func (p *flakyProxy) relay(c *proxiedConn, dst, src net.Conn) {
	type chunk struct {
		data []byte
		due  time.Time
	}
	chunks := make(chan chunk, 256)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{data: buf[:n], due: time.Now().Add(p.latency)}
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for ch := range chunks {
		if failed {
			continue
		}
		time.Sleep(time.Until(ch.due))
		if _, err := dst.Write(ch.data); err != nil {
			failed = true
			c.close()
		}
	}
	if tcp, ok := dst.(*net.TCPConn); ok && !failed {
		_ = tcp.CloseWrite()
	}
}

// cut closes every connection through the proxy.
func (p *flakyProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.close()
	}
	p.cuts.Add(int64(len(p.conns)))
}

// cutAtRandom cuts every connection after each pause drawn from rng in
// [lo, hi), until the returned function is called.
func (p *flakyProxy) cutAtRandom(rng *rand.Rand, lo, hi time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(randomDelay(rng, lo, hi)):
				p.cut()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// close stops accepting, closes every connection and waits for the
// relays to end.
func (p *flakyProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
