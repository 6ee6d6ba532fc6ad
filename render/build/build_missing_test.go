package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildMissingResource: a resource or base a kustomization lists that
// does not exist is blamed on that kustomization and its entry, with no
// absolute path and no kustomize chain (issue 18 item 4).
func TestBuildMissingResource(t *testing.T) {
	job, err := os.ReadFile(filepath.Join("testdata", "build", "layout", "base", "spark-pi", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string]string
		path  string
		want  string
	}{
		{
			name:  "missing file",
			files: map[string]string{"base/job.yaml": string(job), "base/kustomization.yaml": "resources:\n- job.yaml\n- missing.yaml\n"},
			path:  "base",
			want:  "'base/kustomization.yaml' (building 'base'): resources[1]: 'missing.yaml' does not exist",
		},
		{
			name:  "missing base directory",
			files: map[string]string{"base/job.yaml": string(job), "base/kustomization.yaml": "resources:\n- job.yaml\n- ../nope\n"},
			path:  "base",
			want:  "'base/kustomization.yaml' (building 'base'): resources[1]: '../nope' does not exist",
		},
		{
			name: "missing file in a base of an overlay",
			files: map[string]string{
				"base/job.yaml": string(job), "base/kustomization.yaml": "resources:\n- job.yaml\n- gone.yaml\n",
				"prod/kustomization.yaml": "resources:\n- ../base\n",
			},
			path: "prod",
			want: "'base/kustomization.yaml' (building 'prod'): resources[1]: 'gone.yaml' does not exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Build(t.Context(), root, tt.path, DefaultBuildOptions())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Errors) != 1 {
				t.Fatalf("errors %v, want one", res.Errors)
			}
			got := res.Errors[0]
			if got.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", got.Error(), tt.want)
			}
			if !errors.Is(got, ErrNotFound) {
				t.Errorf("error %v is not ErrNotFound", got)
			}
			if strings.Contains(got.Error(), root) {
				t.Errorf("error %q shows the absolute root", got)
			}
		})
	}
}
