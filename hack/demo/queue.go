package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// The queueing act (make demo QUEUE=kueue): Kueue runs beside the control
// plane, a ClusterQueue's quota fits two of three runs committed at once,
// and the third waits Queued until one of the two ends.

// queueKueue is the one queueing act the demo has.
const queueKueue = "kueue"

// The act's files and names: deploy/demo/kueue/queues.yaml makes the
// LocalQueue "spark" in the jobs namespace, deploy/demo/kueue/jobs.yaml
// the three jobs that name it.
const (
	queuesFile     = "deploy/demo/kueue/queues.yaml"
	queuedJobsFile = "deploy/demo/kueue/jobs.yaml"
	demoQueue      = "spark"
)

var queuedJobs = []string{"queued-pi-a", "queued-pi-b", "queued-pi-c"}

// queueAct creates the queues, commits the three queued jobs, shows them
// two running and one Queued (with `sparkcd status`), then the third
// admitted when a run ends, and its queueing time in its history.
func (d *demo) queueAct(ctx context.Context, w *watcher) error {
	step("Queueing with Kueue: a ClusterQueue whose quota fits two runs, the LocalQueue 'spark' in spark-dev (" + queuesFile + ")")
	out, err := d.env.Kubectl(ctx, "apply", "--server-side", "-f", queuesFile).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl apply -f %s: %w: %s", queuesFile, err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		info("%s", line)
	}
	info("each run reserves its driver and its peak of 2 executors, 3 cpu; the quota is 6 cpu, the KWOK node 32")
	step("A data engineer commits three jobs with batchScheduler kueue in queue 'spark'; the webhook fetches them")
	rev, err := d.commitQueuedJobs(ctx)
	if err != nil {
		return err
	}
	if err := d.callWebhook(ctx); err != nil {
		return err
	}
	var waiting string
	if err := w.waitFor(ctx, "two queued runs admitted and running, the third Queued", func(ctx context.Context) (bool, error) {
		var err error
		waiting, err = d.twoRunningOneQueued(ctx, rev)
		return waiting != "", err
	}); err != nil {
		return err
	}
	step("What the user sees: sparkcd status -n spark-dev (" + waiting + " waits for the quota)")
	out, err = d.printStatus(ctx, "-n", jobsNamespace)
	if err != nil {
		return err
	}
	if !statusShowsQueued(out, waiting) {
		return fmt.Errorf("sparkcd status does not show SparkJob %s Queued:\n%s", waiting, out)
	}
	if err := w.waitFor(ctx, "a run to end and "+waiting+" to be admitted, then all three to succeed", func(ctx context.Context) (bool, error) {
		return d.queuedRunsDone(ctx, rev)
	}); err != nil {
		return err
	}
	step("The queueing time stays in the history: sparkcd status " + waiting)
	if _, err := d.printStatus(ctx, "-n", jobsNamespace, waiting); err != nil {
		return err
	}
	return d.checkQueuedSeconds(ctx, waiting)
}

// commitQueuedJobs adds deploy/demo/kueue/jobs.yaml to the jobs
// repository as base/queued, pushes, and returns the new revision.
func (d *demo) commitQueuedJobs(ctx context.Context) (string, error) {
	jobs, err := os.ReadFile(queuedJobsFile)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(d.repo, "base", "queued")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - jobs.yaml\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "jobs.yaml"), jobs, 0o644); err != nil {
		return "", err
	}
	base := filepath.Join(d.repo, "base", "kustomization.yaml")
	b, err := os.ReadFile(base)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(base, append(b, "  - queued\n"...), 0o644); err != nil {
		return "", err
	}
	return d.commit(ctx, "Add queued-pi-a, -b and -c, queued in Kueue's LocalQueue spark")
}

// twoRunningOneQueued returns the queued job waiting for admission once
// two of the three have a running driver from rev and the third reports
// Queued; "" before.
func (d *demo) twoRunningOneQueued(ctx context.Context, rev string) (string, error) {
	running, queued := 0, ""
	for _, name := range queuedJobs {
		j := &v1alpha1.SparkJob{}
		if err := d.env.Client.Get(ctx, types.NamespacedName{Namespace: jobsNamespace, Name: name}, j); err != nil {
			return "", client.IgnoreNotFound(err)
		}
		if r := j.Status.LastRun; r == nil || !strings.HasSuffix(r.Revision, rev) {
			return "", nil
		}
		pods := &corev1.PodList{}
		if err := d.env.Client.List(ctx, pods, client.InNamespace(jobsNamespace),
			client.MatchingLabels{v1alpha1.LabelJob: name, v1alpha1.LabelSparkRole: v1alpha1.RoleDriver}); err != nil {
			return "", err
		}
		ready := apimeta.FindStatusCondition(j.Status.Conditions, meta.ReadyCondition)
		switch {
		case len(pods.Items) == 1 && pods.Items[0].Status.Phase == corev1.PodRunning:
			running++
		case len(pods.Items) == 1 && runid.QueueGated(&pods.Items[0]) && ready != nil && ready.Reason == runid.ReasonQueued:
			queued = name
		}
	}
	if running != 2 || queued == "" {
		return "", nil
	}
	return queued, nil
}

// queuedRunsDone: the three queued jobs have a last run from rev that
// succeeded.
func (d *demo) queuedRunsDone(ctx context.Context, rev string) (bool, error) {
	for _, name := range queuedJobs {
		j := &v1alpha1.SparkJob{}
		if err := d.env.Client.Get(ctx, types.NamespacedName{Namespace: jobsNamespace, Name: name}, j); err != nil {
			return false, err
		}
		if r := j.Status.LastRun; r == nil || !strings.HasSuffix(r.Revision, rev) || r.Phase != v1alpha1.RunSucceeded {
			return false, nil
		}
	}
	return true, nil
}

// checkQueuedSeconds fails unless the job that waited records, in its
// history, the queue and a queueing time of a second or more.
func (d *demo) checkQueuedSeconds(ctx context.Context, name string) error {
	j := &v1alpha1.SparkJob{}
	if err := d.env.Client.Get(ctx, types.NamespacedName{Namespace: jobsNamespace, Name: name}, j); err != nil {
		return err
	}
	for _, r := range j.Status.History {
		if r.Queue == demoQueue && r.QueuedSeconds != nil && *r.QueuedSeconds >= 1 {
			info("%s's run %s waited %ds in queue '%s' (status.history[].queuedSeconds)", name, r.Name, *r.QueuedSeconds, r.Queue)
			return nil
		}
	}
	return fmt.Errorf("SparkJob %s waited Queued, yet its history records no queueing time in '%s': %+v", name, demoQueue, j.Status.History)
}

// printStatus runs `sparkcd status` with args, prints its output and
// returns it.
func (d *demo) printStatus(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.opts.sparkcd, append([]string{"status", "--kubeconfig", d.env.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		info("%s", line)
	}
	if err != nil {
		return out, fmt.Errorf("sparkcd status %s: %w", strings.Join(args, " "), err)
	}
	return out, nil
}

// statusShowsQueued reports whether the table of `sparkcd status` has the
// job's row with reason Queued.
func statusShowsQueued(out []byte, job string) bool {
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == jobsNamespace+"/"+job && f[2] == runid.ReasonQueued {
			return true
		}
	}
	return false
}
