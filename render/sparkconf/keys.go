package sparkconf

// Spark configuration keys sparkcd reads or writes.
const (
	KeyMaster                    = "spark.master"
	KeyDeployMode                = "spark.submit.deployMode"
	KeyAppName                   = "spark.app.name"
	KeyAppID                     = "spark.app.id"
	KeyNamespace                 = "spark.kubernetes.namespace"
	KeyDriverPodName             = "spark.kubernetes.driver.pod.name"
	KeySubmitInDriver            = "spark.kubernetes.submitInDriver"
	KeyResourceType              = "spark.kubernetes.resource.type"
	KeyDriverHost                = "spark.driver.host"
	KeyDriverBindAddress         = "spark.driver.bindAddress"
	KeyDriverPort                = "spark.driver.port"
	KeyDriverBlockManagerPort    = "spark.driver.blockManager.port"
	KeyUIPort                    = "spark.ui.port"
	KeyUIProxyBase               = "spark.ui.proxyBase"
	KeyUIProxyRedirectURI        = "spark.ui.proxyRedirectUri"
	KeyExecutorPodTemplateFile   = "spark.kubernetes.executor.podTemplateFile"
	KeyDriverPodTemplateFile     = "spark.kubernetes.driver.podTemplateFile"
	KeyExecutorPodNamePrefix     = "spark.kubernetes.executor.podNamePrefix"
	KeyExecutorContainerName     = "spark.kubernetes.executor.podTemplateContainerName"
	KeyContainerImage            = "spark.kubernetes.container.image"
	KeyDriverContainerImage      = "spark.kubernetes.driver.container.image"
	KeyExecutorContainerImage    = "spark.kubernetes.executor.container.image"
	KeyImagePullPolicy           = "spark.kubernetes.container.image.pullPolicy"
	KeyImagePullSecrets          = "spark.kubernetes.container.image.pullSecrets"
	KeyPythonVersion             = "spark.kubernetes.pyspark.pythonVersion"
	KeyMemoryOverheadFactor      = "spark.kubernetes.memoryOverheadFactor"
	KeyDriverServiceAccount      = "spark.kubernetes.authenticate.driver.serviceAccountName"
	KeyExecutorServiceAccount    = "spark.kubernetes.authenticate.executor.serviceAccountName"
	KeyExecutorDeleteOnTerminate = "spark.kubernetes.executor.deleteOnTermination"

	KeyDriverCores                  = "spark.driver.cores"
	KeyDriverRequestCores           = "spark.kubernetes.driver.request.cores"
	KeyDriverLimitCores             = "spark.kubernetes.driver.limit.cores"
	KeyDriverMemory                 = "spark.driver.memory"
	KeyDriverMemoryOverhead         = "spark.driver.memoryOverhead"
	KeyDriverMemoryOverheadFactor   = "spark.driver.memoryOverheadFactor"
	KeyDriverMinMemoryOverhead      = "spark.driver.minMemoryOverhead"
	KeyDriverExtraJavaOptions       = "spark.driver.extraJavaOptions"
	KeyExecutorInstances            = "spark.executor.instances"
	KeyExecutorCores                = "spark.executor.cores"
	KeyExecutorRequestCores         = "spark.kubernetes.executor.request.cores"
	KeyExecutorLimitCores           = "spark.kubernetes.executor.limit.cores"
	KeyExecutorMemory               = "spark.executor.memory"
	KeyExecutorMemoryOverhead       = "spark.executor.memoryOverhead"
	KeyExecutorMemoryOverheadFactor = "spark.executor.memoryOverheadFactor"
	KeyExecutorMinMemoryOverhead    = "spark.executor.minMemoryOverhead"
	KeyExecutorPySparkMemory        = "spark.executor.pyspark.memory"
	KeyExecutorExtraJavaOptions     = "spark.executor.extraJavaOptions"
	KeyOffHeapEnabled               = "spark.memory.offHeap.enabled"
	KeyOffHeapSize                  = "spark.memory.offHeap.size"

	KeyJars            = "spark.jars"
	KeyFiles           = "spark.files"
	KeyPyFiles         = "spark.submit.pyFiles"
	KeyPackages        = "spark.jars.packages"
	KeyExcludePackages = "spark.jars.excludes"
	KeyRepositories    = "spark.jars.repositories"
	KeyArchives        = "spark.archives"

	KeyDynamicAllocationEnabled         = "spark.dynamicAllocation.enabled"
	KeyMinExecutors                     = "spark.dynamicAllocation.minExecutors"
	KeyInitialExecutors                 = "spark.dynamicAllocation.initialExecutors"
	KeyMaxExecutors                     = "spark.dynamicAllocation.maxExecutors"
	KeyExecutorAllocationRatio          = "spark.dynamicAllocation.executorAllocationRatio"
	KeyExecutorIdleTimeout              = "spark.dynamicAllocation.executorIdleTimeout"
	KeyCachedExecutorIdleTimeout        = "spark.dynamicAllocation.cachedExecutorIdleTimeout"
	KeySchedulerBacklogTimeout          = "spark.dynamicAllocation.schedulerBacklogTimeout"
	KeySustainedSchedulerBacklogTimeout = "spark.dynamicAllocation.sustainedSchedulerBacklogTimeout"
	KeyShuffleTrackingEnabled           = "spark.dynamicAllocation.shuffleTracking.enabled"
	KeyShuffleTrackingTimeout           = "spark.dynamicAllocation.shuffleTracking.timeout"
	KeyShuffleServiceEnabled            = "spark.shuffle.service.enabled"
	KeyDecommissionEnabled              = "spark.decommission.enabled"
	KeyStorageDecommissionEnabled       = "spark.storage.decommission.enabled"
	KeyStorageDecommissionShuffle       = "spark.storage.decommission.shuffleBlocks.enabled"

	// HadoopPrefix is prepended to every hadoopConf key.
	HadoopPrefix = "spark.hadoop."
)

// Spark's defaults that sparkcd computes with.
const (
	// DefaultMemoryMiB is spark.driver.memory's and spark.executor.memory's default (1g).
	DefaultMemoryMiB = 1024
	// MinMemoryOverheadMiB is Spark's floor for a computed memory overhead.
	MinMemoryOverheadMiB = 384
	// JVMMemoryOverheadFactor is the overhead factor of Java and Scala jobs.
	JVMMemoryOverheadFactor = 0.1
	// NonJVMMemoryOverheadFactor is the overhead factor of Python and R jobs.
	NonJVMMemoryOverheadFactor = 0.4
	// DefaultExecutorInstances is spark.executor.instances' default on
	// Kubernetes when dynamic allocation is off.
	DefaultExecutorInstances = 2
	// DefaultDriverPort is spark.driver.port as spark-submit sets it on Kubernetes.
	DefaultDriverPort = 7078
	// DefaultBlockManagerPort is spark.driver.blockManager.port as spark-submit
	// sets it on Kubernetes.
	DefaultBlockManagerPort = 7079
	// DefaultUIPort is spark.ui.port's default.
	DefaultUIPort = 4040
)
