package sparkconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// ResourceType returns spark.kubernetes.resource.type for an application
// type: java for Java and Scala, python, r.
func ResourceType(t v1alpha1.SparkApplicationType) (string, error) {
	switch t {
	case v1alpha1.JavaApplication, v1alpha1.ScalaApplication:
		return "java", nil
	case v1alpha1.PythonApplication:
		return "python", nil
	case v1alpha1.RApplication:
		return "r", nil
	}
	return "", fmt.Errorf("unsupported application type '%s': expected Java, Scala, Python or R", t)
}

// IsJVM reports whether the application runs on the JVM (Java and Scala).
func IsJVM(t v1alpha1.SparkApplicationType) bool {
	return t == v1alpha1.JavaApplication || t == v1alpha1.ScalaApplication
}

// JobProperties returns every spark.properties entry of the job that does
// not depend on a run (no spark.app.id, pod name, driver host): typed fields
// mapped to their keys exactly like spark-submit/the Spark Operator map them,
// plus sparkConf, plus hadoopConf as spark.hadoop.<key>. Typed fields win
// over a sparkConf entry for the same key (as in the Spark Operator, where
// they are later --conf flags).
//
// Beyond the Operator's flags it carries what spark-submit itself adds for
// cluster mode: spark.app.name, spark.submit.deployMode=cluster,
// spark.kubernetes.submitInDriver=true, spark.kubernetes.resource.type, the
// main jar appended to spark.jars for Java and Scala jobs, and
// spark.kubernetes.memoryOverheadFactor as the driver propagates it to the
// executors (0.4 for Python and R, 0.1 otherwise, unless set).
func JobProperties(job *v1alpha1.SparkJob) (map[string]string, error) {
	if job == nil {
		return nil, errors.New("no job")
	}
	spec := &job.Spec
	resType, err := ResourceType(spec.Type)
	if err != nil {
		return nil, err
	}
	p := make(map[string]string, len(spec.SparkConf)+len(spec.HadoopConf)+32)
	for k, v := range spec.SparkConf {
		p[k] = v
	}
	for k, v := range spec.HadoopConf {
		p[HadoopPrefix+k] = v
	}

	p[KeyAppName] = job.Name
	if job.Namespace != "" {
		p[KeyNamespace] = job.Namespace
	}
	p[KeyDeployMode] = string(v1alpha1.ClusterMode)
	p[KeySubmitInDriver] = "true"
	p[KeyResourceType] = resType

	imageProperties(p, spec)
	setString(p, KeyPythonVersion, spec.PythonVersion)
	setString(p, KeyMemoryOverheadFactor, spec.MemoryOverheadFactor)
	if _, ok := p[KeyMemoryOverheadFactor]; !ok {
		p[KeyMemoryOverheadFactor] = "0.1"
		if !IsJVM(spec.Type) {
			p[KeyMemoryOverheadFactor] = "0.4"
		}
	}
	dependencyProperties(p, spec)
	podProperties(p, &spec.Driver.SparkPodSpec, "driver")
	podProperties(p, &spec.Executor.SparkPodSpec, "executor")
	if n := spec.Executor.Instances; n != nil {
		p[KeyExecutorInstances] = strconv.Itoa(int(*n))
	}
	if b := spec.Executor.DeleteOnTermination; b != nil {
		p[KeyExecutorDeleteOnTerminate] = strconv.FormatBool(*b)
	}
	allocationProperties(p, spec.DynamicAllocation)
	executorMemoryLimit(p, job)
	return p, nil
}

func setString(p map[string]string, key string, v *string) {
	if v != nil && *v != "" {
		p[key] = *v
	}
}

func setList(p map[string]string, key string, v []string) {
	if len(v) > 0 {
		p[key] = strings.Join(v, ",")
	}
}

// imageProperties maps the images as the Spark Operator does: the driver and
// executor image keys fall back to spec.image.
func imageProperties(p map[string]string, spec *v1alpha1.SparkJobSpec) {
	setString(p, KeyContainerImage, spec.Image)
	setString(p, KeyDriverContainerImage, spec.Image)
	setString(p, KeyDriverContainerImage, spec.Driver.Image)
	setString(p, KeyExecutorContainerImage, spec.Image)
	setString(p, KeyExecutorContainerImage, spec.Executor.Image)
	setString(p, KeyImagePullPolicy, spec.ImagePullPolicy)
	setList(p, KeyImagePullSecrets, spec.ImagePullSecrets)
}

// dependencyProperties maps deps as spark-submit maps --jars, --files, …; a
// flag wins over the same key in --conf. For Java and Scala jobs
// spark-submit appends the main jar to spark.jars in cluster mode (the
// driver's own spark-submit, with submitInDriver, does not), so executors
// fetch a remote main jar.
func dependencyProperties(p map[string]string, spec *v1alpha1.SparkJobSpec) {
	d := spec.Deps
	jars := d.Jars
	if len(jars) == 0 && p[KeyJars] != "" {
		jars = strings.Split(p[KeyJars], ",")
	}
	if IsJVM(spec.Type) && spec.MainApplicationFile != nil && isUserJar(*spec.MainApplicationFile) {
		jars = append(append([]string(nil), jars...), *spec.MainApplicationFile)
	}
	setList(p, KeyJars, jars)
	setList(p, KeyFiles, d.Files)
	setList(p, KeyPyFiles, d.PyFiles)
	setList(p, KeyPackages, d.Packages)
	setList(p, KeyExcludePackages, d.ExcludePackages)
	setList(p, KeyRepositories, d.Repositories)
	setList(p, KeyArchives, d.Archives)
}

// isUserJar mirrors SparkSubmit.isUserJar: not a shell, not internal, not
// Python or R.
func isUserJar(res string) bool {
	switch {
	case res == "" || res == "spark-internal" || res == "spark-shell" || res == "pyspark-shell" || res == "sparkr-shell":
		return false
	case strings.HasSuffix(res, ".py"), strings.HasSuffix(res, ".R"), strings.HasSuffix(res, ".r"):
		return false
	}
	return true
}

// podProperties maps one role's typed fields to spark.<role>.* and
// spark.kubernetes.<role>.* keys.
func podProperties(p map[string]string, s *v1alpha1.SparkPodSpec, role string) {
	if s.Cores != nil {
		p["spark."+role+".cores"] = strconv.Itoa(int(*s.Cores))
	}
	setString(p, "spark.kubernetes."+role+".request.cores", s.CoreRequest)
	setString(p, "spark.kubernetes."+role+".limit.cores", s.CoreLimit)
	setString(p, "spark."+role+".memory", s.Memory)
	setString(p, "spark."+role+".memoryOverhead", s.MemoryOverhead)
	setString(p, "spark.kubernetes.authenticate."+role+".serviceAccountName", s.ServiceAccount)
	setString(p, "spark."+role+".extraJavaOptions", s.JavaOptions)
}

// allocationProperties maps dynamicAllocation. Unlike the Spark Operator,
// which drops every field unless enabled is true, each set field is written
// (Spark ignores them while dynamic allocation is off) so a sparkConf that
// enables it gets them too. As in the Operator, enabling it without saying
// shuffleTrackingEnabled turns shuffle tracking on — unless sparkConf sets
// the key itself.
func allocationProperties(p map[string]string, da *v1alpha1.DynamicAllocation) {
	if da == nil {
		return
	}
	if da.Enabled != nil {
		p[KeyDynamicAllocationEnabled] = strconv.FormatBool(*da.Enabled)
	}
	setInt32(p, KeyInitialExecutors, da.InitialExecutors)
	setInt32(p, KeyMinExecutors, da.MinExecutors)
	setInt32(p, KeyMaxExecutors, da.MaxExecutors)
	if da.ShuffleTrackingEnabled != nil {
		p[KeyShuffleTrackingEnabled] = strconv.FormatBool(*da.ShuffleTrackingEnabled)
	} else if _, set := p[KeyShuffleTrackingEnabled]; !set && da.Enabled != nil && *da.Enabled {
		p[KeyShuffleTrackingEnabled] = "true"
	}
	if da.ShuffleTrackingTimeout != nil {
		// A bare number: Spark reads this key in milliseconds.
		p[KeyShuffleTrackingTimeout] = strconv.FormatInt(*da.ShuffleTrackingTimeout, 10)
	}
	setString(p, KeyExecutorAllocationRatio, da.ExecutorAllocationRatio)
	if d := da.ExecutorIdleTimeout; d != nil {
		p[KeyExecutorIdleTimeout] = FormatDuration(d.Duration)
	}
	if d := da.CachedExecutorIdleTimeout; d != nil {
		p[KeyCachedExecutorIdleTimeout] = FormatDuration(d.Duration)
	}
	if d := da.SchedulerBacklogTimeout; d != nil {
		p[KeySchedulerBacklogTimeout] = FormatDuration(d.Duration)
	}
}

func setInt32(p map[string]string, key string, v *int32) {
	if v != nil {
		p[key] = strconv.Itoa(int(*v))
	}
}
