package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// watcher polls the cluster and prints each change once: the source's
// revision and readiness, SparkJobs applied, runs started, driver phases.
type watcher struct {
	d    *demo
	mu   sync.Mutex
	seen map[string]string
	// runs counts the driver pods seen, phases the phases they reached.
	runs      map[string]bool
	succeeded map[string]bool
	jobs      map[string]bool
	done      chan struct{}
	stopOnce  sync.Once
}

func newWatcher(d *demo) *watcher {
	return &watcher{d: d, seen: map[string]string{}, runs: map[string]bool{}, succeeded: map[string]bool{}, jobs: map[string]bool{}, done: make(chan struct{})}
}

func (w *watcher) run(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			return
		case <-tick.C:
		}
	}
}

func (w *watcher) stop() { w.stopOnce.Do(func() { close(w.done) }) }

// changed reports whether key's value is new, and remembers it.
func (w *watcher) changed(key, value string) bool {
	if w.seen[key] == value {
		return false
	}
	w.seen[key] = value
	return true
}

func (w *watcher) poll(ctx context.Context) {
	c := w.d.env.Client
	w.mu.Lock()
	defer w.mu.Unlock()
	src := &v1alpha1.JobSource{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: sourceNamespace, Name: sourceName}, src); err == nil {
		if r := apimeta.FindStatusCondition(src.Status.Conditions, meta.ReadyCondition); r != nil {
			if w.changed("source/ready", string(r.Status)+r.Reason+r.Message) {
				info("JobSource %s: Ready=%s %s: %s", sourceName, r.Status, r.Reason, r.Message)
			}
		}
	}
	jobs := &v1alpha1.SparkJobList{}
	if err := c.List(ctx, jobs, client.InNamespace(jobsNamespace)); err == nil {
		for i := range jobs.Items {
			w.job(&jobs.Items[i])
		}
	}
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(jobsNamespace), client.MatchingLabels{v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err == nil {
		sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
		for i := range pods.Items {
			w.pod(&pods.Items[i])
		}
	}
}

func (w *watcher) job(j *v1alpha1.SparkJob) {
	key := "job/" + j.Name
	if !w.jobs[j.Name] {
		w.jobs[j.Name] = true
		info("SparkJob %s applied from %s", j.Name, j.Annotations[v1alpha1.AnnotationRevision])
	}
	if r := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition); r != nil && w.changed(key+"/ready", string(r.Status)+r.Reason) {
		info("SparkJob %s: Ready=%s %s: %s", j.Name, r.Status, r.Reason, oneLine(r.Message))
	}
	if t := j.Status.NextScheduleTime; t != nil && w.changed(key+"/next", t.String()) {
		info("SparkJob %s: next scheduled run at %s (schedule %q in %s)", j.Name, t.Format(time.RFC3339), j.Spec.Schedule, j.Spec.TimeZone)
	}
}

func (w *watcher) pod(p *corev1.Pod) {
	run := p.Labels[v1alpha1.LabelRun]
	if !w.runs[run] {
		w.runs[run] = true
		info("run %s started (%s, revision %s): driver pod %s", run, p.Annotations[v1alpha1.AnnotationTrigger], short(p.Annotations[v1alpha1.AnnotationRevision]), p.Name)
	}
	phase := string(p.Status.Phase)
	if p.Spec.NodeName != "" && phase == string(corev1.PodPending) {
		phase += " on " + p.Spec.NodeName
	}
	if runid.QueueGated(p) {
		phase += ", gated: waiting for admission in Kueue LocalQueue '" + p.Annotations[v1alpha1.AnnotationQueue] + "'"
	}
	if w.changed("pod/"+p.Name, phase) {
		info("driver %s: %s", p.Name, phase)
	}
	if p.Status.Phase == corev1.PodSucceeded {
		w.succeeded[run] = true
	}
}

// waitFor polls cond every half second, printing nothing itself: the
// watcher reports the progress.
func (w *watcher) waitFor(ctx context.Context, what string, cond func(context.Context) (bool, error)) error {
	info("waiting for %s", what)
	for {
		ok, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s (sparkcd log: %s)", what, w.d.path("logs", "sparkcd.log"))
		case <-w.d.serveDone:
			return fmt.Errorf("sparkcd serve exited while waiting for %s: %v (log: %s)", what, w.d.serveErr, w.d.path("logs", "sparkcd.log"))
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// firstRunsDone: the jobs without a schedule have a succeeded run, the
// scheduled one knows its next tick.
func (d *demo) firstRunsDone(ctx context.Context) (bool, error) {
	jobs := &v1alpha1.SparkJobList{}
	if err := d.env.Client.List(ctx, jobs, client.InNamespace(jobsNamespace)); err != nil {
		return false, err
	}
	if len(jobs.Items) < 3 {
		return false, nil
	}
	for _, j := range jobs.Items {
		if j.Spec.Schedule != "" {
			if j.Status.NextScheduleTime == nil {
				return false, nil
			}
			continue
		}
		if j.Status.LastRun == nil || j.Status.LastRun.Phase != v1alpha1.RunSucceeded {
			return false, nil
		}
	}
	return true, nil
}

// secondCommit changes spark-pi's argument (a new spec, so a new run) and
// gives sirene-count 40 executors in dev, which the dev policy audits.
func (d *demo) secondCommit(ctx context.Context) (string, error) {
	pi := filepath.Join(d.repo, "base", "spark-pi", "job.yaml")
	b, err := os.ReadFile(pi)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(pi, []byte(strings.Replace(string(b), `- "1000"`, `- "5000"`, 1)), 0o644); err != nil {
		return "", err
	}
	overlay := filepath.Join(d.repo, "overlays", "dev", "kustomization.yaml")
	b, err = os.ReadFile(overlay)
	if err != nil {
		return "", err
	}
	patch := `  - target:
      group: sparkcd.io
      kind: SparkJob
      name: sirene-count
    patch: |-
      - op: replace
        path: /spec/dynamicAllocation/maxExecutors
        value: 40
`
	if err := os.WriteFile(overlay, append(b, patch...), 0o644); err != nil {
		return "", err
	}
	return d.commit(ctx, "spark-pi: 5000 slices; sirene-count: 40 executors in dev")
}

// commit commits every change of the work clone with msg, pushes it,
// prints its stat and returns its revision.
func (d *demo) commit(ctx context.Context, msg string) (string, error) {
	if _, err := d.git(ctx, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := d.git(ctx, "commit", "-q", "-m", msg); err != nil {
		return "", err
	}
	if _, err := d.git(ctx, "push", "-q", "origin", "main"); err != nil {
		return "", err
	}
	d.commits++
	rev, err := d.git(ctx, "rev-parse", "HEAD")
	if err != nil {
		return "", err
	}
	diff, _ := d.git(ctx, "show", "--stat", "--oneline", "HEAD")
	for _, line := range strings.Split(diff, "\n") {
		info("%s", line)
	}
	return rev, nil
}

// review prints the start of what `sparkcd diff` posts on the pull
// request: the summary, then each changed job's findings, envelope and
// unified diff of its rendered objects.
func (d *demo) review(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, d.opts.sparkcd, "diff", "--repo", d.repo, "--from", "HEAD~1", "--to", "HEAD",
		"overlays/dev", "--policies", d.opts.policies)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return fmt.Errorf("sparkcd diff: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, line := range lines {
		if i == 45 {
			info("… (%d lines in all: the unified diff of every rendered object)", len(lines))
			break
		}
		info("%s", line)
	}
	return nil
}

// secondRunDone: the jobs the commit changed, spark-pi and sirene-count,
// have a last run from rev that succeeded.
func (d *demo) secondRunDone(ctx context.Context, rev string) (bool, error) {
	for _, name := range []string{"spark-pi", "sirene-count"} {
		j := &v1alpha1.SparkJob{}
		if err := d.env.Client.Get(ctx, types.NamespacedName{Namespace: jobsNamespace, Name: name}, j); err != nil {
			return false, err
		}
		r := j.Status.LastRun
		if r == nil || !strings.HasSuffix(r.Revision, rev) || r.Phase != v1alpha1.RunSucceeded {
			return false, nil
		}
	}
	return true, nil
}

// printFindings shows the policy findings the source reports per job.
func (d *demo) printFindings(ctx context.Context) error {
	src := &v1alpha1.JobSource{}
	if err := d.env.Client.Get(ctx, types.NamespacedName{Namespace: sourceNamespace, Name: sourceName}, src); err != nil {
		return err
	}
	step("Policy findings on the JobSource (the dev policy audits: the jobs still run)")
	n := 0
	for _, j := range src.Status.Jobs {
		for _, f := range j.Findings {
			n++
			info("%s %s/%s %s: %s: %s [policy %s]", f.Severity, j.Namespace, j.Name, f.Rule, f.Field, f.Message, f.Policy)
		}
	}
	if n == 0 {
		info("none")
	}
	return nil
}

// cleanup runs one pass of `sparkcd cleanup --once` with a one-second TTL,
// then waits for the garbage collector to remove what the drivers owned.
func (d *demo) cleanup(ctx context.Context) error {
	before, err := d.count(ctx)
	if err != nil {
		return err
	}
	info("before: %s", before)
	time.Sleep(time.Second)
	cmd := exec.CommandContext(ctx, d.opts.sparkcd, "cleanup", "--once", "--kubeconfig", d.env.Kubeconfig,
		"--succeeded-ttl", "1s", "--failed-ttl", "1s", "--cleanup-namespaces", jobsNamespace)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		info("%s", line)
	}
	if err != nil {
		return fmt.Errorf("sparkcd cleanup: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		after, err := d.count(ctx)
		if err != nil {
			return err
		}
		if after.pods == 0 && after.configMaps == 0 && after.services == 0 || time.Now().After(deadline) {
			info("after the garbage collector: %s", after)
			d.collected = runObjects{before.pods - after.pods, before.configMaps - after.configMaps, before.services - after.services}
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// runObjects counts what runs left in the jobs namespace.
type runObjects struct{ pods, configMaps, services int }

func (r runObjects) String() string {
	return fmt.Sprintf("%d driver pods, %d ConfigMaps, %d Services", r.pods, r.configMaps, r.services)
}

func (d *demo) count(ctx context.Context) (runObjects, error) {
	managed := client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}
	var r runObjects
	pods := &corev1.PodList{}
	if err := d.env.Client.List(ctx, pods, client.InNamespace(jobsNamespace), managed); err != nil {
		return r, err
	}
	cms := &corev1.ConfigMapList{}
	if err := d.env.Client.List(ctx, cms, client.InNamespace(jobsNamespace), managed); err != nil {
		return r, err
	}
	svcs := &corev1.ServiceList{}
	if err := d.env.Client.List(ctx, svcs, client.InNamespace(jobsNamespace), managed); err != nil {
		return r, err
	}
	return runObjects{len(pods.Items), len(cms.Items), len(svcs.Items)}, nil
}

func (d *demo) summary(_ context.Context, w *watcher, took time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	info("%d SparkJobs applied from %d commits, %d runs started, %d succeeded", len(w.jobs), d.commits, len(w.runs), len(w.succeeded))
	info("cleanup removed %s, with the garbage collector", d.collected)
	info("done in %s", took.Round(time.Second))
	info("sparkcd ui was at %s (make demo HOLD=1 keeps it open; docs/images/ui-jobs.png shows it)", d.uiURL)
	return nil
}

func short(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 && len(rev) > i+13 {
		return rev[:i+13]
	}
	return rev
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
