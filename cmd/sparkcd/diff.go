package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sparkcd/sparkcd/internal/review"
)

// diffLong is diff's help text.
const diffLong = `diff renders PATH (relative to the repository root) at two revisions of the git
repository in --repo, with no cluster and no network, and reports the jobs
added, removed and changed, a unified diff of each changed job's rendered
objects, the findings introduced and fixed, and the change of each job's
resource envelope.

With --verify, the new revision's commit signature is checked first against
the keys of --keys, as a JobSource's spec.verify does (docs/verification.md).

Exits 1 when the new revision introduces an error finding, fails --verify,
or, with --exit-code, changed anything; 2 when a revision cannot be read or
built, or PATH holds nothing at either revision (unless --allow-empty).

-o github prints a GitHub Actions annotation per finding the change
introduces; -o markdown a pull-request comment: the counts first, then each
changed job's details collapsed, cut at --max-bytes.`

func newDiffCommand() *cobra.Command {
	var (
		repo, from, to, output, policyDir, podSecurity string
		exitCode, allowRemoteBases, allowEmpty         bool
		vf                                             verifyFlags
		maxBytes                                       int
	)
	cmd := &cobra.Command{
		Use:   "diff --from REV [--to REV] PATH",
		Short: "Compare the rendered jobs of PATH between two git revisions, offline",
		Long:  diffLong,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" {
				return inputError(errors.New("--from is required"))
			}
			if err := review.CheckFormat(output, review.Formats); err != nil {
				return inputError(err)
			}
			offlineGC()
			opts := review.DefaultOptions()
			opts.Build.AllowRemoteBases = allowRemoteBases
			opts.AllowEmpty = allowEmpty
			var err error
			if opts.PodSecurity, err = parsePodSecurity(podSecurity); err != nil {
				return err
			}
			if policyDir != "" {
				set, err := loadPolicies(policyDir)
				if err != nil {
					return err
				}
				opts.Policies = set
			}
			root, rel, err := repoPath(repo, args[0])
			if err != nil {
				return inputError(err)
			}
			if err := vf.run(cmd, root, from, to); err != nil {
				return err
			}
			d, err := review.Diff(cmd.Context(), root, from, to, rel, opts)
			if err != nil {
				return inputError(err)
			}
			d.MaxBytes = maxBytes
			if err := writePainted(cmd, output, d.Write); err != nil {
				return inputError(err)
			}
			if n := d.IntroducedErrors(); n > 0 {
				return findingsError(fmt.Errorf("%s introduces %d error %s", to, n, plural(n, "finding")))
			}
			if exitCode && d.Changed() {
				return findingsError(errors.New(""))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "repo", ".", "the git repository (any directory inside its work tree)")
	cmd.Flags().StringVar(&from, "from", "", "the old revision: a branch, tag, commit or expression such as HEAD~1")
	cmd.Flags().StringVar(&to, "to", "HEAD", "the new revision")
	cmd.Flags().StringVar(&policyDir, "policies", "", "directory of AllocationPolicy files to default and judge jobs with")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(review.Formats, ", ")+" (github: an annotation per finding the change introduces)")
	cmd.Flags().IntVar(&maxBytes, "max-bytes", review.DefaultMaxBytes, "-o markdown: leave out the details of the jobs past this size (never the counts), so the comment fits GitHub's 65,536 characters")
	cmd.Flags().BoolVar(&exitCode, "exit-code", false, "exit 1 when any job was added, removed or changed")
	cmd.Flags().BoolVar(&allowRemoteBases, "allow-remote-bases", false, "let kustomizations fetch remote bases")
	bindPodSecurity(cmd, &podSecurity)
	bindAllowEmpty(cmd, &allowEmpty)
	vf.bind(cmd)
	return cmd
}

// repoPath finds the work tree holding repo and PATH relative to it: PATH
// is read relative to the current directory when it lies inside the work
// tree, else as relative to the work tree's root.
func repoPath(repo, path string) (string, string, error) {
	absRepo, err := filepath.Abs(repo)
	if err != nil {
		return "", "", err
	}
	root := findRoot(absRepo)
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		return "", "", fmt.Errorf("'%s' is not inside a git work tree", repo)
	}
	if absPath, err := filepath.Abs(path); err == nil {
		if rel, err := filepath.Rel(root, absPath); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return root, filepath.ToSlash(rel), nil
		}
	}
	return root, filepath.ToSlash(filepath.Clean(path)), nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
