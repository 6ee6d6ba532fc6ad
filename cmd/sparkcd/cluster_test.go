package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env runs the garbage collector too: `sparkcd stop` relies on it to take a
// stopped driver's executors and objects.
var env = testenv.NewShared(testenv.WithControllerManager())

// runMainEnv makes the test binary run sparkcd's main instead of the
// tests, so a test can start sparkcd as a process of its own and kill it.
const runMainEnv = "SPARKCD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(env.Run(m))
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader on two
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cli runs the CLI in-process without changing directory.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func piJob(ns string) *v1alpha1.SparkJob {
	return &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: ns},
		Spec: v1alpha1.SparkJobSpec{
			Type:                v1alpha1.ScalaApplication,
			Image:               ptr.To("apache/spark:3.5.3"),
			MainClass:           ptr.To("org.apache.spark.examples.SparkPi"),
			MainApplicationFile: ptr.To("local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar"),
		},
	}
}

// TestServeRunStatus runs `sparkcd serve` against the real API server, and
// `sparkcd run` and `sparkcd status` beside it.
func TestServeRunStatus(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, e, ns)
	logs := srv.logs
	if err := e.Client.Create(ctx, piJob(ns)); err != nil {
		t.Fatal(err)
	}
	waitDrivers(t, e, ns, 1, logs)

	code, out, errOut := cli(t, "run", "pi", "-n", ns, "--kubeconfig", e.Kubeconfig, "--wait", "0")
	if code != 0 || !strings.Contains(out, "sparkjob/pi: run requested at") {
		t.Fatalf("run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	// The first run is still pending: Forbid makes the manual run wait, and
	// says so in the status.
	code, out, errOut = cli(t, "status", "-n", ns, "--kubeconfig", e.Kubeconfig)
	if code != 0 || !strings.Contains(out, ns+"/pi") || !strings.Contains(out, "LAST RUN") {
		t.Fatalf("status: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	code, out, errOut = cli(t, "run", "missing", "-n", ns, "--kubeconfig", e.Kubeconfig)
	if code != exitInput || !strings.Contains(errOut, "no SparkJob '"+ns+"/missing'") {
		t.Fatalf("run of a missing job: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	if code := srv.stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, logs)
	}
}

// TestServeManualRunAllow requests a manual run of an Allow job and waits
// for it to start with --wait-start.
func TestServeManualRunAllow(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	logs := startServe(t, e, ns).logs
	job := piJob(ns)
	job.Spec.ConcurrencyPolicy = v1alpha1.AllowConcurrent
	if err := e.Client.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	waitDrivers(t, e, ns, 1, logs)
	// A request the loop sees before it has recorded the commit's run is
	// answered by that run (one run answers every trigger due at once), so
	// the manual run this test wants is requested once the status names it.
	testenv.Eventually(t, time.Minute, "the commit's run in the status", func() (bool, string) {
		got := &v1alpha1.SparkJob{}
		if err := e.Client.Get(ctx, client.ObjectKeyFromObject(job), got); err != nil {
			return false, err.Error()
		}
		return got.Status.LastRun != nil && got.Status.SpecHash != "", fmt.Sprintf("status %+v", got.Status.LastRun)
	})
	code, out, errOut := cli(t, "run", "pi", "-n", ns, "--kubeconfig", e.Kubeconfig, "--wait-start", "1m")
	if code != 0 || !strings.Contains(out, "sparkjob/pi: run pi-m") {
		t.Fatalf("run --wait-start: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	waitDrivers(t, e, ns, 2, logs)
}

// inProcessServe is `sparkcd serve` running in the test's process.
type inProcessServe struct {
	logs *syncBuffer
	// stop ends serve and returns its exit code; the test's end calls it
	// too.
	stop func() int
}

// startServe runs `sparkcd serve` on namespace ns of e, with no metrics,
// health or webhook endpoints and no driver access reviews, its logs as
// text; extra flags come last, so they win.
func startServe(t *testing.T, e *testenv.Env, ns string, extra ...string) *inProcessServe {
	t.Helper()
	args := append([]string{"serve", "--kubeconfig", e.Kubeconfig, "--namespaces", ns,
		"--metrics-addr", "0", "--health-addr", "", "--webhook-addr", "", "--cache-dir", t.TempDir(),
		"--skip-driver-access-review", "--log-format", "text"}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &inProcessServe{logs: &syncBuffer{}}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, s.logs, s.logs) }()
	var once sync.Once
	code := 0
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(time.Minute):
				t.Errorf("serve did not stop within a minute of its context's end:\n%s", s.logs)
				code = -1
			}
		})
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func waitDrivers(t *testing.T, e *testenv.Env, ns string, n int, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pods := &corev1.PodList{}
		if err := e.Client.List(t.Context(), pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d driver pods after a minute, want %d; serve logs:\n%s", len(pods.Items), n, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFlagsFromEnv(t *testing.T) {
	t.Setenv("SPARKCD_METRICS_ADDR", "127.0.0.1:9999")
	t.Setenv("SPARKCD_CONCURRENCY", "not-a-number")
	code, _, errOut := cli(t, "serve", "--kubeconfig", "/nonexistent")
	if code != exitInput || !strings.Contains(errOut, "SPARKCD_CONCURRENCY") {
		t.Fatalf("exit %d, stderr %q; want 2 naming SPARKCD_CONCURRENCY", code, errOut)
	}
	t.Setenv("SPARKCD_CONCURRENCY", "4")
	code, _, errOut = cli(t, "serve", "--kubeconfig", "/nonexistent/kubeconfig")
	if code != exitInput || !strings.Contains(errOut, "unable to load the cluster configuration") {
		t.Fatalf("exit %d, stderr %q; want 2 for an unreadable kubeconfig", code, errOut)
	}
}
