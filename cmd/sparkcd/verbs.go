package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/reconciler"
)

// cliFieldManager owns the fields the CLI's patches set.
const cliFieldManager = "sparkcd-cli"

// exitTimeout is the exit code of a wait that timed out.
const exitTimeout = 2

// kindAndName reads "KIND NAME" or "KIND/NAME" into sparkjob or jobsource
// and the name.
func kindAndName(args []string, allowed ...string) (string, string, error) {
	kind, name := args[0], ""
	if k, n, ok := strings.Cut(args[0], "/"); ok {
		kind, name = k, n
		if len(args) > 1 {
			return "", "", inputError(fmt.Errorf("want KIND NAME or KIND/NAME, not both"))
		}
	} else if len(args) > 1 {
		name = args[1]
	}
	switch strings.ToLower(kind) {
	case "sparkjob", "sparkjobs", "sj":
		kind = "sparkjob"
	case "jobsource", "jobsources", "js":
		kind = "jobsource"
	}
	ok := false
	for _, a := range allowed {
		ok = ok || a == kind
	}
	if !ok || name == "" {
		return "", "", inputError(fmt.Errorf("invalid '%s': want %s NAME", strings.Join(args, " "), strings.Join(allowed, "|")))
	}
	return kind, name, nil
}

func newReconcileCommand() *cobra.Command {
	var (
		cluster clusterFlags
		waitFor time.Duration
	)
	cmd := &cobra.Command{
		Use:   "reconcile jobsource NAME",
		Short: "Fetch and apply a JobSource now",
		Long: `reconcile asks the source loop to fetch and apply the JobSource NAME now, by
setting its sparkcd.io/reconcile-requested-at annotation (as the webhook
does), like flux reconcile. With --wait it waits until the loop has handled
the request (status.lastHandledReconcileAt) and prints the source's Ready
condition. Exit codes: 0 handled and Ready, 1 handled and not Ready, 2 bad
input or no answer within --wait.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, name, err := kindAndName(args, "jobsource")
			if err != nil {
				return err
			}
			c, err := cluster.client()
			if err != nil {
				return err
			}
			key := types.NamespacedName{Namespace: cluster.targetNamespace(), Name: name}
			at := time.Now()
			if err := c.Get(cmd.Context(), key, &v1alpha1.JobSource{}); apierrors.IsNotFound(err) {
				return inputError(fmt.Errorf("no JobSource '%s'", key))
			}
			if err := reconciler.RequestReconcile(cmd.Context(), c, key, at); err != nil {
				return err
			}
			value := at.UTC().Format(time.RFC3339Nano)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "jobsource/%s: reconcile requested at %s\n", name, value)
			if waitFor <= 0 {
				return nil
			}
			src := &v1alpha1.JobSource{}
			err = poll(cmd.Context(), waitFor, func(ctx context.Context) (bool, error) {
				err := c.Get(ctx, key, src)
				return err == nil && src.Status.LastHandledReconcileAt == value, err
			})
			if err != nil {
				return waitError(err, fmt.Sprintf("jobsource/%s: the source loop did not handle the request within %s (is `sparkcd serve` running and watching %s?)", name, waitFor, key.Namespace))
			}
			ready, reason, msg := readyOf(src.Status.Conditions)
			fmt.Fprintf(out, "jobsource/%s: handled; revision %s; Ready=%s %s: %s\n", name, orDash(src.Status.LastAppliedRevision), ready, reason, cleanMessage(msg))
			if ready != "True" {
				return findingsError(errors.New(""))
			}
			return nil
		},
	}
	cluster.bind(cmd, true)
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "wait this long for the source loop to handle the request (0: do not wait)")
	return cmd
}

// poll calls cond every 250ms until it is true, fails, or timeout passes;
// a request cut by the deadline counts as the timeout.
func poll(ctx context.Context, timeout time.Duration, cond func(context.Context) (bool, error)) error {
	start := time.Now()
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, cond)
	if err != nil && ctx.Err() == nil && time.Since(start) >= timeout {
		return context.DeadlineExceeded
	}
	return err
}

// waitError maps a wait's failure: a timeout to exit code 2 with msg.
func waitError(err error, msg string) error {
	if errors.Is(err, context.DeadlineExceeded) || wait.Interrupted(err) {
		return &exitError{code: exitTimeout, err: errors.New(msg)}
	}
	return err
}

func newSuspendCommand(suspend bool) *cobra.Command {
	var cluster clusterFlags
	verb, what := "suspend", "Stop new runs of a SparkJob, or fetching and applying of a JobSource"
	if !suspend {
		verb, what = "resume", "Undo suspend: set spec.suspend to false"
	}
	cmd := &cobra.Command{
		Use:   verb + " sparkjob|jobsource NAME",
		Short: what,
		Long: verb + ` sets spec.suspend of the SparkJob or JobSource NAME to ` + fmt.Sprint(suspend) + ` with a merge
patch, like flux suspend/resume. A suspended SparkJob starts no run (running
drivers are not touched) and shows no next schedule; a suspended JobSource
fetches and applies nothing.

A SparkJob that a JobSource manages runs only the spec applied from git, and
spec.suspend is part of it: patching it is drift (Ready=False, Drifted, no run
starts) that the source undoes at its next apply. Set spec.suspend in git, or
suspend the JobSource, instead.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, err := kindAndName(args, "sparkjob", "jobsource")
			if err != nil {
				return err
			}
			c, err := cluster.client()
			if err != nil {
				return err
			}
			key := types.NamespacedName{Namespace: cluster.targetNamespace(), Name: name}
			return setSuspend(cmd, c, kind, key, suspend)
		},
	}
	cluster.bind(cmd, true)
	return cmd
}

func setSuspend(cmd *cobra.Command, c client.Client, kind string, key types.NamespacedName, suspend bool) error {
	var obj client.Object = &v1alpha1.JobSource{}
	if kind == "sparkjob" {
		obj = &v1alpha1.SparkJob{}
	}
	if err := c.Get(cmd.Context(), key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return inputError(fmt.Errorf("no %s '%s'", map[string]string{"sparkjob": "SparkJob", "jobsource": "JobSource"}[kind], key))
		}
		return err
	}
	patch := fmt.Appendf(nil, `{"spec":{"suspend":%t}}`, suspend)
	if err := c.Patch(cmd.Context(), obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(cliFieldManager)); err != nil {
		return fmt.Errorf("unable to patch %s/%s: %w", kind, key.Name, err)
	}
	state := map[bool]string{true: "suspended", false: "resumed"}[suspend]
	fmt.Fprintf(cmd.OutOrStdout(), "%s/%s %s\n", kind, key.Name, state)
	ann := obj.GetAnnotations()
	if src := cmp.Or(ann[reconciler.AnnotationSource], ann[v1alpha1.AnnotationAppliedSpecDigest]); kind == "sparkjob" && src != "" {
		source := cmp.Or(ann[reconciler.AnnotationSource], obj.GetLabels()[v1alpha1.LabelSource], "its JobSource")
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: sparkjob/%s is managed by JobSource %s, and spec.suspend is part of the spec applied from git: "+
			"this change is drift (Ready=False, Drifted; no run starts) and the source restores git's spec.suspend within seconds, unless the source itself is suspended. "+
			"To keep the job %s, set spec.suspend: %t in git\n", key.Name, source, state, suspend)
	}
	return nil
}
