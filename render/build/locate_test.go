package build

import (
	"path/filepath"
	"testing"
)

func TestLocate(t *testing.T) {
	root := filepath.Join("testdata", "build", "layout")
	etl := Origin{File: "base/etl/job.yaml", Kind: "SparkJob"}
	tests := []struct {
		name   string
		origin Origin
		job    string
		field  string
		want   int
	}{
		{name: "field written in the file", origin: etl, job: "nightly-etl", field: "spec.dynamicAllocation.maxExecutors", want: 13},
		{name: "unset field falls back to its parent", origin: etl, job: "nightly-etl", field: "spec.dynamicAllocation.minExecutors", want: 11},
		{name: "unset block falls back to spec", origin: etl, job: "nightly-etl", field: "spec.driver.memory", want: 6},
		{name: "no field is the document start", origin: etl, job: "nightly-etl", field: "", want: 2},
		{name: "renamed by an overlay: the only job of its kind", origin: etl, job: "nightly-etl-dev", field: "spec.timeZone", want: 10},
		{name: "nested field", origin: Origin{File: "base/spark-pi/job.yaml", Kind: "SparkJob"}, job: "spark-pi", field: "spec.executor.memory", want: 16},
		{name: "missing file", origin: Origin{File: "nope.yaml", Kind: "SparkJob"}, job: "x", field: "spec", want: 0},
		{name: "remote origin", origin: Origin{File: "github.com/a/b//job.yaml", Kind: "SparkJob"}, job: "x", field: "spec", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Locate(root, tt.origin, tt.job, tt.field); got != tt.want {
				t.Errorf("Locate = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestLocateIn(t *testing.T) {
	doc := `apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: a
spec:
  volumes:
  - name: one
  - name: two
    emptyDir:
      sizeLimit: lots
---
apiVersion: sparkcd.io/v1alpha1
kind: SparkJob
metadata:
  name: b
spec:
  type: Scala
`
	tests := []struct {
		name, job, field string
		want             int
	}{
		{name: "index into a list", job: "a", field: "spec.volumes[1].emptyDir.sizeLimit", want: 10},
		{name: "index out of range", job: "a", field: "spec.volumes[5].name", want: 6},
		{name: "second document", job: "b", field: "spec.type", want: 17},
		{name: "no such job, two of the kind", job: "c", field: "spec.type", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LocateIn([]byte(doc), "SparkJob", tt.job, tt.field); got != tt.want {
				t.Errorf("LocateIn = %d, want %d", got, tt.want)
			}
		})
	}
}
