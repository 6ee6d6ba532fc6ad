// Command demo is `make demo`: sparkcd's main job, end to end, on a local
// control plane. It starts etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and KWOK (fake nodes that run pods through their phases
// without a kubelet), turns jobs/examples into a git repository served on
// loopback, runs `sparkcd serve` with a JobSource on overlays/dev, and
// prints what happens: jobs applied, runs started, driver phases. Then it
// commits a change (a new run, a policy finding), triggers the fetch with a
// signed webhook, runs a cleanup pass, prints a summary, and stops
// everything it started.
//
// With -queue kueue (make demo QUEUE=kueue) it also starts Kueue and plays
// a queueing act before the cleanup: three runs behind a ClusterQueue
// whose quota fits two (queue.go).
//
//	go run ./hack/demo -sparkcd bin/sparkcd [-queue kueue]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sparkcd/sparkcd/internal/testenv"
)

func main() {
	var o options
	flag.StringVar(&o.sparkcd, "sparkcd", "bin/sparkcd", "the sparkcd binary")
	flag.StringVar(&o.policies, "policies", "policies/testdata/examples", "the AllocationPolicy files sparkcd serve enforces")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, repository) after the demo")
	flag.BoolVar(&o.hold, "hold", false, "after the summary, keep the cluster, sparkcd and its UI running until Ctrl-C")
	flag.StringVar(&o.queue, "queue", "", "an optional queueing act: 'kueue' starts Kueue and queues three runs behind a quota that fits two")
	flag.Parse()
	if o.queue != "" && o.queue != queueKueue {
		fmt.Fprintf(os.Stderr, "demo: -queue %q: the only queueing act is %q\n", o.queue, queueKueue)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	sparkcd  string
	policies string
	timeout  time.Duration
	keep     bool
	hold     bool
	// queue names the queueing act to play ("" for none).
	queue string
}

func run(parent context.Context, o options) (err error) {
	ctx, cancel := context.WithTimeout(parent, o.timeout)
	defer cancel()
	start := time.Now()
	if o.sparkcd, err = filepath.Abs(o.sparkcd); err != nil {
		return err
	}
	if o.policies, err = filepath.Abs(o.policies); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "sparkcd-demo-")
	if err != nil {
		return err
	}
	d := &demo{opts: o, work: work}
	defer func() {
		step("Stopping everything the demo started")
		d.stopAll()
		if o.keep || err != nil {
			fmt.Printf("logs and repository kept in %s\n", work)
		} else {
			_ = os.RemoveAll(work)
		}
	}()

	if err := d.setUp(ctx); err != nil {
		return err
	}
	w := newWatcher(d)
	go w.run(ctx)
	if err := w.waitFor(ctx, "the first commit's jobs to run to completion", d.firstRunsDone); err != nil {
		return err
	}

	step("A data engineer commits: spark-pi gets a new argument, sirene-count asks for 40 executors in dev")
	rev, err := d.secondCommit(ctx)
	if err != nil {
		return err
	}
	step("The pull request's review, offline: sparkcd diff --from HEAD~1 --to HEAD overlays/dev --policies")
	if err := d.review(ctx); err != nil {
		return err
	}
	step("Merged: the git host calls sparkcd's webhook (HMAC-SHA256 signed, as GitHub does)")
	if err := d.callWebhook(ctx); err != nil {
		return err
	}
	if err := w.waitFor(ctx, "the second commit's new runs to complete", func(ctx context.Context) (bool, error) {
		return d.secondRunDone(ctx, rev)
	}); err != nil {
		return err
	}
	if err := d.printFindings(ctx); err != nil {
		return err
	}
	if o.queue == queueKueue {
		if err := d.queueAct(ctx, w); err != nil {
			return err
		}
	}

	step("sparkcd cleanup --once: finished drivers go, the garbage collector takes what they own")
	if err := d.cleanup(ctx); err != nil {
		return err
	}
	w.stop()
	step("Summary")
	if err := d.summary(ctx, w, time.Since(start)); err != nil {
		return err
	}
	if o.hold {
		d.hold(parent)
	}
	return nil
}

// setUp starts the control plane, the namespace, the git server, sparkcd
// serve with its JobSource and the UI.
func (d *demo) setUp(ctx context.Context) error {
	plane := "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK"
	if d.opts.queue == queueKueue {
		plane += ", Kueue " + testenv.KueueVersion
	}
	step("Local control plane: " + plane)
	if err := d.startCluster(ctx); err != nil {
		return err
	}
	step("Spark namespace spark-dev: the driver service account and Role (deploy/examples/spark-namespace)")
	if err := d.prepareNamespaces(ctx); err != nil {
		return err
	}
	step("A jobs repository: jobs/examples committed to git, served on loopback")
	if err := d.startGit(ctx); err != nil {
		return err
	}
	step("sparkcd serve, with the example policies; a JobSource on overlays/dev")
	if err := d.startSparkcd(ctx); err != nil {
		return err
	}
	if err := d.createSource(ctx); err != nil {
		return err
	}
	step("sparkcd ui: the runs in a browser")
	return d.startUI(ctx)
}

func step(msg string) { fmt.Printf("\n\033[1;36m==> %s\033[0m\n", msg) }

func info(format string, args ...any) {
	fmt.Printf("    %s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
