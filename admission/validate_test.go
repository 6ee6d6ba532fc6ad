package admission

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestValidateCorpus checks every file of testdata/invalid: the findings,
// as "rule field" pairs, are exactly the file's "# expect:" lines.
func TestValidateCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("the invalid corpus has %d files, want at least 20", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := expectations(b)
			if len(want) == 0 {
				t.Fatalf("%s has no '# expect: rule field' line", file)
			}
			job := &v1alpha1.SparkJob{}
			if err := yaml.UnmarshalStrict(b, job); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			var got []string
			for _, f := range Validate(job) {
				got = append(got, f.Rule+" "+f.Field)
				if f.Message == "" {
					t.Errorf("finding %s %s has no message", f.Rule, f.Field)
				}
				if f.Rule == RuleCredentialsInSparkConf {
					for _, v := range job.Spec.SparkConf {
						if strings.Contains(f.Message, v) {
							t.Errorf("message %q echoes a credential", f.Message)
						}
					}
					for _, v := range job.Spec.HadoopConf {
						if strings.Contains(f.Message, v) {
							t.Errorf("message %q echoes a credential", f.Message)
						}
					}
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Validate() findings mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// expectations reads the "# expect: rule field" lines of a corpus file.
func expectations(b []byte) []string {
	var out []string
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "# expect:"); ok {
			out = append(out, strings.TrimSpace(rest))
		}
	}
	sort.Strings(out)
	return out
}

func validTestJob() *v1alpha1.SparkJob {
	s := func(v string) *string { return &v }
	return &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "spark-pi", Namespace: "spark"},
		Spec: v1alpha1.SparkJobSpec{
			Type:                v1alpha1.ScalaApplication,
			Image:               s("apache/spark:3.5.3"),
			MainClass:           s("org.apache.spark.examples.SparkPi"),
			MainApplicationFile: s("local:///opt/spark/examples/jars/spark-examples.jar"),
		},
	}
}

func TestValidate(t *testing.T) {
	s := func(v string) *string { return &v }
	i32 := func(v int32) *int32 { return &v }
	yes, no := true, false
	tests := []struct {
		name   string
		mutate func(*v1alpha1.SparkJob)
		want   []v1alpha1.Finding
	}{
		{name: "valid", mutate: func(*v1alpha1.SparkJob) {}},
		{name: "valid dynamic allocation", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.DynamicAllocation = &v1alpha1.DynamicAllocation{Enabled: &yes, MinExecutors: i32(1), InitialExecutors: i32(1), MaxExecutors: i32(60),
				ExecutorAllocationRatio: s("0.5"), ExecutorIdleTimeout: &metav1.Duration{Duration: time.Minute}}
		}},
		{name: "decommission migration replaces shuffle tracking", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.DynamicAllocation = &v1alpha1.DynamicAllocation{Enabled: &yes, ShuffleTrackingEnabled: &no, MaxExecutors: i32(4)}
			j.Spec.SparkConf = map[string]string{"spark.decommission.enabled": "true", "spark.storage.decommission.enabled": "true"}
		}},
		{name: "shuffle tracking default on spark 3.4", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkVersion = "3.4.1"
			j.Spec.SparkConf = map[string]string{"spark.dynamicAllocation.enabled": "true"}
		}},
		{name: "valid schedule and zone", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Schedule, j.Spec.TimeZone = "@every 1h30m", "Europe/Paris"
		}},
		{name: "same image twice is a warning", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{"spark.kubernetes.container.image": "apache/spark:3.5.3"}
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: RuleImageConflict, Field: "spec.sparkConf[spark.kubernetes.container.image]",
			Message: "sparkConf sets spark.kubernetes.container.image to the same image as spec.image ('apache/spark:3.5.3'): remove the sparkConf entry"}}},
		{name: "image from sparkConf alone", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Image = nil
			j.Spec.SparkConf = map[string]string{"spark.kubernetes.container.image": "apache/spark:3.5.3"}
		}},
		{name: "memory message names value and expectation", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Executor.Memory = s("4Gi")
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityError, Rule: RuleInvalidMemory, Field: "spec.executor.memory",
			Message: `spark.executor.memory is '4Gi': '4Gi' is a Kubernetes quantity, not a Spark size: use "4g"`}}},
		{name: "credential value never echoed", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.HadoopConf = map[string]string{"fs.azure.account.key.store.dfs.core.windows.net": "c2VjcmV0"}
		}, want: []v1alpha1.Finding{{Severity: v1alpha1.SeverityWarning, Rule: RuleCredentialsInSparkConf, Field: "spec.hadoopConf[fs.azure.account.key.store.dfs.core.windows.net]",
			Message: "spark.hadoop.fs.azure.account.key.store.dfs.core.windows.net looks like a credential in the job spec, that is in git: mount it from a Secret (spec.driver.secrets, envFrom) instead"}}},
		{name: "service account name is no credential", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.SparkConf = map[string]string{"spark.kubernetes.authenticate.driver.serviceAccountName": "spark"}
		}},
		{name: "mount of a generated volume", mutate: func(j *v1alpha1.SparkJob) {
			j.Spec.Driver.ConfigMaps = []v1alpha1.NamePath{{Name: "queries", Path: "/q"}}
			j.Spec.Driver.Sidecars = nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := validTestJob()
			tt.mutate(job)
			got := Validate(job)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	got := Validate(nil)
	if len(got) != 1 || got[0].Rule != RuleRequiredField {
		t.Errorf("Validate(nil) = %+v, want one required-field finding", got)
	}
}

func TestValidateSorted(t *testing.T) {
	job := validTestJob()
	job.Spec.Type = ""
	job.Spec.MainApplicationFile = nil
	job.Spec.Image = nil
	job.Name = "Bad_Name"
	got := Validate(job)
	if !sort.SliceIsSorted(got, func(i, j int) bool {
		if got[i].Field != got[j].Field {
			return got[i].Field < got[j].Field
		}
		return got[i].Rule < got[j].Rule
	}) {
		t.Errorf("Validate() findings are not sorted: %+v", got)
	}
}
