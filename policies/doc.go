// Package policies loads the platform team's AllocationPolicies, fills their
// defaults into SparkJobs and checks jobs against their rules.
//
// Load reads a directory of policy files, strictly: an unknown field, a
// wrong kind, a duplicate name or a value that does not parse is an error
// that names the file, the policy and the field. NewSet validates policies
// (from files or from the cluster) into a Set, sorted by name, built once
// and used for many jobs from any number of goroutines.
//
// Selection: a policy selects a job when one of its spec.namespaces globs
// matches the job's namespace (path.Match), or when it lists none.
//
// Defaults: Set.Apply fills the defaults of the selecting policies into a
// deep copy of the job, in policy-name order, each only where the job, or a
// policy before it, leaves a value unset. A value the job sets through
// sparkConf counts as set, so a job that writes
// spark.dynamicAllocation.maxExecutors in sparkConf keeps it. nodeSelector
// and sparkConf defaults are filled per key; each kind of affinity (node,
// pod, pod anti-affinity) as a whole; tolerations one by one, unless the pod
// already tolerates the same key and effect; priorityClassName as a whole.
//
// Rules: every rule of every selecting policy judges the defaulted job's
// effective configuration, as Spark will read it (render/sparkconf):
// typed fields and sparkConf alike. A broken rule of an Enforce policy is
// an error finding, of an Audit policy a warning. A finding's field points
// at the place the value comes from — the typed field, or the sparkConf
// entry when the job sets it there — or, for an unset value, at the typed
// field that should be set. With dynamic allocation off, only
// dynamic-allocation-required and max-executors (which bounds the static
// executor count) judge allocation. docs/policies.md describes every rule.
//
// ComputeEnvelope sizes a job: its driver pod, one executor pod, and the
// whole job at its peak executor count.
package policies
