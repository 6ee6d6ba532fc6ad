package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/gittest"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

const jobYAML = `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: %s
spec:
  type: Scala
  image: apache/spark:3.5.3
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples_2.12-3.5.3.jar
  arguments: ["%d"]
  concurrencyPolicy: Allow
`

// TestServeGitOps runs `sparkcd serve` with a JobSource on a real git
// server: the first commit's job runs; a second commit, announced by a
// signed webhook, starts a new run.
func TestServeGitOps(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	repo := gittest.NewRepo(t)
	repo.WriteFile(t, "jobs/pi.yaml", fmt.Sprintf(jobYAML, "pi", 100))
	repo.CommitAndPush(t, "pi")
	git := gittest.StartHTTP(t, gittest.Handler(t, repo.Root, nil), false)

	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: ns}, StringData: map[string]string{"token": "s3cret"}},
		&v1alpha1.JobSource{
			ObjectMeta: metav1.ObjectMeta{Name: "jobs", Namespace: ns},
			Spec: v1alpha1.JobSourceSpec{
				URL: git.URL(""), Path: "jobs", Interval: metav1.Duration{Duration: time.Hour},
				WebhookSecretRef: &meta.LocalObjectReference{Name: "hook"},
			},
		},
	} {
		if err := e.Client.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	hookAddr := freeAddr(t)
	logs := startServe(t, e, ns, "--webhook-addr", hookAddr).logs

	waitDrivers(t, e, ns, 1, logs)
	repo.WriteFile(t, "jobs/pi.yaml", fmt.Sprintf(jobYAML, "pi", 200))
	rev := repo.CommitAndPush(t, "pi: 200 slices")

	body := `{"ref":"refs/heads/main"}`
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(body))
	deadline := time.Now().Add(time.Minute)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+hookAddr+"/hooks/"+ns+"/jobs", strings.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				break
			}
			t.Fatalf("the webhook answered %s", resp.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the webhook receiver did not answer: %v\n%s", err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitDrivers(t, e, ns, 2, logs)
	// The new job's run may start before the source loop writes the
	// status of the apply that made it: the status says so soon after.
	testenv.Eventually(t, time.Minute, "lastAppliedRevision the pushed commit "+rev, func() (bool, string) {
		src := &v1alpha1.JobSource{}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "jobs"}, src); err != nil {
			t.Fatal(err)
		}
		return strings.HasSuffix(src.Status.LastAppliedRevision, rev), "lastAppliedRevision " + src.Status.LastAppliedRevision
	})
}

// TestLeaderElection starts two `sparkcd serve` processes with leader
// election against one API server: exactly one acts; SIGKILL of the
// leader hands over to the other once the Lease expires, and no run is
// started twice.
func TestLeaderElection(t *testing.T) {
	e := env.Env(t)
	ns := e.Namespace(t)
	ctx := t.Context()
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	const lease = 4 * time.Second
	replicas := [2]*replica{startReplica(t, e, ns, lease), startReplica(t, e, ns, lease)}

	createJobs(t, e, ns, 0, 5)
	waitDrivers(t, e, ns, 5, replicas[0].logs)
	leader, follower := leaderOf(t, replicas)
	if follower.logs.contains("Successfully acquired lease") {
		t.Fatalf("both replicas acquired the lease:\n--- 0:\n%s\n--- 1:\n%s", replicas[0].logs, replicas[1].logs)
	}

	killed := time.Now()
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-leader.done
	createJobs(t, e, ns, 5, 10)
	waitDrivers(t, e, ns, 10, follower.logs)
	took := time.Since(killed)
	t.Logf("the follower took over and started 5 runs %s after the leader's SIGKILL (lease %s)", took.Round(time.Millisecond), lease)
	if took > 3*lease {
		t.Errorf("handover took %s, more than 3 × the lease duration %s", took, lease)
	}
	// Each job has exactly one driver: nothing was started twice.
	pods := &corev1.PodList{}
	if err := e.Client.List(ctx, pods, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, p := range pods.Items {
		per[p.Labels[v1alpha1.LabelJob]]++
	}
	for job, n := range per {
		if n != 1 {
			t.Errorf("job %s has %d drivers, want 1", job, n)
		}
	}
	l := &coordinationv1.Lease{}
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "sparkcd-leader"}, l); err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		t.Errorf("the Lease has no holder after the handover")
	}
}

// replica is a `sparkcd serve` process: the test binary running main.
type replica struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

func startReplica(t *testing.T, e *testenv.Env, ns string, lease time.Duration) *replica {
	t.Helper()
	r := &replica{logs: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(os.Args[0], "serve", "--kubeconfig", e.Kubeconfig, "--namespaces", ns,
		"--leader-elect", "--leader-election-namespace", ns,
		"--leader-election-lease-duration", lease.String(), "--leader-election-renew-deadline", (lease * 3 / 4).String(),
		"--leader-election-retry-period", "500ms",
		"--metrics-addr", "0", "--health-addr", "", "--webhook-addr", "", "--cache-dir", t.TempDir(),
		"--skip-driver-access-review", "--log-format", "text")
	r.cmd.Env = append(os.Environ(), runMainEnv+"=1")
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// leaderOf returns the replica that logged acquiring the Lease, and the
// other.
func leaderOf(t *testing.T, rs [2]*replica) (*replica, *replica) {
	t.Helper()
	for i, r := range rs {
		if r.logs.contains("Successfully acquired lease") {
			return r, rs[1-i]
		}
	}
	t.Fatalf("no replica acquired the lease:\n--- 0:\n%s\n--- 1:\n%s", rs[0].logs, rs[1].logs)
	return nil, nil
}

func (s *syncBuffer) contains(sub string) bool { return strings.Contains(s.String(), sub) }

func createJobs(t *testing.T, e *testenv.Env, ns string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		job := piJob(ns)
		job.Name = fmt.Sprintf("pi-%d", i)
		if err := e.Client.Create(t.Context(), job); err != nil {
			t.Fatal(err)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
