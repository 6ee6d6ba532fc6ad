package materialize

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/runid"
)

// updateGolden is the package's one -update flag: it rewrites golden files.
var updateGolden = flag.Bool("update", false, "rewrite the golden files")

// goldenRevision is the revision every golden run starts from.
const goldenRevision = "main@sha1:0123456789abcdef0123456789abcdef01234567"

func decodeJobFile(t *testing.T, file string) *v1alpha1.SparkJob {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	job := &v1alpha1.SparkJob{}
	if err := yaml.UnmarshalStrict(b, job); err != nil {
		t.Fatalf("decoding '%s': %v", file, err)
	}
	return job
}

// objectsYAML writes the objects as one multi-document YAML: ConfigMap,
// Service, Pod, then the optional dependents in their order.
func objectsYAML(t *testing.T, objs *Objects) []byte {
	t.Helper()
	var docs []any
	docs = append(docs, objs.ConfigMap, objs.Service, objs.Pod)
	for _, d := range objs.Dependents()[2:] {
		docs = append(docs, d)
	}
	var out bytes.Buffer
	for i, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(b)
	}
	return out.Bytes()
}

func TestMaterializeGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/materialize/*.job.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".job.yaml")
		t.Run(name, func(t *testing.T) {
			job := decodeJobFile(t, file)
			run := runid.OfflineRun(job, goldenRevision)
			objs, err := Materialize(job, run, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			got := objectsYAML(t, objs)
			again, err := Materialize(job, run, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, objectsYAML(t, again)) {
				t.Fatal("Materialize() is not deterministic")
			}
			golden := strings.TrimSuffix(file, ".job.yaml") + ".golden.yaml"
			if *updateGolden {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Materialize() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMaterializeSizing checks the worked examples of SPARK-FACTS.md on the
// pods themselves.
func TestMaterializeSizing(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		wantMemory string
		wantCPU    string
	}{
		{name: "scala 1g driver", file: "testdata/materialize/scala-static.job.yaml", wantMemory: "1408Mi", wantCPU: "1"},
		{name: "java 3g driver with 1g overhead", file: "testdata/materialize/java-hadoop.job.yaml", wantMemory: "4Gi", wantCPU: "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := decodeJobFile(t, tt.file)
			objs, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			r := objs.Pod.Spec.Containers[0].Resources
			if got := r.Requests.Memory().String(); got != tt.wantMemory {
				t.Errorf("memory request = %s, want %s", got, tt.wantMemory)
			}
			if got := r.Limits.Memory().String(); got != tt.wantMemory {
				t.Errorf("memory limit = %s, want %s", got, tt.wantMemory)
			}
			if got := r.Requests.Cpu().String(); got != tt.wantCPU {
				t.Errorf("cpu request = %s, want %s", got, tt.wantCPU)
			}
		})
	}
	python := decodeJobFile(t, "testdata/materialize/python-dynamic.job.yaml")
	python.Spec.Driver.Memory = pointerTo("4g")
	objs, err := Materialize(python, runid.OfflineRun(python, goldenRevision), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := objs.Pod.Spec.Containers[0].Resources.Limits.Memory().String(); got != "5734Mi" {
		t.Errorf("python 4g driver memory = %s, want 5734Mi", got)
	}
}

func pointerTo[T any](v T) *T { return &v }

func TestMaterializeErrors(t *testing.T) {
	base := func() *v1alpha1.SparkJob { return decodeJobFile(t, "testdata/materialize/scala-static.job.yaml") }
	tests := []struct {
		name   string
		mutate func(*v1alpha1.SparkJob, *runid.Identity)
	}{
		{name: "no namespace", mutate: func(j *v1alpha1.SparkJob, _ *runid.Identity) { j.Namespace = "" }},
		{name: "bad app id", mutate: func(_ *v1alpha1.SparkJob, r *runid.Identity) { r.AppID = "app-1" }},
		{name: "long run name", mutate: func(_ *v1alpha1.SparkJob, r *runid.Identity) { r.Name = strings.Repeat("r", 48) }},
		{name: "no image", mutate: func(j *v1alpha1.SparkJob, _ *runid.Identity) { j.Spec.Image = nil }},
		{name: "no main class", mutate: func(j *v1alpha1.SparkJob, _ *runid.Identity) { j.Spec.MainClass = nil }},
		{name: "no main file", mutate: func(j *v1alpha1.SparkJob, _ *runid.Identity) { j.Spec.MainApplicationFile = nil }},
		{name: "kubernetes memory", mutate: func(j *v1alpha1.SparkJob, _ *runid.Identity) { j.Spec.Driver.Memory = pointerTo("1Gi") }},
		{name: "bad ui port", mutate: func(j *v1alpha1.SparkJob, _ *runid.Identity) {
			j.Spec.SparkConf = map[string]string{"spark.ui.port": "ui"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := base()
			run := runid.OfflineRun(job, goldenRevision)
			tt.mutate(job, &run)
			if _, err := Materialize(job, run, DefaultOptions()); err == nil {
				t.Error("Materialize() = nil error, want one")
			}
		})
	}
	if _, err := Materialize(nil, runid.Identity{}, DefaultOptions()); err == nil {
		t.Error("Materialize(nil) = nil error, want one")
	}
}

func TestSetDriverOwner(t *testing.T) {
	job := decodeJobFile(t, "testdata/materialize/ingress.job.yaml")
	objs, err := Materialize(job, runid.OfflineRun(job, goldenRevision), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	pod := objs.Pod.DeepCopy()
	pod.UID = "4f6c-uid"
	SetDriverOwner(objs, pod)
	yes := true
	want := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: "4f6c-uid", Controller: &yes, BlockOwnerDeletion: &yes}}
	for name, got := range map[string][]metav1.OwnerReference{
		"configmap": objs.ConfigMap.OwnerReferences,
		"service":   objs.Service.OwnerReferences,
		"ingress":   objs.Ingress.OwnerReferences,
	} {
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s ownerReferences mismatch (-want +got):\n%s", name, diff)
		}
	}
	if len(objs.Pod.OwnerReferences) != 0 {
		t.Errorf("the pod owns itself: %v", objs.Pod.OwnerReferences)
	}
	SetDriverOwner(nil, pod)
	SetDriverOwner(&Objects{}, &corev1.Pod{})
}

func TestEncodeProperties(t *testing.T) {
	got := encodeProperties(map[string]string{
		"spark.b":             "x=y:z #!",
		"spark.a":             " leading space",
		"key with space":      `C:\path`,
		"spark.multi":         "line1\nline2\ttab",
		"spark.unicode":       "café €",
		"spark.executorEnv.Z": "",
	}, "header")
	want := "#header\n" +
		`key\ with\ space=C\:\\path` + "\n" +
		`spark.a=\ leading space` + "\n" +
		`spark.b=x\=y\:z \#\!` + "\n" +
		"spark.executorEnv.Z=\n" +
		`spark.multi=line1\nline2\ttab` + "\n" +
		`spark.unicode=caf\u00E9 \u20AC` + "\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("encodeProperties() mismatch (-want +got):\n%s", diff)
	}
}
