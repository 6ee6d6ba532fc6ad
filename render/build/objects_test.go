package build

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeTree writes files (path → content) below a new temporary root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const supportJob = `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: pi
spec:
  type: Scala
  image: spark:4.0.0
  mainClass: org.apache.spark.examples.SparkPi
  mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar
  sparkVersion: 4.0.0
`

const supportObjects = `apiVersion: v1
kind: ServiceAccount
metadata:
  name: spark
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: spark
  namespace: spark-jobs
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: spark
subjects:
- kind: ServiceAccount
  name: spark
`

// TestBuildSupportingObjects: every object that is not a job comes out of
// the build with its file, line and namespace, from kustomizations
// (generators included) and plain directories, and again from the cache.
func TestBuildSupportingObjects(t *testing.T) {
	root := writeTree(t, map[string]string{
		"app/kustomization.yaml": "resources: [job.yaml, support.yaml]\nconfigMapGenerator:\n- name: conf\n  literals: [a=b]\n  options: {disableNameSuffixHash: true}\n",
		"app/job.yaml":           supportJob,
		"app/support.yaml":       supportObjects,
		"plain/job.yaml":         supportJob,
		"plain/secret.yaml":      "# a comment\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: other\n  annotations: {keep: me}\nstringData:\n  password: hunter2\n",
	})
	cache := NewCache()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"app", []string{
			"default /ConfigMap conf app/kustomization.yaml app 0",
			"default /ServiceAccount spark app/support.yaml app 1",
			"spark-jobs rbac.authorization.k8s.io/RoleBinding spark app/support.yaml app 6",
		}},
		{"plain", []string{"other /Secret creds plain/secret.yaml plain 2"}},
	} {
		for pass := range 2 {
			t.Run(fmt.Sprintf("%s pass %d", tc.path, pass), func(t *testing.T) {
				opts := DefaultBuildOptions()
				opts.Cache = cache
				res, err := Build(t.Context(), root, tc.path, opts)
				if err != nil || len(res.Errors) > 0 {
					t.Fatalf("Build: %v %v", err, res.Errors)
				}
				var got []string
				for _, o := range res.Objects {
					got = append(got, fmt.Sprintf("%s %s/%s %s %s %s %d", o.Namespace, o.Group, o.Kind, o.Name, o.Origin.File, o.Origin.Unit, o.Line))
					if _, ok := o.Object.GetAnnotations()[originAnnotation]; ok {
						t.Errorf("%s %s keeps the origin annotation", o.Kind, o.Name)
					}
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("objects (-want +got):\n%s", diff)
				}
				if len(res.Jobs) != 1 {
					t.Errorf("jobs = %d, want 1", len(res.Jobs))
				}
			})
		}
	}
	if cache.hits.Load() != 2 {
		t.Errorf("cache hits = %d, want 2", cache.hits.Load())
	}
}
