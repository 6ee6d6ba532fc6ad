package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// The demo's fixed names.
const (
	sourceNamespace = "spark-dev"
	sourceName      = "examples"
	webhookSecret   = "jobs-webhook"
	webhookToken    = "demo-webhook-token"
	jobsNamespace   = "spark-dev"
)

// demo holds what the demo started, to stop it at the end.
type demo struct {
	opts options
	work string
	env  *testenv.Env

	repo      string // the work clone commits are made in
	commits   int    // how many commits the repository has
	gitServer *http.Server
	gitURL    string

	serve       *exec.Cmd
	serveDone   chan struct{} // closed when serve exits
	serveErr    error
	webhookAddr string
	collected   runObjects

	ui     *exec.Cmd
	uiDone chan struct{} // closed when the UI exits
	uiURL  string
}

func (d *demo) path(elem ...string) string {
	return filepath.Join(append([]string{d.work}, elem...)...)
}

func (d *demo) startCluster(ctx context.Context) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	opts := []testenv.Option{
		testenv.WithControllerManager(),
		testenv.WithKWOK(filepath.Join(root, "deploy", "demo", "kwok", "stages.yaml")),
		testenv.WithLogDir(d.path("logs")),
		testenv.WithCRDPaths(filepath.Join(root, "deploy", "crds")),
	}
	// Kueue before sparkcd serve: sparkcd looks for its Workload API once,
	// at start.
	if d.opts.queue == queueKueue {
		opts = append(opts, testenv.WithKueue())
	}
	env, err := testenv.StartProcess(ctx, opts...)
	if err != nil {
		return err
	}
	d.env = env
	info("kube-apiserver at %s; kubeconfig %s", env.Config.Host, env.Kubeconfig)
	out, err := env.Kubectl(ctx, "apply", "--server-side", "-f", "deploy/demo/kwok/node.yaml").CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl apply -f deploy/demo/kwok/node.yaml: %w: %s", err, out)
	}
	info("%s: a KWOK node of 32 cpu and 128Gi; drivers scheduled there run for about 10 s and succeed", strings.TrimSpace(string(out)))
	return nil
}

func (d *demo) prepareNamespaces(ctx context.Context) error {
	out, err := d.env.Kubectl(ctx, "apply", "--server-side", "-k", "deploy/examples/spark-namespace").CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl apply -k deploy/examples/spark-namespace: %w: %s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		info("%s", line)
	}
	return nil
}

// startGit commits jobs/examples into a repository and serves its bare
// clone with the real `git http-backend`.
func (d *demo) startGit(ctx context.Context) error {
	d.repo = d.path("jobs")
	if err := os.CopyFS(d.repo, os.DirFS("jobs/examples")); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"}, {"add", "-A"},
		{"commit", "-q", "-m", "Add sirene-count, spark-pi and nightly-etl"},
		{"clone", "-q", "--bare", d.repo, d.path("git", "jobs.git")},
	} {
		if _, err := d.git(ctx, args...); err != nil {
			return err
		}
	}
	if _, err := d.git(ctx, "remote", "add", "origin", d.path("git", "jobs.git")); err != nil {
		return err
	}
	d.commits = 1
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return fmt.Errorf("the demo needs git: install it (apt-get install git): %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.gitServer = &http.Server{Handler: &cgi.Handler{
		Path: gitBin, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + d.path("git"), "GIT_HTTP_EXPORT_ALL=1"},
	}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = d.gitServer.Serve(ln) }()
	d.gitURL = "http://" + ln.Addr().String() + "/jobs.git"
	head, _ := d.git(ctx, "log", "--oneline", "-1")
	info("git repository %s: %s", d.gitURL, head)
	return nil
}

func (d *demo) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", d.repo, "-c", "user.name=Data Engineer", "-c", "user.email=de@example.com"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// startSparkcd runs `sparkcd serve` as a process of its own, as in a pod.
func (d *demo) startSparkcd(ctx context.Context) error {
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	d.webhookAddr = ports[0]
	logFile, err := os.Create(d.path("logs", "sparkcd.log"))
	if err != nil {
		return err
	}
	args := []string{"serve",
		"--kubeconfig", d.env.Kubeconfig,
		"--policies", d.opts.policies,
		"--cache-dir", d.path("cache"),
		"--webhook-addr", d.webhookAddr,
		"--metrics-addr", ports[1],
		"--health-addr", ports[2],
		"--cleanup-schedule", "",
		"--log-format", "text",
	}
	d.serve = exec.Command(d.opts.sparkcd, args...)
	d.serve.Stdout, d.serve.Stderr = logFile, logFile
	d.serve.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.serve.Start(); err != nil {
		return fmt.Errorf("unable to start sparkcd: %w", err)
	}
	d.serveDone = make(chan struct{})
	go func() { d.serveErr = d.serve.Wait(); _ = logFile.Close(); close(d.serveDone) }()
	if err := waitHTTP(ctx, "http://"+ports[2]+"/readyz", d.serveDone); err != nil {
		return fmt.Errorf("sparkcd serve did not become ready (log: %s): %w", d.path("logs", "sparkcd.log"), err)
	}
	info("sparkcd serve pid %d ready; webhooks on %s, metrics on %s; log %s", d.serve.Process.Pid, d.webhookAddr, ports[1], d.path("logs", "sparkcd.log"))
	return nil
}

func (d *demo) createSource(ctx context.Context) error {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: webhookSecret, Namespace: sourceNamespace},
		StringData: map[string]string{"token": webhookToken},
	}
	if err := d.env.Client.Create(ctx, secret); err != nil {
		return err
	}
	src := &v1alpha1.JobSource{
		ObjectMeta: metav1.ObjectMeta{Name: sourceName, Namespace: sourceNamespace},
		Spec: v1alpha1.JobSourceSpec{
			URL:              d.gitURL,
			Ref:              &v1alpha1.GitRef{Branch: "main"},
			Path:             "overlays/dev",
			Interval:         metav1.Duration{Duration: 10 * time.Minute},
			TargetNamespaces: []string{jobsNamespace},
			Prune:            true,
			WebhookSecretRef: &meta.LocalObjectReference{Name: webhookSecret},
		},
	}
	if err := d.env.Client.Create(ctx, src); err != nil {
		return err
	}
	info("JobSource %s/%s: %s, branch main, path overlays/dev, every 10m or on webhook", sourceNamespace, sourceName, d.gitURL)
	return nil
}

// callWebhook posts a GitHub-style push event signed with the source's
// webhook secret.
func (d *demo) callWebhook(ctx context.Context) error {
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte(webhookToken))
	mac.Write(body)
	url := fmt.Sprintf("http://%s/hooks/%s/%s", d.webhookAddr, sourceNamespace, sourceName)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	_ = resp.Body.Close()
	info("POST %s → %s", url, resp.Status)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

func (d *demo) stopAll() {
	d.stopUI()
	if d.serve != nil && d.serve.Process != nil {
		_ = d.serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.serveDone:
			info("sparkcd serve stopped")
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-d.serve.Process.Pid, syscall.SIGKILL)
			<-d.serveDone
			info("sparkcd serve killed after 30s")
		}
	}
	if d.gitServer != nil {
		_ = d.gitServer.Close()
		info("git server stopped")
	}
	if d.env != nil {
		if err := d.env.Stop(); err != nil {
			info("stopping the control plane: %v", err)
		} else {
			stopped := "KWOK, kube-scheduler, kube-controller-manager, kube-apiserver and etcd"
			if d.opts.queue == queueKueue {
				stopped = "Kueue, " + stopped
			}
			info("%s stopped", stopped)
		}
	}
}

func freePorts(n int) ([]string, error) {
	var addrs []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs, nil
}

// waitHTTP polls url until it answers 200, the process ends or ctx ends.
func waitHTTP(ctx context.Context, url string, exited <-chan struct{}) error {
	for {
		resp, err := http.Get(url) //nolint:noctx // loopback, bounded by the loop
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("it exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
