package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// completeTimeout bounds what one completion asks the cluster: the shell
// waits for it, so no answer is better than a slow one.
const completeTimeout = 2 * time.Second

// registerCompletions adds dynamic shell completion to every command, read
// from the commands themselves so a new one gets it too: the values of each
// -o (from the flag's "output format: a, b or c" help), directories for the
// flags that take one, the kubeconfig file, the namespaces of the cluster
// for -n, and the names of SparkJobs, JobSources and runs for the commands
// that take them. PATHs of the offline commands complete as files and
// directories, cobra's default.
func registerCompletions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("color", cobra.FixedCompletions(colorModes, cobra.ShellCompDirectiveNoFileComp))
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if fl := c.Flags().Lookup("output"); fl != nil {
			_ = c.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputValues(fl.Usage), cobra.ShellCompDirectiveNoFileComp))
		}
		for _, name := range []string{"policies", "root", "repo", "decryption-keys", "cache-dir"} {
			if c.Flags().Lookup(name) != nil {
				_ = c.MarkFlagDirname(name)
			}
		}
		if c.Flags().Lookup("kubeconfig") != nil {
			_ = c.MarkFlagFilename("kubeconfig")
		}
		if c.Flags().Lookup("namespace") != nil {
			_ = c.RegisterFlagCompletionFunc("namespace", completeNamespaces)
		}
		if c.Flags().Lookup("run") != nil && c.Name() == "logs" {
			_ = c.RegisterFlagCompletionFunc("run", completeRunsOfArg(false))
		}
		if f := argCompletions[c.Name()]; f != nil && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = f
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// argCompletions complete the arguments of the commands that name objects
// in the cluster.
var argCompletions = map[string]cobra.CompletionFunc{
	"status":    completeStatusName,
	"run":       completeFirst(completeJobNames),
	"logs":      completeFirst(completeJobNames),
	"history":   completeFirst(completeJobNames),
	"stop":      completeStop,
	"suspend":   completeKindName("sparkjob", "jobsource"),
	"resume":    completeKindName("sparkjob", "jobsource"),
	"reconcile": completeKindName("jobsource"),
}

// outputValues reads the formats out of an -o flag's help: "output
// format: text, json or yaml (…)".
func outputValues(usage string) []string {
	_, list, ok := strings.Cut(usage, "output format: ")
	if !ok {
		return nil
	}
	list, _, _ = strings.Cut(list, " (")
	var out []string
	for _, part := range strings.Split(strings.ReplaceAll(list, " or ", ", "), ",") {
		if v := strings.TrimSpace(part); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// completionClient is a client through the command's own --kubeconfig,
// --context and -n, with a short timeout; nil when there is no cluster to
// ask, which completes nothing and says nothing.
func completionClient(cmd *cobra.Command) (client.Client, string) {
	var f clusterFlags
	f.kubeconfig, _ = cmd.Flags().GetString("kubeconfig")
	f.context, _ = cmd.Flags().GetString("context")
	if fl := cmd.Flags().Lookup("namespace"); fl != nil && fl.Value.Type() == "string" {
		f.namespace = fl.Value.String()
	}
	cfg, err := f.restConfig()
	if err != nil {
		return nil, ""
	}
	cfg.Timeout = completeTimeout
	scheme, err := v1alpha1.NewScheme()
	if err != nil {
		return nil, ""
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, ""
	}
	return c, f.targetNamespace()
}

// listNames lists the names of list's items in the command's namespace
// (every namespace for a cluster-scoped kind), those starting with prefix.
func listNames(cmd *cobra.Command, list client.ObjectList, prefix string, namespaced bool) []string {
	c, ns := completionClient(cmd)
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(contextOf(cmd), completeTimeout)
	defer cancel()
	var opts []client.ListOption
	if namespaced {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, list, opts...); err != nil {
		cobra.CompDebugln("sparkcd: "+err.Error(), false)
		return nil
	}
	var names []string
	for _, o := range itemsOf(list) {
		if n := o.GetName(); strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// itemsOf are the objects of the lists completion reads.
func itemsOf(list client.ObjectList) []client.Object {
	var out []client.Object
	switch l := list.(type) {
	case *v1alpha1.SparkJobList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *v1alpha1.JobSourceList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	case *corev1.NamespaceList:
		for i := range l.Items {
			out = append(out, &l.Items[i])
		}
	}
	return out
}

func completeNamespaces(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return listNames(cmd, &corev1.NamespaceList{}, toComplete, false), cobra.ShellCompDirectiveNoFileComp
}

func completeJobNames(cmd *cobra.Command, toComplete string) []string {
	return listNames(cmd, &v1alpha1.SparkJobList{}, toComplete, true)
}

// completeFirst completes the first argument with names, and no other.
func completeFirst(names func(*cobra.Command, string) []string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return names(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeStatusName completes status's NAME: the SparkJobs and JobSources
// of the namespace, and KIND/NAME once a kind is typed.
func completeStatusName(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if strings.Contains(toComplete, "/") {
		return completeKindName("sparkjob", "jobsource")(cmd, args, toComplete)
	}
	names := append(completeJobNames(cmd, toComplete), listNames(cmd, &v1alpha1.JobSourceList{}, toComplete, true)...)
	slices.Sort(names)
	return slices.Compact(names), cobra.ShellCompDirectiveNoFileComp
}

// completeKindName completes "KIND NAME" and "KIND/NAME" of the kinds.
func completeKindName(kinds ...string) cobra.CompletionFunc {
	names := func(cmd *cobra.Command, kind, prefix string) []string {
		if kind == "jobsource" {
			return listNames(cmd, &v1alpha1.JobSourceList{}, prefix, true)
		}
		return completeJobNames(cmd, prefix)
	}
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		switch {
		case len(args) == 1 && slices.Contains(kinds, args[0]):
			return names(cmd, args[0], toComplete), cobra.ShellCompDirectiveNoFileComp
		case len(args) > 0:
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if kind, prefix, ok := strings.Cut(toComplete, "/"); ok && slices.Contains(kinds, kind) {
			var out []string
			for _, n := range names(cmd, kind, prefix) {
				out = append(out, kind+"/"+n)
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, k := range kinds {
			if strings.HasPrefix(k, toComplete) {
				out = append(out, k)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeStop completes stop's JOB, then the job's active runs.
func completeStop(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return completeJobNames(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	if len(args) > 1 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return completeRunsOfArg(true)(cmd, args, toComplete)
}

// completeRunsOfArg completes the runs of the job the first argument
// names: the active ones, or every run the status knows.
func completeRunsOfArg(activeOnly bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, ns := completionClient(cmd)
		if c == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(contextOf(cmd), completeTimeout)
		defer cancel()
		job := &v1alpha1.SparkJob{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: args[0]}, job); err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		runs := slices.Clone(job.Status.ActiveRuns)
		if !activeOnly {
			if job.Status.LastRun != nil {
				runs = append(runs, job.Status.LastRun.Name)
			}
			for _, r := range job.Status.History {
				runs = append(runs, r.Name)
			}
		}
		runs = slices.DeleteFunc(runs, func(r string) bool { return !strings.HasPrefix(r, toComplete) })
		slices.Sort(runs)
		return slices.Compact(runs), cobra.ShellCompDirectiveNoFileComp
	}
}

// contextOf is the command's context, or the background one when cobra's
// completion left it unset.
func contextOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
