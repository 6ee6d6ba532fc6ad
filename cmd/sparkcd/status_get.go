package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

var statusFormats = []string{"text", "wide", "json", "yaml", "name"}

// statusFlags are the flags of `sparkcd status`.
type statusFlags struct {
	cluster       clusterFlags
	allNamespaces bool
	output        string
	selector      string
	watch         bool
	name          string
}

// statusView is what one print shows: the listed objects, or one.
type statusView struct {
	sources []v1alpha1.JobSource
	jobs    []v1alpha1.SparkJob
}

func runStatus(cmd *cobra.Command, f *statusFlags) error {
	sel := labels.Everything()
	if f.selector != "" {
		var err error
		if sel, err = labels.Parse(f.selector); err != nil {
			return inputError(fmt.Errorf("invalid -l '%s': %w", f.selector, err))
		}
	}
	kind, name, err := parseStatusName(f.name)
	if err != nil {
		return err
	}
	c, err := f.cluster.watchClient()
	if err != nil {
		return err
	}
	ns := f.cluster.targetNamespace()
	load := func(ctx context.Context) (statusView, error) {
		if name != "" {
			return loadOne(ctx, c, kind, types.NamespacedName{Namespace: ns, Name: name})
		}
		opts := []client.ListOption{client.MatchingLabelsSelector{Selector: sel}}
		if !f.allNamespaces {
			opts = append(opts, client.InNamespace(ns))
		}
		return loadList(ctx, c, opts)
	}
	out := cmd.OutOrStdout()
	print := func(ctx context.Context) error {
		v, err := load(ctx)
		if err != nil {
			return err
		}
		w, flush := out, func() error { return nil }
		if f.output == "text" || f.output == "wide" {
			w, flush = paintedOutput(cmd, out, statusRules)
		}
		if err := printStatus(w, v, f.output, name != "", terminalWidth(out)); err != nil {
			return err
		}
		return flush()
	}
	if !f.watch {
		return print(cmd.Context())
	}
	return watchStatus(cmd.Context(), c, f, ns, print)
}

// parseStatusName splits NAME, sparkjob/NAME or jobsource/NAME.
func parseStatusName(arg string) (string, string, error) {
	kind, name, ok := strings.Cut(arg, "/")
	if !ok {
		return "", arg, nil
	}
	switch strings.ToLower(kind) {
	case "sparkjob", "sparkjobs", "sj":
		return "sparkjob", name, nil
	case "jobsource", "jobsources", "js":
		return "jobsource", name, nil
	}
	return "", "", inputError(fmt.Errorf("invalid '%s': want NAME, sparkjob/NAME or jobsource/NAME", arg))
}

func loadList(ctx context.Context, c client.Client, opts []client.ListOption) (statusView, error) {
	sources := &v1alpha1.JobSourceList{}
	if err := c.List(ctx, sources, opts...); err != nil {
		return statusView{}, fmt.Errorf("unable to list JobSources: %w", err)
	}
	jobs := &v1alpha1.SparkJobList{}
	if err := c.List(ctx, jobs, opts...); err != nil {
		return statusView{}, fmt.Errorf("unable to list SparkJobs: %w", err)
	}
	return statusView{sources: sources.Items, jobs: jobs.Items}, nil
}

// loadOne reads the SparkJob and (or) the JobSource named key; a bare
// name shows whichever exist.
func loadOne(ctx context.Context, c client.Client, kind string, key types.NamespacedName) (statusView, error) {
	var v statusView
	if kind != "jobsource" {
		job := &v1alpha1.SparkJob{}
		if err := c.Get(ctx, key, job); err == nil {
			v.jobs = append(v.jobs, *job)
		} else if !apierrors.IsNotFound(err) {
			return v, err
		}
	}
	if kind != "sparkjob" {
		src := &v1alpha1.JobSource{}
		if err := c.Get(ctx, key, src); err == nil {
			v.sources = append(v.sources, *src)
		} else if !apierrors.IsNotFound(err) {
			return v, err
		}
	}
	if len(v.jobs)+len(v.sources) == 0 {
		what := map[string]string{"": "SparkJob or JobSource", "sparkjob": "SparkJob", "jobsource": "JobSource"}[kind]
		return v, inputError(fmt.Errorf("no %s '%s'", what, key))
	}
	return v, nil
}

func printStatus(w io.Writer, v statusView, output string, one bool, width int) error {
	switch output {
	case "json", "yaml":
		return writeStatusDoc(w, v.sources, v.jobs, output)
	case "name":
		for i := range v.sources {
			fmt.Fprintf(w, "jobsource/%s\n", v.sources[i].Name)
		}
		for i := range v.jobs {
			fmt.Fprintf(w, "sparkjob/%s\n", v.jobs[i].Name)
		}
		return nil
	}
	if one {
		return describe(w, v, time.Now())
	}
	msgWidth := 0
	if output == "text" {
		msgWidth = max(30, width-150)
	}
	return writeStatusTable(w, v.sources, v.jobs, time.Now(), msgWidth)
}

// terminalWidth is the width of w's terminal, else $COLUMNS, else 200.
func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			return cols
		}
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 200
}

// watchStatus prints again on every event of a watch of the SparkJobs and
// JobSources the flags select, until ctx ends (exit 0).
func watchStatus(ctx context.Context, c client.WithWatch, f *statusFlags, ns string, print func(context.Context) error) error {
	var opts []client.ListOption
	if !f.allNamespaces || f.name != "" {
		opts = append(opts, client.InNamespace(ns))
	}
	events := make(chan struct{}, 1)
	for _, list := range []client.ObjectList{&v1alpha1.SparkJobList{}, &v1alpha1.JobSourceList{}} {
		// The watch starts at the list's version: the first print shows
		// that state, the watch only what changes after it.
		if err := c.List(ctx, list, append(opts, client.Limit(1))...); err != nil {
			return fmt.Errorf("unable to list: %w", err)
		}
		wopts := append(opts, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.GetResourceVersion()}})
		wi, err := c.Watch(ctx, list, wopts...)
		if err != nil {
			return fmt.Errorf("unable to watch: %w", err)
		}
		defer wi.Stop()
		go func() {
			for ev := range wi.ResultChan() {
				if ev.Type == watch.Error {
					continue
				}
				select {
				case events <- struct{}{}:
				default:
				}
			}
		}()
	}
	if err := print(ctx); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-events:
			if err := print(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}
