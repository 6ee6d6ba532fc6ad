package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/cronjobs/cleanup"
	"github.com/sparkcd/sparkcd/reconciler"
)

// shardFlags are the flags that make `sparkcd serve` one shard of several
// (docs/scaling.md): Flux's --watch-label-selector, and --shard as its
// short form for the sparkcd.io/shard label.
type shardFlags struct {
	selector string
	shard    string
	// parsed is the selector in force, nil for every object: the manager's
	// caches, the source loop and the cleanup take it.
	parsed labels.Selector
}

func (s *shardFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.selector, "watch-label-selector", "", "handle only the JobSources and SparkJobs this label selector selects, and their runs' pods, as one shard of several (the main instance of a sharded install: '!"+v1alpha1.LabelShard+"'; docs/scaling.md)")
	fl.StringVar(&s.shard, "shard", "", "be the shard NAME: --watch-label-selector "+v1alpha1.LabelShard+"=NAME, and the Lease sparkcd-leader-NAME unless --leader-election-id is given")
}

// complete checks the flags and parses the selector; leaderID is the
// --leader-election-id value, given says whether it was set.
func (s *shardFlags) complete(leaderID *string, given bool) error {
	if s.shard != "" && s.selector != "" {
		return inputError(fmt.Errorf("--shard '%s' and --watch-label-selector '%s' both choose the shard: give one", s.shard, s.selector))
	}
	expr := s.selector
	if s.shard != "" {
		if errs := validation.IsDNS1123Label(s.shard); len(errs) > 0 {
			return inputError(fmt.Errorf("--shard '%s' is not a shard name (a DNS-1123 label, as it names the Lease and is the %s label's value): %s", s.shard, v1alpha1.LabelShard, strings.Join(errs, "; ")))
		}
		expr = v1alpha1.LabelShard + "=" + s.shard
		if !given {
			*leaderID = reconciler.DefaultManagerOptions().LeaderElectionID + "-" + s.shard
		}
	}
	sel, err := reconciler.ParseWatchSelector(expr)
	if err != nil {
		return inputError(fmt.Errorf("invalid --watch-label-selector: %w", err))
	}
	s.parsed = sel
	return nil
}

// cleanup makes the cleanup delete the shard's jobs' drivers only.
func (s *shardFlags) cleanup(o *cleanup.Options) { o.JobSelector = s.parsed }
