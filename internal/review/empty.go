package review

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/build"
)

// Empty reports whether the report holds no job (not even one that did not
// build) and no supporting object.
func (r *Report) Empty() bool { return len(r.Jobs) == 0 && len(r.Objects) == 0 }

// emptyError describes a path that built to nothing, in the words a user
// who mistyped it needs: what the path turned out to be.
func emptyError(root, path string, res *build.BuildResult) error {
	return &EmptyError{Path: path, Detail: describeEmpty(root, path, res)}
}

func describeEmpty(root, path string, res *build.BuildResult) string {
	if strings.ContainsAny(path, "*?[") {
		return fmt.Sprintf("the pattern matched %d %s, none holding an object", len(res.Units), plural(len(res.Units), "path"))
	}
	if len(res.Units) == 0 {
		return "nothing to build there"
	}
	p := filepath.Join(root, filepath.FromSlash(path))
	st, err := os.Stat(p)
	if err != nil {
		return "it builds to no object"
	}
	if !st.IsDir() {
		if st.Size() == 0 {
			return "an empty file"
		}
		return "a file of no Kubernetes object"
	}
	entries, err := os.ReadDir(p)
	if err == nil && len(entries) == 0 {
		return "an empty directory"
	}
	if _, err := os.Stat(filepath.Join(p, "kustomization.yaml")); err == nil {
		return "a kustomization that builds to no object"
	}
	return "a directory of no Kubernetes object"
}

// ErrorsOnly returns the report cut to its error findings and the jobs and
// objects that have one (`check --errors-only`); its summary still counts
// the whole path.
func (r *Report) ErrorsOnly() *Report {
	total := r.Summary()
	out := &Report{Root: r.Root, Path: r.Path, total: &total}
	for _, j := range r.Jobs {
		if j.Errors() == 0 {
			continue
		}
		j.Findings = onlyErrors(j.Findings)
		out.Jobs = append(out.Jobs, j)
	}
	for _, o := range r.Objects {
		if fs := onlyErrors(o.Findings); len(fs) > 0 {
			o.Findings = fs
			out.Objects = append(out.Objects, o)
		}
	}
	return out
}

func onlyErrors(fs []v1alpha1.Finding) []v1alpha1.Finding {
	var out []v1alpha1.Finding
	for _, f := range fs {
		if f.Severity == v1alpha1.SeverityError {
			out = append(out, f)
		}
	}
	return out
}
