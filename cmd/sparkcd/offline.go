package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/internal/review"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// offlineFlags are the flags render and check share.
type offlineFlags struct {
	root             string
	policies         string
	job              string
	allowRemoteBases bool
	supportingKinds  []string
	podSecurity      string
	decryptionKeys   string
	allowEmpty       bool
}

func (f *offlineFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.root, "root", "", "repository root kustomize may read (default: the git work tree holding PATH, else the current directory)")
	cmd.Flags().StringVar(&f.policies, "policies", "", "directory of AllocationPolicy files to default and judge jobs with")
	cmd.Flags().StringVar(&f.job, "job", "", "only the job of this name")
	cmd.Flags().BoolVar(&f.allowRemoteBases, "allow-remote-bases", false, "let kustomizations fetch remote bases (off: a remote base is an error)")
	cmd.Flags().StringSliceVar(&f.supportingKinds, "supporting-kinds", nil,
		"kinds of supporting objects that may be applied beside the jobs, as a JobSource's spec.supportingKinds: Kind for the core group, Kind.group otherwise (default ConfigMap,Secret,ServiceAccount,Role.rbac.authorization.k8s.io,RoleBinding.rbac.authorization.k8s.io,PersistentVolumeClaim)")
	bindPodSecurity(cmd, &f.podSecurity)
	bindAllowEmpty(cmd, &f.allowEmpty)
	cmd.Flags().StringVar(&f.decryptionKeys, "decryption-keys", "",
		"directory of *.agekey files (age identities) that verify the SOPS-encrypted objects; values are never shown (default: encrypted objects are accepted unverified)")
}

// review builds PATH and judges its jobs.
func (f *offlineFlags) review(cmd *cobra.Command, path string) (*review.Report, error) {
	offlineGC()
	root, rel, err := resolveRoot(f.root, path)
	if err != nil {
		return nil, inputError(err)
	}
	opts := review.DefaultOptions()
	opts.Job = f.job
	opts.AllowEmpty = f.allowEmpty
	opts.Build.AllowRemoteBases = f.allowRemoteBases
	kinds, err := parseSupportingKinds(f.supportingKinds)
	if err != nil {
		return nil, inputError(err)
	}
	opts.SupportingKinds = kinds
	if opts.PodSecurity, err = parsePodSecurity(f.podSecurity); err != nil {
		return nil, err
	}
	if f.decryptionKeys != "" {
		keys, err := decryption.KeysFromDir(f.decryptionKeys)
		if err != nil {
			return nil, inputError(err)
		}
		opts.DecryptionKeys = keys
	}
	if f.policies != "" {
		set, err := loadPolicies(f.policies)
		if err != nil {
			return nil, err
		}
		opts.Policies = set
	}
	report, err := review.Check(cmd.Context(), root, rel, opts)
	if err != nil {
		return nil, inputError(err)
	}
	return report, nil
}

// resolveRoot finds the directory kustomize is confined to and PATH relative
// to it. PATH may be a glob; its fixed prefix decides the root.
func resolveRoot(root, path string) (string, string, error) {
	if path == "" {
		return "", "", errors.New("a PATH is required")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", fmt.Errorf("unable to resolve '%s': %w", path, err)
	}
	fixed := abs
	if i := strings.IndexAny(fixed, "*?["); i >= 0 {
		fixed = filepath.Dir(fixed[:i])
	}
	if _, err := os.Stat(fixed); errors.Is(err, fs.ErrNotExist) {
		return "", "", fmt.Errorf("PATH '%s' does not exist: check the path", path)
	} else if err != nil {
		return "", "", fmt.Errorf("unable to read '%s': %w", path, err)
	}
	if root == "" {
		root = findRoot(fixed)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return "", "", fmt.Errorf("unable to resolve root '%s': %w", root, err)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("'%s' is outside the root '%s'", path, root)
	}
	return root, filepath.ToSlash(rel), nil
}

// findRoot returns the git work tree holding dir, else the current
// directory when it holds dir, else dir itself.
func findRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, dir); err == nil && !strings.HasPrefix(rel, "..") {
			return wd
		}
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return filepath.Dir(dir)
	}
	return dir
}

func newRenderCommand() *cobra.Command {
	var f offlineFlags
	var output, revision, ingressURLFormat string
	cmd := &cobra.Command{
		Use:   "render PATH",
		Short: "Print the SparkJobs of PATH after defaults, and the objects each run would create",
		Long: `render builds PATH (a kustomization directory, a plain directory of YAML files,
one file, or a glob of per-job kustomization directories such as
'jobs/*/overlays/prod') with no cluster, and prints, per job in name order, the
SparkJob after defaults (and policy defaults with --policies), then the
ConfigMap, Service, Pod and every other object of the run it would start
(Ingresses, PodDisruptionBudget, a batch scheduler's PodGroup), named
<job>-<first 8 hex of its spec hash>.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := review.CheckFormat(output, review.ObjectFormats); err != nil {
				return inputError(err)
			}
			report, err := f.review(cmd, args[0])
			if err != nil {
				return err
			}
			if err := materialize.CheckIngressURLFormat(ingressURLFormat); err != nil {
				return inputError(err)
			}
			mopts := materialize.DefaultOptions()
			mopts.IngressURLFormat = ingressURLFormat
			runs, err := report.RunObjects(revision, mopts)
			if err != nil {
				return inputError(err)
			}
			// Supporting objects first, as the source loop applies them;
			// Secrets redacted.
			objs := append(report.SupportingObjects(), runs...)
			if err := review.WriteObjectsMarked(cmd.OutOrStdout(), objs, output, report.JobMarker()); err != nil {
				return inputError(err)
			}
			if s := report.Summary(); s.Errors > 0 {
				bad := &review.Report{Root: report.Root, Path: report.Path}
				for _, j := range report.Jobs {
					if j.Errors() > 0 {
						bad.Jobs = append(bad.Jobs, j)
					}
				}
				for _, o := range report.Objects {
					if !o.Admitted() {
						bad.Objects = append(bad.Objects, o)
					}
				}
				_ = bad.Write(cmd.ErrOrStderr(), "text")
				if len(bad.Jobs) == 0 {
					return findingsError(fmt.Errorf("%d supporting %s not rendered", len(bad.Objects), plural(len(bad.Objects), "object")))
				}
				return findingsError(fmt.Errorf("%d %s not rendered", len(bad.Jobs), plural(len(bad.Jobs), "job")))
			}
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: "+strings.Join(review.ObjectFormats, ", "))
	cmd.Flags().StringVar(&revision, "revision", "", "revision recorded in the sparkcd.io/revision annotation")
	cmd.Flags().StringVar(&ingressURLFormat, "ingress-url-format", "", "as serve's flag: the UI Ingress every run without its own gets")
	return cmd
}

func newCheckCommand() *cobra.Command {
	var f offlineFlags
	var output, failOn string
	var errorsOnly bool
	cmd := &cobra.Command{
		Use:   "check PATH",
		Short: "Validate the jobs of PATH (and judge them against --policies)",
		Long: `check builds PATH like render and reports every finding: validation of each job
on its own and, with --policies, the rules of every AllocationPolicy that
selects it, with each job's resource envelope. Exits 1 when any finding is an
error (see --fail-on), 2 when PATH cannot be read or built, does not exist,
or holds no SparkJob and no supporting object (unless --allow-empty).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := review.CheckFormat(output, review.Formats); err != nil {
				return inputError(err)
			}
			if !slices.Contains(failOnLevels, failOn) {
				return inputError(fmt.Errorf("--fail-on '%s': use one of %s", failOn, strings.Join(failOnLevels, ", ")))
			}
			report, err := f.review(cmd, args[0])
			if err != nil {
				_ = review.WriteInputError(cmd.OutOrStdout(), output, err)
				return err
			}
			shown := report
			if errorsOnly {
				shown = report.ErrorsOnly()
			}
			if err := writePainted(cmd, output, shown.Write); err != nil {
				return inputError(err)
			}
			s := report.Summary()
			if failOn == "error" && s.Errors > 0 || failOn == "warning" && s.Errors+s.Warnings > 0 {
				return findingsError(errors.New(""))
			}
			return nil
		},
	}
	f.bind(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(review.Formats, ", "))
	cmd.Flags().BoolVar(&errorsOnly, "errors-only", false, "show only the error findings and the jobs and objects that have one (the counts stay the whole path's)")
	cmd.Flags().StringVar(&failOn, "fail-on", "error", "the findings that make check exit 1: error, warning (errors and warnings) or none (report only, as a CI step that must not stop the next)")
	return cmd
}

// failOnLevels are the values of check's --fail-on.
var failOnLevels = []string{"error", "warning", "none"}

// bindAllowEmpty adds --allow-empty: without it a PATH that builds to no
// job and no supporting object is bad input (exit 2), so a mistyped path
// in CI fails instead of passing with nothing checked.
func bindAllowEmpty(cmd *cobra.Command, allow *bool) {
	cmd.Flags().BoolVar(allow, "allow-empty", false, "accept a PATH that holds no SparkJob and no supporting object (default: exit 2, a mistyped path must not pass)")
}

// offlineGC lets the heap grow to five times the live data before a
// collection: an offline command lives for seconds and allocates most of
// what it builds once, so a quarter of its CPU went to collections at the
// default of two times.
func offlineGC() { debug.SetGCPercent(400) }

// parseSupportingKinds reads --supporting-kinds: "Kind" for the core group,
// "Kind.group" otherwise, as kubectl names resource types. None means the
// default of a JobSource.
func parseSupportingKinds(names []string) ([]v1alpha1.SupportingKind, error) {
	var out []v1alpha1.SupportingKind
	for _, n := range names {
		n = strings.TrimSpace(n)
		kind, group, _ := strings.Cut(n, ".")
		if kind == "" {
			return nil, fmt.Errorf("--supporting-kinds: '%s' is not Kind or Kind.group", n)
		}
		out = append(out, v1alpha1.SupportingKind{Group: group, Kind: kind})
	}
	return out, nil
}

// writePainted writes a report with write, coloured in the text formats
// when the output should be (--color).
func writePainted(cmd *cobra.Command, output string, write func(io.Writer, string) error) error {
	out, flush := cmd.OutOrStdout(), func() error { return nil }
	if output == "" || output == "text" || output == "wide" {
		out, flush = paintedOutput(cmd, out, checkRules)
	}
	if err := write(out, output); err != nil {
		return err
	}
	return flush()
}
