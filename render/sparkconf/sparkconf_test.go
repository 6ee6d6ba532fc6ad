package sparkconf

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

func ptr[T any](v T) *T { return &v }

func newJob(t v1alpha1.SparkApplicationType, mutate func(*v1alpha1.SparkJobSpec)) *v1alpha1.SparkJob {
	job := &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "spark"},
		Spec: v1alpha1.SparkJobSpec{
			Type:                t,
			Image:               ptr("apache/spark:3.5.3"),
			MainApplicationFile: ptr("local:///opt/spark/examples/jars/spark-examples.jar"),
		},
	}
	if t == v1alpha1.PythonApplication {
		job.Spec.MainApplicationFile = ptr("local:///opt/spark/examples/src/main/python/pi.py")
	}
	if mutate != nil {
		mutate(&job.Spec)
	}
	return job
}

// driverResourcesCase is one case of TestDriverResources.
type driverResourcesCase struct {
	name string
	job  *v1alpha1.SparkJob
	want PodResources
}

// driverMemoryCases size the driver from its memory and the overhead
// factors that apply to it.
func driverMemoryCases() []driverResourcesCase {
	return []driverResourcesCase{
		{
			name: "defaults scala",
			job:  newJob(v1alpha1.ScalaApplication, nil),
			want: PodResources{HeapMiB: 1024, OverheadMiB: 384, MemoryMiB: 1408},
		},
		{
			name: "memory 1g scala is 1408Mi",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Driver.Memory = ptr("1g")
			}),
			want: PodResources{HeapMiB: 1024, OverheadMiB: 384, MemoryMiB: 1408},
		},
		{
			name: "memory 4g python is 5734Mi",
			job: newJob(v1alpha1.PythonApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Driver.Memory = ptr("4g")
			}),
			want: PodResources{HeapMiB: 4096, OverheadMiB: 1638, MemoryMiB: 5734},
		},
		{
			name: "memory 8g java uses 0.1",
			job: newJob(v1alpha1.JavaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Driver.Memory = ptr("8g")
			}),
			want: PodResources{HeapMiB: 8192, OverheadMiB: 819, MemoryMiB: 9011},
		},
		{
			name: "explicit overhead",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Driver.Memory = ptr("2g")
				s.Driver.MemoryOverhead = ptr("1g")
			}),
			want: PodResources{HeapMiB: 2048, OverheadMiB: 1024, MemoryMiB: 3072},
		},
		{
			name: "kubernetes factor for python",
			job: newJob(v1alpha1.PythonApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Driver.Memory = ptr("4g")
				s.MemoryOverheadFactor = ptr("0.2")
			}),
			want: PodResources{HeapMiB: 4096, OverheadMiB: 819, MemoryMiB: 4915},
		},
		{
			name: "driver factor wins",
			job: newJob(v1alpha1.PythonApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Driver.Memory = ptr("10g")
				s.MemoryOverheadFactor = ptr("0.2")
				s.SparkConf = map[string]string{KeyDriverMemoryOverheadFactor: "0.15"}
			}),
			want: PodResources{HeapMiB: 10240, OverheadMiB: 1536, MemoryMiB: 11776},
		},
	}
}

// driverMinOverheadCases: Spark 4's minimum overhead, and memory set
// through sparkConf.
func driverMinOverheadCases() []driverResourcesCase {
	return []driverResourcesCase{
		{
			name: "spark 4 min overhead",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkVersion = "4.0.0"
				s.SparkConf = map[string]string{KeyDriverMinMemoryOverhead: "512m"}
			}),
			want: PodResources{HeapMiB: 1024, OverheadMiB: 512, MemoryMiB: 1536},
		},
		{
			name: "min overhead ignored before spark 4",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkVersion = "3.5.3"
				s.SparkConf = map[string]string{KeyDriverMinMemoryOverhead: "512m"}
			}),
			want: PodResources{HeapMiB: 1024, OverheadMiB: 384, MemoryMiB: 1408},
		},
		{
			name: "sparkConf memory counts",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkConf = map[string]string{KeyDriverMemory: "2048"}
			}),
			want: PodResources{HeapMiB: 2048, OverheadMiB: 384, MemoryMiB: 2432},
		},
	}
}

func TestDriverResources(t *testing.T) {
	for _, tt := range slices.Concat(driverMemoryCases(), driverMinOverheadCases()) {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DriverResources(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			if got.CPURequest.String() != "1" || got.CPULimit != nil {
				t.Errorf("cpu = %s / %v, want 1 / none", got.CPURequest.String(), got.CPULimit)
			}
			got.CPURequest = tt.want.CPURequest
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DriverResources() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// executorResourcesCase is one case of TestExecutorResources.
type executorResourcesCase struct {
	name                   string
	job                    *v1alpha1.SparkJob
	heap, overhead, memory int64
	cpuRequest, cpuLimit   string
}

// executorResourcesCases are executor pods sized by overhead factors,
// cores, off-heap memory and PySpark memory.
func executorResourcesCases() []executorResourcesCase {
	return []executorResourcesCase{
		{
			name: "python 4g inherits 0.4",
			job: newJob(v1alpha1.PythonApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Executor.Memory = ptr("4g")
			}),
			heap: 4096, overhead: 1638, memory: 5734, cpuRequest: "1",
		},
		{
			name: "scala 4g 0.1",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Executor.Memory = ptr("4g")
				s.Executor.Cores = ptr(int32(4))
				s.Executor.CoreRequest = ptr("3400m")
				s.Executor.CoreLimit = ptr("4")
			}),
			heap: 4096, overhead: 409, memory: 4505, cpuRequest: "3400m", cpuLimit: "4",
		},
		{
			name: "executor factor ignores driver factor",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Executor.Memory = ptr("10g")
				s.SparkConf = map[string]string{KeyDriverMemoryOverheadFactor: "0.3", KeyExecutorMemoryOverheadFactor: "0.2"}
			}),
			heap: 10240, overhead: 2048, memory: 12288, cpuRequest: "1",
		},
		{
			name: "cores without request",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Executor.Cores = ptr(int32(3))
			}),
			heap: 1024, overhead: 384, memory: 1408, cpuRequest: "3",
		},
		{
			name: "off-heap adds",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Executor.Memory = ptr("4g")
				s.SparkConf = map[string]string{KeyOffHeapEnabled: "true", KeyOffHeapSize: "2g"}
			}),
			heap: 4096, overhead: 409, memory: 6553, cpuRequest: "1",
		},
		{
			name: "off-heap bare size is bytes",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkConf = map[string]string{KeyOffHeapEnabled: "true", KeyOffHeapSize: "1073741824"}
			}),
			heap: 1024, overhead: 384, memory: 2432, cpuRequest: "1",
		},
		{
			name: "off-heap size ignored when disabled",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkConf = map[string]string{KeyOffHeapSize: "2g"}
			}),
			heap: 1024, overhead: 384, memory: 1408, cpuRequest: "1",
		},
		{
			name: "pyspark memory adds for python",
			job: newJob(v1alpha1.PythonApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkConf = map[string]string{KeyExecutorPySparkMemory: "512m"}
			}),
			heap: 1024, overhead: 409, memory: 1945, cpuRequest: "1",
		},
		{
			name: "pyspark memory ignored for scala",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkConf = map[string]string{KeyExecutorPySparkMemory: "512m"}
			}),
			heap: 1024, overhead: 384, memory: 1408, cpuRequest: "1",
		},
	}
}

func TestExecutorResources(t *testing.T) {
	for _, tt := range executorResourcesCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExecutorResources(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			if got.HeapMiB != tt.heap || got.OverheadMiB != tt.overhead || got.MemoryMiB != tt.memory {
				t.Errorf("memory = %d + %d = %d MiB, want %d + %d = %d MiB",
					got.HeapMiB, got.OverheadMiB, got.MemoryMiB, tt.heap, tt.overhead, tt.memory)
			}
			if got.CPURequest.String() != tt.cpuRequest {
				t.Errorf("cpu request = %s, want %s", got.CPURequest.String(), tt.cpuRequest)
			}
			gotLimit := ""
			if got.CPULimit != nil {
				gotLimit = got.CPULimit.String()
			}
			if gotLimit != tt.cpuLimit {
				t.Errorf("cpu limit = %q, want %q", gotLimit, tt.cpuLimit)
			}
		})
	}
}

func TestResourcesErrors(t *testing.T) {
	tests := []struct {
		name string
		job  *v1alpha1.SparkJob
	}{
		{name: "kubernetes memory", job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) { s.Executor.Memory = ptr("4Gi") })},
		{name: "bad request cores", job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) { s.Executor.CoreRequest = ptr("lots") })},
		{name: "fractional cores", job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
			s.SparkConf = map[string]string{"spark.executor.cores": "1.5"}
		})},
		{name: "off-heap without size", job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
			s.SparkConf = map[string]string{KeyOffHeapEnabled: "true"}
		})},
		{name: "bad factor", job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) { s.MemoryOverheadFactor = ptr("lots") })},
		{name: "unknown type", job: newJob("Go", nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ExecutorResources(tt.job); err == nil {
				t.Error("ExecutorResources() = nil error, want one")
			}
		})
	}
}

func TestJobProperties(t *testing.T) {
	job := newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
		s.MainClass = ptr("org.apache.spark.examples.SparkPi")
		s.ImagePullPolicy = ptr("IfNotPresent")
		s.ImagePullSecrets = []string{"regcred", "other"}
		s.Executor.Image = ptr("apache/spark:exec")
		s.SparkConf = map[string]string{
			"spark.executor.memory":  "2g", // the typed field wins
			"spark.eventLog.enabled": "true",
			KeyJars:                  "https://ignored/x.jar",
		}
		s.HadoopConf = map[string]string{"fs.s3a.endpoint": "http://minio:9000"}
		s.Deps.Jars = []string{"local:///opt/jars/a.jar"}
		s.Deps.Packages = []string{"org.apache.hadoop:hadoop-aws:3.3.4"}
		s.Driver.Cores = ptr(int32(1))
		s.Driver.CoreLimit = ptr("1200m")
		s.Driver.Memory = ptr("512m")
		s.Driver.ServiceAccount = ptr("spark")
		s.Driver.JavaOptions = ptr("-XX:+UseG1GC")
		s.Executor.Instances = ptr(int32(3))
		s.Executor.Memory = ptr("4g")
		s.Executor.DeleteOnTermination = ptr(false)
		s.DynamicAllocation = &v1alpha1.DynamicAllocation{
			Enabled:             ptr(true),
			MaxExecutors:        ptr(int32(10)),
			ExecutorIdleTimeout: &metav1.Duration{Duration: 90 * time.Second},
		}
	})
	got, err := JobProperties(job)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"spark.app.name":                                          "pi",
		"spark.kubernetes.namespace":                              "spark",
		"spark.submit.deployMode":                                 "cluster",
		"spark.kubernetes.submitInDriver":                         "true",
		"spark.kubernetes.resource.type":                          "java",
		"spark.kubernetes.memoryOverheadFactor":                   "0.1",
		"spark.kubernetes.container.image":                        "apache/spark:3.5.3",
		"spark.kubernetes.driver.container.image":                 "apache/spark:3.5.3",
		"spark.kubernetes.executor.container.image":               "apache/spark:exec",
		"spark.kubernetes.container.image.pullPolicy":             "IfNotPresent",
		"spark.kubernetes.container.image.pullSecrets":            "regcred,other",
		"spark.eventLog.enabled":                                  "true",
		"spark.hadoop.fs.s3a.endpoint":                            "http://minio:9000",
		"spark.jars":                                              "local:///opt/jars/a.jar,local:///opt/spark/examples/jars/spark-examples.jar",
		"spark.jars.packages":                                     "org.apache.hadoop:hadoop-aws:3.3.4",
		"spark.driver.cores":                                      "1",
		"spark.kubernetes.driver.limit.cores":                     "1200m",
		"spark.driver.memory":                                     "512m",
		"spark.kubernetes.authenticate.driver.serviceAccountName": "spark",
		"spark.driver.extraJavaOptions":                           "-XX:+UseG1GC",
		"spark.executor.instances":                                "3",
		"spark.executor.memory":                                   "4g",
		"spark.kubernetes.executor.deleteOnTermination":           "false",
		"spark.dynamicAllocation.enabled":                         "true",
		"spark.dynamicAllocation.maxExecutors":                    "10",
		"spark.dynamicAllocation.shuffleTracking.enabled":         "true",
		"spark.dynamicAllocation.executorIdleTimeout":             "90s",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JobProperties() mismatch (-want +got):\n%s", diff)
	}
}

func TestJobPropertiesPython(t *testing.T) {
	job := newJob(v1alpha1.PythonApplication, func(s *v1alpha1.SparkJobSpec) {
		s.PythonVersion = ptr("3")
		s.Deps.PyFiles = []string{"local:///opt/app/lib.zip"}
		s.SparkConf = map[string]string{KeyShuffleTrackingEnabled: "false"}
		s.DynamicAllocation = &v1alpha1.DynamicAllocation{Enabled: ptr(true), ShuffleTrackingTimeout: ptr(int64(120000))}
	})
	got, err := JobProperties(job)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		KeyResourceType:             "python",
		KeyMemoryOverheadFactor:     "0.4",
		KeyPythonVersion:            "3",
		KeyPyFiles:                  "local:///opt/app/lib.zip",
		KeyShuffleTrackingEnabled:   "false",
		KeyShuffleTrackingTimeout:   "120000",
		KeyDynamicAllocationEnabled: "true",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got[KeyJars]; ok {
		t.Errorf("spark.jars = %q, want unset for a Python job", got[KeyJars])
	}
}

// allocationCase is one case of TestEffectiveAllocation.
type allocationCase struct {
	name   string
	job    *v1alpha1.SparkJob
	mutate func(*Allocation)
}

// allocationCases are static and dynamic jobs, from the spec or sparkConf,
// and how each changes the base allocation.
func allocationCases() []allocationCase {
	d := func(v time.Duration) *time.Duration { return &v }
	return []allocationCase{
		{
			name: "static default",
			job:  newJob(v1alpha1.ScalaApplication, nil),
			mutate: func(a *Allocation) {
				a.StaticInstances, a.InitialExecutors, a.PeakExecutors = 2, 0, ptr(int32(2))
			},
		},
		{
			name: "static instances",
			job:  newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) { s.Executor.Instances = ptr(int32(5)) }),
			mutate: func(a *Allocation) {
				a.StaticInstances, a.InitialExecutors, a.PeakExecutors = 5, 5, ptr(int32(5))
			},
		},
		{
			name: "python dynamic 1..60",
			job: newJob(v1alpha1.PythonApplication, func(s *v1alpha1.SparkJobSpec) {
				s.DynamicAllocation = &v1alpha1.DynamicAllocation{
					Enabled: ptr(true), InitialExecutors: ptr(int32(1)), MinExecutors: ptr(int32(1)),
					MaxExecutors: ptr(int32(60)), ExecutorAllocationRatio: ptr("1"),
					ShuffleTrackingTimeout:    ptr(int64(600000)),
					CachedExecutorIdleTimeout: &metav1.Duration{Duration: 10 * time.Minute},
				}
			}),
			mutate: func(a *Allocation) {
				a.Dynamic, a.MinExecutors, a.InitialExecutors = true, 1, 1
				a.MaxExecutors, a.PeakExecutors = ptr(int32(60)), ptr(int32(60))
				a.ShuffleTrackingTimeout, a.CachedExecutorIdleTimeout = d(10*time.Minute), d(10*time.Minute)
			},
		},
		{
			name: "dynamic from sparkConf on spark 3.3 has no shuffle tracking",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkVersion = "3.3.2"
				s.SparkConf = map[string]string{KeyDynamicAllocationEnabled: "true", KeyExecutorIdleTimeout: "30", KeyExecutorAllocationRatio: "0.5"}
			}),
			mutate: func(a *Allocation) {
				a.Dynamic, a.ShuffleTracking, a.Ratio, a.ExecutorIdleTimeout = true, false, 0.5, 30*time.Second
			},
		},
		{
			name: "instances raise the initial count",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.Executor.Instances = ptr(int32(4))
				s.DynamicAllocation = &v1alpha1.DynamicAllocation{Enabled: ptr(true), MinExecutors: ptr(int32(2))}
			}),
			mutate: func(a *Allocation) {
				a.Dynamic, a.MinExecutors, a.InitialExecutors, a.StaticInstances = true, 2, 4, 4
			},
		},
		{
			name: "decommission migration",
			job: newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) {
				s.SparkConf = map[string]string{KeyDecommissionEnabled: "true", KeyStorageDecommissionEnabled: "true", KeyShuffleServiceEnabled: "true"}
			}),
			mutate: func(a *Allocation) {
				a.StaticInstances, a.PeakExecutors = 2, ptr(int32(2))
				a.DecommissionMigration, a.ShuffleService = true, true
			},
		},
	}
}

func TestEffectiveAllocation(t *testing.T) {
	base := Allocation{Ratio: 1, ExecutorIdleTimeout: 60 * time.Second, SchedulerBacklogTimeout: time.Second, ShuffleTracking: true}
	for _, tt := range allocationCases() {
		t.Run(tt.name, func(t *testing.T) {
			want := base
			tt.mutate(&want)
			got, err := EffectiveAllocation(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("EffectiveAllocation() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEffectiveAllocationErrors(t *testing.T) {
	tests := []struct {
		name string
		conf map[string]string
	}{
		{name: "enabled", conf: map[string]string{KeyDynamicAllocationEnabled: "yes"}},
		{name: "max", conf: map[string]string{KeyMaxExecutors: "many"}},
		{name: "ratio", conf: map[string]string{KeyExecutorAllocationRatio: "half"}},
		{name: "timeout", conf: map[string]string{KeyExecutorIdleTimeout: "soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := newJob(v1alpha1.ScalaApplication, func(s *v1alpha1.SparkJobSpec) { s.SparkConf = tt.conf })
			if _, err := EffectiveAllocation(job); err == nil {
				t.Error("EffectiveAllocation() = nil error, want one")
			}
		})
	}
}
