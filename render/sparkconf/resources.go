package sparkconf

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// PodResources are the cpu and memory of one driver or executor pod, as
// Spark computes them.
type PodResources struct {
	// CPURequest is spark.kubernetes.<role>.request.cores, else
	// spark.<role>.cores (default 1).
	CPURequest resource.Quantity
	// CPULimit is spark.kubernetes.<role>.limit.cores, nil if unset.
	CPULimit *resource.Quantity
	// HeapMiB is spark.<role>.memory.
	HeapMiB int64
	// OverheadMiB is spark.<role>.memoryOverhead, or the factor's share of
	// the heap with Spark's floor.
	OverheadMiB int64
	// MemoryMiB is the pod's memory request and limit, everything included:
	// heap, overhead and, for executors, off-heap and PySpark memory.
	MemoryMiB int64
}

// DriverResources returns the driver pod's resources as Spark's
// BasicDriverFeatureStep computes them from the job's properties.
func DriverResources(job *v1alpha1.SparkJob) (PodResources, error) {
	p, err := JobProperties(job)
	if err != nil {
		return PodResources{}, err
	}
	return podResources(p, "driver", job.Spec.SparkVersion, driverOverheadFactor)
}

// ExecutorResources returns one executor pod's resources as Spark's
// BasicExecutorFeatureStep computes them from the job's properties: the
// executor inherits spark.kubernetes.memoryOverheadFactor as the driver
// propagates it, and its memory adds spark.memory.offHeap.size (when
// spark.memory.offHeap.enabled) and, for Python jobs,
// spark.executor.pyspark.memory.
func ExecutorResources(job *v1alpha1.SparkJob) (PodResources, error) {
	p, err := JobProperties(job)
	if err != nil {
		return PodResources{}, err
	}
	return executorResources(p, job.Spec.SparkVersion)
}

// executorMemoryLimit honours executor.memoryLimit. The Spark Operator's
// webhook raises each executor container's memory limit to it; without a
// webhook that cannot be done, because Spark sets an executor's memory limit
// equal to its request when it creates the pod. So a limit above the
// request raises spark.executor.memoryOverhead by the difference, and the
// executors get request = limit = memoryLimit. A limit that does not parse
// or is below the request is left to admission to report.
func executorMemoryLimit(p map[string]string, job *v1alpha1.SparkJob) {
	lim := job.Spec.Executor.MemoryLimit
	if lim == nil || strings.TrimSpace(*lim) == "" {
		return
	}
	q, err := ParseMemoryLimit(*lim)
	if err != nil {
		return
	}
	limitMiB := q.Value() / (1 << 20)
	r, err := executorResources(p, job.Spec.SparkVersion)
	if err != nil || limitMiB <= r.MemoryMiB {
		return
	}
	p[KeyExecutorMemoryOverhead] = strconv.FormatInt(r.OverheadMiB+limitMiB-r.MemoryMiB, 10) + "m"
}

func executorResources(p map[string]string, sparkVersion string) (PodResources, error) {
	r, err := podResources(p, "executor", sparkVersion, executorOverheadFactor)
	if err != nil {
		return PodResources{}, err
	}
	offHeap, err := offHeapMiB(p)
	if err != nil {
		return PodResources{}, err
	}
	r.MemoryMiB += offHeap
	if p[KeyResourceType] == "python" {
		if v, ok := p[KeyExecutorPySparkMemory]; ok {
			mib, err := ParseMemoryMiB(v)
			if err != nil {
				return PodResources{}, fmt.Errorf("invalid '%s': %w", KeyExecutorPySparkMemory, err)
			}
			r.MemoryMiB += mib
		}
	}
	return r, nil
}

// driverOverheadFactor is spark.driver.memoryOverheadFactor if set, else the
// factor the driver propagates (spark.kubernetes.memoryOverheadFactor, which
// JobProperties always sets).
func driverOverheadFactor(p map[string]string) (float64, error) {
	if v, ok := p[KeyDriverMemoryOverheadFactor]; ok {
		return parseFactor(KeyDriverMemoryOverheadFactor, v)
	}
	return parseFactor(KeyMemoryOverheadFactor, p[KeyMemoryOverheadFactor])
}

// executorOverheadFactor is spark.executor.memoryOverheadFactor if set, else
// spark.kubernetes.memoryOverheadFactor.
func executorOverheadFactor(p map[string]string) (float64, error) {
	if v, ok := p[KeyExecutorMemoryOverheadFactor]; ok {
		return parseFactor(KeyExecutorMemoryOverheadFactor, v)
	}
	return parseFactor(KeyMemoryOverheadFactor, p[KeyMemoryOverheadFactor])
}

func parseFactor(key, v string) (float64, error) {
	f, err := parseFloat(key, v)
	if err != nil {
		return 0, err
	}
	if f <= 0 {
		return 0, fmt.Errorf("'%s' must be positive, found '%s'", key, v)
	}
	return f, nil
}

func podResources(p map[string]string, role, sparkVersion string, factorOf func(map[string]string) (float64, error)) (PodResources, error) {
	var r PodResources
	cores := "1"
	if v, ok := p["spark."+role+".cores"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return r, fmt.Errorf("'spark.%s.cores' must be a positive whole number, found '%s'", role, v)
		}
		cores = strconv.Itoa(n)
	}
	if v, ok := p["spark.kubernetes."+role+".request.cores"]; ok {
		cores = v
	}
	q, err := ParseCores(cores)
	if err != nil {
		return r, fmt.Errorf("invalid cpu request of the %s: %w", role, err)
	}
	r.CPURequest = q
	if v, ok := p["spark.kubernetes."+role+".limit.cores"]; ok {
		l, err := ParseCores(v)
		if err != nil {
			return r, fmt.Errorf("invalid 'spark.kubernetes.%s.limit.cores': %w", role, err)
		}
		r.CPULimit = &l
	}

	r.HeapMiB = DefaultMemoryMiB
	if v, ok := p["spark."+role+".memory"]; ok {
		if r.HeapMiB, err = ParseMemoryMiB(v); err != nil {
			return r, fmt.Errorf("invalid 'spark.%s.memory': %w", role, err)
		}
	}
	if v, ok := p["spark."+role+".memoryOverhead"]; ok {
		if r.OverheadMiB, err = ParseMemoryMiB(v); err != nil {
			return r, fmt.Errorf("invalid 'spark.%s.memoryOverhead': %w", role, err)
		}
	} else {
		factor, err := factorOf(p)
		if err != nil {
			return r, err
		}
		minimum := int64(MinMemoryOverheadMiB)
		// spark.<role>.minMemoryOverhead exists since Spark 4.0; older
		// versions ignore the key.
		if v, ok := p["spark."+role+".minMemoryOverhead"]; ok && AtLeast(sparkVersion, 4, 0) {
			if minimum, err = ParseMemoryMiB(v); err != nil {
				return r, fmt.Errorf("invalid 'spark.%s.minMemoryOverhead': %w", role, err)
			}
		}
		r.OverheadMiB = max(int64(factor*float64(r.HeapMiB)), minimum)
	}
	r.MemoryMiB = r.HeapMiB + r.OverheadMiB
	return r, nil
}

// offHeapMiB is what Spark's executorOffHeapMemorySizeAsMb adds: the
// off-heap size (a bare number is bytes) when off-heap memory is enabled,
// which then must be positive.
func offHeapMiB(p map[string]string) (int64, error) {
	v, ok := p[KeyOffHeapEnabled]
	if !ok {
		return 0, nil
	}
	enabled, err := parseBool(KeyOffHeapEnabled, v)
	if err != nil || !enabled {
		return 0, err
	}
	size := p[KeyOffHeapSize]
	if size == "" {
		size = "0"
	}
	mib, err := parseBytesAs(size, byteB, byteMi)
	if err != nil {
		return 0, fmt.Errorf("invalid '%s': %w", KeyOffHeapSize, err)
	}
	if mib <= 0 {
		return 0, fmt.Errorf("'%s' must be at least 1m when '%s' is true, found '%s'", KeyOffHeapSize, KeyOffHeapEnabled, size)
	}
	return mib, nil
}
