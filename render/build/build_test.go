package build

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// jobLine summarises a job for comparison: "ns/name file unit kind".
func jobLines(jobs []Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.Namespace+"/"+j.Name+" "+j.Origin.File+" "+j.Origin.Unit+" "+j.Origin.Kind)
	}
	return out
}

func findingRules(jobs []Job) []string {
	var out []string
	for _, j := range jobs {
		for _, f := range j.Findings {
			out = append(out, j.Name+" "+string(f.Severity)+" "+f.Rule+" "+f.Field)
		}
	}
	return out
}

// layoutCase is one case of TestBuildLayouts.
type layoutCase struct {
	name     string
	path     string
	want     []string
	units    []string
	findings []string
}

// layoutCases are the layouts Build accepts: overlays, globs of them,
// plain directories, one file, a kustomization file.
func layoutCases() []layoutCase {
	return []layoutCase{
		{
			name: "overlay over a base of bases",
			path: "overlays/prod",
			want: []string{
				"spark-prod/nightly-etl base/etl/job.yaml overlays/prod SparkJob",
				"spark-prod/spark-pi base/spark-pi/job.yaml overlays/prod SparkJob",
			},
			units: []string{"overlays/prod"},
		},
		{
			name: "glob of overlays, each built on its own",
			path: "overlays/*",
			want: []string{
				"spark-dev/nightly-etl-dev base/etl/job.yaml overlays/dev SparkJob",
				"spark-dev/spark-pi-dev base/spark-pi/job.yaml overlays/dev SparkJob",
				"spark-prod/nightly-etl base/etl/job.yaml overlays/prod SparkJob",
				"spark-prod/spark-pi base/spark-pi/job.yaml overlays/prod SparkJob",
			},
			units: []string{"overlays/dev", "overlays/prod"},
		},
		{
			name: "plain directory: YAML files below, kustomizations as bases, hidden skipped",
			path: "plain",
			want: []string{
				"default/k-c plain/withkust/c.yaml plain SparkJob",
				"default/plain-b plain/sub/b.yml plain SparkJob",
				"team-a/plain-a plain/a.yaml plain SparkJob",
			},
			units: []string{"plain"},
		},
		{
			name:  "one file",
			path:  "base/spark-pi/job.yaml",
			want:  []string{"default/spark-pi base/spark-pi/job.yaml base/spark-pi/job.yaml SparkJob"},
			units: []string{"base/spark-pi/job.yaml"},
		},
		{
			name:  "a kustomization file stands for its directory",
			path:  "base/spark-pi/kustomization.yaml",
			want:  []string{"default/spark-pi base/spark-pi/job.yaml base/spark-pi/kustomization.yaml SparkJob"},
			units: []string{"base/spark-pi/kustomization.yaml"},
		},
	}
}

func TestBuildLayouts(t *testing.T) {
	root := filepath.Join("testdata", "build", "layout")
	for _, tt := range layoutCases() {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Build(t.Context(), root, tt.path, DefaultBuildOptions())
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if len(res.Errors) > 0 {
				t.Fatalf("unit errors: %v", res.Errors)
			}
			if diff := cmp.Diff(tt.want, jobLines(res.Jobs)); diff != "" {
				t.Errorf("jobs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.units, res.Units); diff != "" {
				t.Errorf("units (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.findings, findingRules(res.Jobs)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, j := range res.Jobs {
				if j.Object == nil {
					t.Fatalf("job %s not decoded", j.Name)
				}
				if _, ok := j.Object.Annotations[originAnnotation]; ok {
					t.Errorf("job %s keeps the origin annotation", j.Name)
				}
				if j.Object.Namespace != j.Namespace || j.Object.Kind != "SparkJob" || j.Object.APIVersion != "sparkcd.io/v1alpha1" {
					t.Errorf("job %s: object identity %s/%s %s %s", j.Name, j.Object.Namespace, j.Object.Name, j.Object.APIVersion, j.Object.Kind)
				}
			}
		})
	}
}

func TestBuildOverlayContent(t *testing.T) {
	res, err := Build(t.Context(), filepath.Join("testdata", "build", "layout"), "overlays/*", DefaultBuildOptions())
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("Build: %v %v", err, res.Errors)
	}
	byName := map[string]Job{}
	for _, j := range res.Jobs {
		byName[j.Namespace+"/"+j.Name] = j
	}
	if got := byName["spark-prod/spark-pi"].Object.Spec.LogLevel; got != "ERROR" {
		t.Errorf("prod logLevel = %q, want ERROR", got)
	}
	if got := *byName["spark-dev/nightly-etl-dev"].Object.Spec.DynamicAllocation.MaxExecutors; got != 5 {
		t.Errorf("dev maxExecutors = %d, want 5", got)
	}
	if got := *byName["spark-prod/nightly-etl"].Object.Spec.DynamicAllocation.MaxExecutors; got != 60 {
		t.Errorf("prod maxExecutors = %d, want 60", got)
	}
}

func TestBuildPathErrors(t *testing.T) {
	root := filepath.Join("testdata", "build", "layout")
	tests := []struct {
		name string
		root string
		path string
		want error
	}{
		{name: "missing path", root: root, path: "overlays/staging", want: ErrNotFound},
		{name: "glob matching nothing", root: root, path: "jobs/*/overlays/prod", want: ErrNotFound},
		{name: "path above the root", root: root, path: "../build", want: ErrOutsideRoot},
		{name: "absolute path elsewhere", root: root, path: "/etc", want: ErrOutsideRoot},
		{name: "missing root", root: filepath.Join(root, "nowhere"), path: ".", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Build(t.Context(), tt.root, tt.path, DefaultBuildOptions())
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), "'") {
				t.Errorf("error %q names nothing", err)
			}
		})
	}
}

func TestBuildCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := Build(ctx, filepath.Join("testdata", "build", "layout"), "overlays/*", DefaultBuildOptions())
	if err == nil {
		t.Fatal("Build of a cancelled context succeeded")
	}
	if res == nil || len(res.Jobs) != 0 {
		t.Errorf("cancelled build built units: %+v", res)
	}
}

func TestBuildAbsolutePathInsideRoot(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("testdata", "build", "layout"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Build(t.Context(), root, filepath.Join(root, "overlays", "prod"), DefaultBuildOptions())
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("Build: %v %v", err, res.Errors)
	}
	if diff := cmp.Diff([]string{"overlays/prod"}, res.Units); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(root, "overlays", "prod", "kustomization.yaml")); err != nil {
		t.Fatal(err)
	}
}

func TestWithOriginAnnotations(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{name: "block mapping", in: "resources:\n- job.yaml\n"},
		{name: "no final newline", in: "resources:\n- job.yaml"},
		{name: "ends in a block scalar", in: "resources:\n- job.yaml\npatches:\n- patch: |-\n    - op: add\n      path: /a\n"},
		{name: "flow mapping", in: "{resources: [job.yaml]}\n"},
		{name: "existing buildMetadata", in: "buildMetadata: [managedByLabel]\nresources: [job.yaml]\n"},
		{name: "already on", in: "buildMetadata: [originAnnotations]\nresources: [job.yaml]\n"},
		{name: "document marker", in: "---\nresources: [job.yaml]\n...\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.in), &doc); err != nil {
				t.Fatal(err)
			}
			out, err := withOriginAnnotations([]byte(tt.in), &doc)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				BuildMetadata []string `yaml:"buildMetadata"`
				Resources     []string `yaml:"resources"`
			}
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("result is not YAML: %v\n%s", err, out)
			}
			if !slices.Contains(got.BuildMetadata, "originAnnotations") || len(got.Resources) != 1 {
				t.Errorf("got %+v from:\n%s", got, out)
			}
		})
	}
}
