package build

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeJob decodes arbitrary bytes as a job file: it must never
// panic, and a job it returns is either decoded or explains why not. The
// seed corpus is every YAML file under testdata, so plain go test runs it.
func FuzzDecodeJob(f *testing.F) {
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
			return err
		}
		data, err := os.ReadFile(p)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\nmetadata: {name: [a]}\nspec: {volumes: [1, {name: 2}]}\n"))
	f.Add([]byte("apiVersion: sparkoperator.k8s.io/v1beta2\nkind: ScheduledSparkApplication\nspec: {template: 3}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := Decode(data, Origin{File: "fuzz.yaml"})
		if err != nil {
			return
		}
		for _, j := range jobs {
			if j.Object == nil && len(j.Findings) == 0 {
				t.Errorf("job %q neither decoded nor explained", j.Name)
			}
		}
	})
}
