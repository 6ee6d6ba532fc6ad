package corpus

import (
	"fmt"
	"regexp"
)

// Where the expectations come from. The Operator is kubeflow/spark-operator
// at tag v2.5.2; Spark is apache/spark 4.0 (the corpus files run
// docker.io/apache/spark:4.0.4), resource-managers/kubernetes/core.
const (
	opSubmit    = "Operator internal/controller/sparkapplication/submission.go"
	opWebhook   = "Operator internal/webhook/sparkpod_defaulter.go (mutateSparkPod)"
	opDefaults  = "Operator api/v1beta2/defaults.go"
	opScheduled = "Operator internal/controller/scheduledsparkapplication/controller.go"
	spBasic     = "Spark features/BasicDriverFeatureStep"
	spCommand   = "Spark features/DriverCommandFeatureStep"
	spService   = "Spark features/DriverServiceFeatureStep"
	spLocalDirs = "Spark features/LocalDirsFeatureStep"
	spTemplate  = "Spark features/PodTemplateConfigMapStep"
	spClient    = "Spark submit/KubernetesClientApplication (Client.run)"
	spConf      = "Spark KubernetesConf (driver labels, app id)"
	spSubmit    = "Spark deploy/SparkSubmit.prepareSubmitEnvironment"
	spConst     = "Spark Constants.scala"
	// onPurpose marks an expectation where sparkcd differs from the
	// Operator by design (DESIGN.md, "Runs": a run is named
	// <job>-<hash or tick>, and its objects after the run).
	onPurpose = "sparkcd differs on purpose: DESIGN.md 'Runs' names every object after the run"
)

// securityContext is the container securityContext of every Operator
// v2.5.2 example, driver and executor alike.
const securityContext = `
capabilities: {drop: [ALL]}
runAsGroup: 185
runAsUser: 185
runAsNonRoot: true
allowPrivilegeEscalation: false
seccompProfile: {type: RuntimeDefault}
`

// comparison is one corpus file and its fields.
type comparison struct {
	file   string
	fields []field
}

// app describes what a compared SparkApplication asks for.
type app struct {
	name, namespace, image, serviceAccount string
	// args are the driver container's arguments after --properties-file.
	args string
	// python marks a Python application.
	python bool
}

func comparisons() []comparison {
	pi := app{name: "spark-pi", namespace: "default", image: "docker.io/apache/spark:4.0.4",
		serviceAccount: "spark-operator-spark",
		args:           "--class org.apache.spark.examples.SparkPi local:///opt/spark/examples/jars/spark-examples.jar 5000"}
	python := pi
	python.name, python.python = "spark-pi-python", true
	python.args = "--class org.apache.spark.deploy.PythonRunner local:///opt/spark/examples/src/main/python/pi.py"
	dyn := pi
	dyn.name, dyn.args = "spark-pi-dynamic-allocation", "--class org.apache.spark.examples.SparkPi local:///opt/spark/examples/jars/spark-examples.jar"
	cm := dyn
	cm.name = "spark-pi-configmap"
	scheduled := dyn
	scheduled.name = "spark-pi-scheduled"
	return []comparison{
		{file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi.yaml",
			fields: concat(commonFields(pi), []field{
				{"driver pod: label version", podLabel("version"), "4.0.0", opSubmit + " driverConfOption (spec.driver.labels)"},
				{"executor: label version", executorLabel("version"), "4.0.0", opSubmit + " executorConfOption (spec.executor.labels)"},
			})},
		{file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi-python.yaml",
			fields: concat(commonFields(python), []field{
				{"spark.kubernetes.pyspark.pythonVersion", prop("spark.kubernetes.pyspark.pythonVersion"), "3", opSubmit + " pythonVersionOption"},
				{"driver env PYSPARK_PYTHON", driverEnv("PYSPARK_PYTHON"), "-", spCommand + ": set only from spark.pyspark.python, unset here"},
			})},
		{file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi-dynamic-allocation.yaml",
			fields: concat(commonFields(dyn), []field{
				{"spark.dynamicAllocation.enabled", prop("spark.dynamicAllocation.enabled"), "true", opSubmit + " dynamicAllocationOption"},
				{"spark.dynamicAllocation.initialExecutors", prop("spark.dynamicAllocation.initialExecutors"), "2", opSubmit + " dynamicAllocationOption"},
				{"spark.dynamicAllocation.minExecutors", prop("spark.dynamicAllocation.minExecutors"), "1", opSubmit + " dynamicAllocationOption"},
				{"spark.dynamicAllocation.maxExecutors", prop("spark.dynamicAllocation.maxExecutors"), "5", opSubmit + " dynamicAllocationOption"},
				{"spark.dynamicAllocation.shuffleTracking.enabled", prop("spark.dynamicAllocation.shuffleTracking.enabled"), "true",
					opDefaults + " setExecutorSpecDefaults and " + opSubmit + " dynamicAllocationOption (true unless set)"},
				{"spark.dynamicAllocation.shuffleTracking.timeout", prop("spark.dynamicAllocation.shuffleTracking.timeout"), "-", opSubmit + " dynamicAllocationOption (only when set)"},
			})},
		{file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi-configmap.yaml",
			fields: concat(commonFields(cm), []field{
				{"driver pod: volume at /opt/spark/config", func(r *run) string { return volumeOf(r.pod, "/opt/spark/config") },
					`config-vol={"configMap":{"name":"test-configmap"}}`, opWebhook + " addVolumes (spec.volumes named by driver.volumeMounts)"},
				{"executor: volume at /opt/spark/config", func(r *run) string { return volumeOf(r.template, "/opt/spark/config") },
					`config-vol={"configMap":{"name":"test-configmap"}}`, opWebhook + " addVolumes (spec.volumes named by executor.volumeMounts)"},
			})},
		{file: "kubeflow-spark-operator_v2.5.2_examples_spark-pi-scheduled.yaml",
			fields: concat(commonFields(scheduled), scheduledFields(scheduled)),
		},
		monitoringComparison(),
		hostNetworkComparison(),
	}
}

// scheduledFields are what a ScheduledSparkApplication adds.
func scheduledFields(a app) []field {
	return []field{
		{"SparkJob schedule", func(r *run) string { return r.job.Spec.Schedule }, "@every 3m", opScheduled + " (robfig/cron, which reads @every)"},
		{"SparkJob concurrencyPolicy", func(r *run) string { return string(r.job.Spec.ConcurrencyPolicy) }, "Allow", opScheduled},
		{"SparkJob timeZone", func(r *run) string { return r.job.Spec.TimeZone }, "UTC",
			opScheduled + ": 'Local', the Operator process's zone (UTC in its image); sparkcd writes UTC explicitly"},
		{"driver pod: label sparkoperator.k8s.io/scheduled-app-name", podLabel("sparkoperator.k8s.io/scheduled-app-name"), a.name,
			opScheduled + " labels each SparkApplication it creates with it, and " + opSubmit + " driverConfOption copies the SparkApplication's labels to the driver pod"},
	}
}

// commonFields are the fields every compared file shares: the plain
// SparkPi of the Operator's examples, varied by a.
func commonFields(a app) []field {
	return concat(driverPodFields(a), serviceFields(a), executorFields(a), propertyFields(a))
}

func driverPodFields(a app) []field {
	appID := "re:^spark-[0-9a-f]{32}$"
	return []field{
		{"driver pod: name", func(r *run) string { return r.pod.Name }, "re:^" + a.name + "-[0-9a-f]{8}-driver$",
			"Operator pkg/util GetDriverPodName gives " + a.name + "-driver; " + onPurpose},
		{"driver pod: restartPolicy", func(r *run) string { return string(r.pod.Spec.RestartPolicy) }, "Never", spBasic},
		{"driver pod: container name", func(r *run) string { return r.driver.Name }, "spark-kubernetes-driver", spConst + " DEFAULT_DRIVER_CONTAINER_NAME"},
		{"driver pod: image", func(r *run) string { return r.driver.Image }, a.image, opSubmit + " driverConfOption (spark.kubernetes.driver.container.image); " + spBasic},
		{"driver pod: imagePullPolicy", func(r *run) string { return string(r.driver.ImagePullPolicy) }, "IfNotPresent", opSubmit + " imageOption; " + spBasic},
		{"driver pod: args", func(r *run) string { return joinArgs(r.driver.Args) },
			"driver --properties-file /opt/spark/conf/spark.properties " + a.args, spCommand + "; " + opSubmit + " mainApplicationFileOption, applicationOption"},
		{"driver pod: cpu request", driverResource("requests", "cpu"), "1", opDefaults + " (cores 1) → spark.driver.cores; " + spBasic},
		{"driver pod: cpu limit", driverResource("limits", "cpu"), "-", spBasic + ": only from spark.kubernetes.driver.limit.cores (no coreLimit here)"},
		{"driver pod: memory request", driverResource("requests", "memory"), "896Mi", spBasic + ": 512 + max(factor × 512, 384)"},
		{"driver pod: memory limit", driverResource("limits", "memory"), "896Mi", spBasic},
		{"driver pod: serviceAccountName", func(r *run) string { return r.pod.Spec.ServiceAccountName }, a.serviceAccount,
			opSubmit + " driverConfOption (spark.kubernetes.authenticate.driver.serviceAccountName)"},
		{"driver pod: label spark-role", podLabel("spark-role"), "driver", spConf},
		{"driver pod: label spark-app-selector", podLabel("spark-app-selector"), appID, spConf + ": spark-<uuid without dashes>"},
		{"driver pod: label spark-app-name", podLabel("spark-app-name"), a.name, spConf + " (Spark 3.4+)"},
		{"driver pod: label sparkoperator.k8s.io/app-name", podLabel("sparkoperator.k8s.io/app-name"), a.name, opSubmit + " driverConfOption"},
		{"driver pod: label sparkoperator.k8s.io/launched-by-spark-operator", podLabel("sparkoperator.k8s.io/launched-by-spark-operator"), "-",
			opSubmit + " sets it; sparkcd must not: an Operator webhook still installed selects pods by it and would mutate sparkcd's drivers"},
		{"driver env SPARK_APPLICATION_ID", driverEnv("SPARK_APPLICATION_ID"), appID, spBasic},
		{"driver env SPARK_DRIVER_BIND_ADDRESS", driverEnv("SPARK_DRIVER_BIND_ADDRESS"), "fieldRef:status.podIP", spBasic},
		{"driver env SPARK_CONF_DIR", driverEnv("SPARK_CONF_DIR"), "/opt/spark/conf", spClient},
		{"driver env SPARK_LOCAL_DIRS", driverEnv("SPARK_LOCAL_DIRS"), "re:^/var/data/spark-[0-9a-f-]{36}$", spLocalDirs},
		{"driver pod: local dir volume", func(r *run) string { return volumeOf(r.pod, driverEnv("SPARK_LOCAL_DIRS")(r)) },
			`spark-local-dir-1={"emptyDir":{}}`, spLocalDirs},
		{"driver pod: ports", func(r *run) string { return containerPorts(r.driver) },
			"driver-rpc-port:7078/TCP,blockmanager:7079/TCP,spark-ui:4040/TCP", spBasic},
		{"driver pod: conf volume", func(r *run) string { return volumeOf(r.pod, "/opt/spark/conf") },
			`re:^spark-conf-volume-driver=\{"configMap":\{"items":\[\{"key":"spark.properties",("mode":420,)?"path":"spark.properties"\}\],"name":"[a-z0-9-]+"\}\}$`, spClient},
		{"driver pod: container securityContext", func(r *run) string { return canonical(r.driver.SecurityContext) },
			canonicalYAML[map[string]any](securityContext), opWebhook + " addContainerSecurityContext (spec.driver.securityContext)"},
		{"driver pod: pod securityContext", func(r *run) string { return emptyIfNull(canonical(r.pod.Spec.SecurityContext)) }, "-",
			opWebhook + " addPodSecurityContext (none asked)"},
	}
}

func serviceFields(a app) []field {
	return []field{
		{"service: name", func(r *run) string { return r.svc.Name }, "re:^" + a.name + "-[0-9a-f]+-driver-svc$", spService + ": <app name>-<id>-driver-svc"},
		{"service: clusterIP", func(r *run) string { return r.svc.Spec.ClusterIP }, "None", spService},
		{"service: ports", servicePorts, "driver-rpc-port:7078->7078/TCP,blockmanager:7079->7079/TCP,spark-ui:4040->4040/TCP", spService},
		{"service: selector", selectorOfDriver, "selects the driver",
			spService + " selects by every driver label; sparkcd by the run's application id and role, which pick the same one pod"},
		{"service: ipFamilyPolicy", func(r *run) string { return derefString((*string)(r.svc.Spec.IPFamilyPolicy)) }, "SingleStack",
			spService + " (spark.kubernetes.driver.service.ipFamilyPolicy default)"},
		{"service: label spark-app-selector", func(r *run) string { return r.svc.Labels["spark-app-selector"] }, "re:^spark-[0-9a-f]{32}$", spService},
	}
}

func executorFields(a app) []field {
	return []field{
		{"executor: container name", func(r *run) string { return firstContainer(r).Name }, "spark-kubernetes-executor", spConst + " DEFAULT_EXECUTOR_CONTAINER_NAME"},
		{"executor: container securityContext", func(r *run) string { return canonical(firstContainer(r).SecurityContext) },
			canonicalYAML[map[string]any](securityContext), opWebhook + " addContainerSecurityContext (spec.executor.securityContext)"},
		{"executor: label sparkoperator.k8s.io/app-name", executorLabel("sparkoperator.k8s.io/app-name"), a.name, opSubmit + " executorConfOption"},
		{"spark.executor.cores", prop("spark.executor.cores"), "1", opSubmit + " executorConfOption"},
		{"spark.executor.memory", prop("spark.executor.memory"), "512m", opSubmit + " executorConfOption"},
		{"spark.executor.instances", prop("spark.executor.instances"), "1", opSubmit + " executorConfOption (spec.executor.instances)"},
		{"spark.kubernetes.executor.container.image", prop("spark.kubernetes.executor.container.image"), a.image, opSubmit + " executorConfOption"},
		{"spark.kubernetes.executor.podTemplateFile", prop("spark.kubernetes.executor.podTemplateFile"), "/opt/spark/pod-template/pod-spec-template.yml",
			spTemplate + " (EXECUTOR_POD_SPEC_TEMPLATE_MOUNTPATH/FILE_NAME)"},
	}
}

func propertyFields(a app) []field {
	resType, factor, jars := "java", "0.1", "local:///opt/spark/examples/jars/spark-examples.jar"
	if a.python {
		resType, factor, jars = "python", "0.4", "-"
	}
	svc := "re:^" + regexp.QuoteMeta(a.name) + "-[0-9a-f]+-driver-svc\\." + a.namespace + "\\.svc$"
	return []field{
		{"spark.app.name", prop("spark.app.name"), a.name, opSubmit + " nameOption (--name)"},
		{"spark.app.id is the driver's spark-app-selector", func(r *run) string {
			return fmt.Sprint(r.props["spark.app.id"] != "" && r.props["spark.app.id"] == r.pod.Labels["spark-app-selector"])
		}, "true", spBasic},
		{"spark.kubernetes.namespace", prop("spark.kubernetes.namespace"), a.namespace, opSubmit + " namespaceOption"},
		{"spark.submit.deployMode", prop("spark.submit.deployMode"), "cluster", opSubmit + " deployModeOption"},
		{"spark.master", prop("spark.master"), "re:^k8s://https://",
			opSubmit + " masterOption: the in-cluster API server (from KUBERNETES_SERVICE_HOST; sparkcd names kubernetes.default.svc)"},
		{"spark.kubernetes.container.image", prop("spark.kubernetes.container.image"), a.image, opSubmit + " imageOption"},
		{"spark.kubernetes.container.image.pullPolicy", prop("spark.kubernetes.container.image.pullPolicy"), "IfNotPresent", opSubmit + " imageOption"},
		{"spark.kubernetes.driver.container.image", prop("spark.kubernetes.driver.container.image"), a.image, opSubmit + " driverConfOption"},
		{"spark.driver.cores", prop("spark.driver.cores"), "1", opSubmit + " driverConfOption"},
		{"spark.driver.memory", prop("spark.driver.memory"), "512m", opSubmit + " driverConfOption"},
		{"spark.kubernetes.authenticate.driver.serviceAccountName", prop("spark.kubernetes.authenticate.driver.serviceAccountName"), a.serviceAccount, opSubmit + " driverConfOption"},
		{"spark.kubernetes.driver.pod.name is the driver pod", func(r *run) string { return fmt.Sprint(r.props["spark.kubernetes.driver.pod.name"] == r.pod.Name) }, "true", spBasic},
		{"spark.driver.host", prop("spark.driver.host"), svc, spService},
		{"spark.driver.port", prop("spark.driver.port"), "7078", spService},
		{"spark.driver.blockManager.port", prop("spark.driver.blockManager.port"), "7079", spService},
		{"spark.kubernetes.submitInDriver", prop("spark.kubernetes.submitInDriver"), "true", spBasic},
		{"spark.kubernetes.resource.type", prop("spark.kubernetes.resource.type"), resType, spCommand},
		{"spark.kubernetes.memoryOverheadFactor", prop("spark.kubernetes.memoryOverheadFactor"), factor, spBasic + " (0.4 for Python and R, 0.1 for the JVM)"},
		{"spark.jars", prop("spark.jars"), jars, spSubmit + ": the primary resource of a JVM application joins spark.jars"},
		{"spark.driver.bindAddress", prop("spark.driver.bindAddress"), "-", spBasic + ": the driver binds to SPARK_DRIVER_BIND_ADDRESS"},
	}
}

func concat(lists ...[]field) []field {
	var out []field
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
