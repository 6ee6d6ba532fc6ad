package v1alpha1

import (
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// JobSourceKind is the kind of a JobSource.
const JobSourceKind = "JobSource"

// GitRef selects what to check out. Commit wins over Tag, Tag over Branch;
// an empty ref means the branch "main".
type GitRef struct {
	// Branch to follow; force-pushes are followed.
	// +optional
	Branch string `json:"branch,omitempty"`
	// Tag to check out.
	// +optional
	Tag string `json:"tag,omitempty"`
	// Commit SHA to check out; with Branch, the commit must be on it.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{40}$`
	// +optional
	Commit string `json:"commit,omitempty"`
}

// JobSourceSpec says where the jobs come from and where they may land.
type JobSourceSpec struct {
	// URL of the git repository: https://, http:// or ssh://.
	// +kubebuilder:validation:Pattern=`^(https?|ssh)://.*$`
	// +required
	URL string `json:"url"`
	// Ref to check out.
	// +optional
	Ref *GitRef `json:"ref,omitempty"`
	// Path inside the repository: an overlay directory, a directory of YAML
	// files, one file, or a glob of per-job overlays such as
	// "jobs/*/overlays/prod" (each built on its own).
	// +kubebuilder:default="."
	// +optional
	Path string `json:"path,omitempty"`
	// Interval between fetches.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:default="1m"
	// +optional
	Interval metav1.Duration `json:"interval,omitempty"`
	// Timeout of one fetch.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:default="60s"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// SecretRef names a Secret in the JobSource's namespace with the
	// credentials: "username"/"password", "bearerToken", or "identity"
	// (an SSH private key) with "known_hosts".
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`
	// TargetNamespaces are the only namespaces the source's jobs may land
	// in; empty means the JobSource's own namespace.
	// +optional
	TargetNamespaces []string `json:"targetNamespaces,omitempty"`
	// SupportingKinds are the kinds of the objects beside the jobs
	// (ConfigMaps, Secrets…) the source applies and prunes with them; any
	// other kind in the path is a "kind-not-allowed" finding and never
	// applied, and a cluster-scoped kind is never applied whatever this
	// says. Empty means DefaultSupportingKinds. See
	// docs/supporting-objects.md.
	// +optional
	// +listType=atomic
	SupportingKinds []SupportingKind `json:"supportingKinds,omitempty"`
	// Prune deletes SparkJobs removed from git. A running driver is never
	// killed by a prune.
	// +optional
	Prune bool `json:"prune,omitempty"`
	// MaxPrunePercent refuses a revision that would prune more than this
	// share of the inventory. Defaults to 50.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	MaxPrunePercent *int32 `json:"maxPrunePercent,omitempty"`
	// Suspend stops fetching and applying.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
	// WebhookSecretRef names a Secret in the JobSource's namespace whose
	// "token" key verifies the webhooks sent to
	// /hooks/<namespace>/<name>: the HMAC-SHA256 key of GitHub's
	// X-Hub-Signature-256 and of X-Signature, or GitLab's X-Gitlab-Token.
	// Without it the source accepts no webhook.
	// +optional
	WebhookSecretRef *meta.LocalObjectReference `json:"webhookSecretRef,omitempty"`
	// Verify makes the source apply only revisions whose commits are
	// signed by a trusted OpenPGP or SSH key. See docs/verification.md.
	// +optional
	Verify *GitVerification `json:"verify,omitempty"`
	// ServiceAccountName names a service account in the JobSource's
	// namespace that everything the source applies — SparkJobs, supporting
	// objects, prunes, and the runs of its jobs — is written as, by
	// impersonation, so a repository can only create what that account
	// may. Empty means the --default-source-service-account of `sparkcd
	// serve`, or sparkcd's own identity without one. See
	// docs/multi-tenancy.md.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// Decryption decrypts the SOPS-encrypted objects of the path (Secrets,
	// ConfigMaps…) in memory before they are applied, as Flux's
	// Kustomization does. See docs/secrets.md.
	// +optional
	Decryption *Decryption `json:"decryption,omitempty"`
}

// Decryption says how the encrypted objects of a JobSource's path are
// decrypted.
type Decryption struct {
	// Provider of the encryption; only "sops" is supported.
	// +kubebuilder:validation:Enum=sops
	// +required
	Provider string `json:"provider"`
	// SecretRef names a Secret in the JobSource's namespace whose keys
	// ending in ".agekey" hold age identities (AGE-SECRET-KEY-1…), one or
	// more per key.
	// +optional
	SecretRef *meta.LocalObjectReference `json:"secretRef,omitempty"`
}

// VerifyMode says which commits of a revision must be signed.
// +kubebuilder:validation:Enum=HEAD;all-since-last-applied
type VerifyMode string

const (
	// VerifyModeHEAD verifies the commit to be applied.
	VerifyModeHEAD VerifyMode = "HEAD"
	// VerifyModeAllSinceLastApplied verifies that commit and every commit
	// since status.lastAppliedRevision (git rev-list LAST..NEW).
	VerifyModeAllSinceLastApplied VerifyMode = "all-since-last-applied"
)

// GitVerification says which keys the commits of a JobSource must be
// signed with. A revision that fails is never applied: the source is
// Ready=False with reason VerificationFailed and the last applied revision
// stays.
type GitVerification struct {
	// Mode: HEAD verifies the commit to be applied; all-since-last-applied
	// also verifies every commit since status.lastAppliedRevision, so
	// nothing unsigned slips in under a signed tip.
	// +kubebuilder:default=HEAD
	// +optional
	Mode VerifyMode `json:"mode,omitempty"`
	// SecretRef names a Secret in the JobSource's namespace with the
	// trusted public keys: "*.asc" entries hold armored OpenPGP keys,
	// "*.pub" entries SSH public keys (authorized_keys format), and an
	// "allowed_signers" entry git's SSH allowed signers file.
	// +required
	SecretRef meta.LocalObjectReference `json:"secretRef"`
}

// SupportingKind is a kind of object a JobSource may apply beside its jobs.
type SupportingKind struct {
	// Group of the kind; empty for the core group (ConfigMap, Secret…).
	// +optional
	Group string `json:"group,omitempty"`
	// Kind, such as "ConfigMap".
	// +kubebuilder:validation:MinLength=1
	// +required
	Kind string `json:"kind"`
}

// String is "Kind" for the core group and "Kind.group" otherwise, as
// kubectl names a resource type.
func (k SupportingKind) String() string {
	if k.Group == "" {
		return k.Kind
	}
	return k.Kind + "." + k.Group
}

// DefaultSupportingKinds are the kinds a JobSource applies beside its jobs
// when spec.supportingKinds is empty: what a Spark job uses in its own
// namespace.
func DefaultSupportingKinds() []SupportingKind {
	return []SupportingKind{
		{Kind: "ConfigMap"}, {Kind: "Secret"}, {Kind: "ServiceAccount"},
		{Group: "rbac.authorization.k8s.io", Kind: "Role"},
		{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
		{Kind: "PersistentVolumeClaim"},
	}
}

// SupportingRef identifies one applied supporting object.
type SupportingRef struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string `json:"group,omitempty"`
	// Kind of the object.
	Kind string `json:"kind"`
	// Namespace of the object.
	Namespace string `json:"namespace"`
	// Name of the object.
	Name string `json:"name"`
}

// ObjectRef identifies one applied SparkJob.
type ObjectRef struct {
	// Namespace of the SparkJob.
	Namespace string `json:"namespace"`
	// Name of the SparkJob.
	Name string `json:"name"`
}

// InventoryRef is one SparkJob a JobSource applied, with the digest of
// the spec it applied from git (runid.AppliedSpecDigest, its first 32 hex
// characters: 128 bits, which no one finds a second spec for). The job
// loop starts a run of a SparkJob only while its spec has the digest some
// JobSource's inventory lists for it: the status of a JobSource is written
// by sparkcd alone (RBAC keeps jobsources/status to it), while anyone who
// may patch a SparkJob can forge its annotations.
type InventoryRef struct {
	// Namespace of the SparkJob.
	Namespace string `json:"namespace"`
	// Name of the SparkJob.
	Name string `json:"name"`
	// Digest of the spec applied from git; empty in a status written
	// before sparkcd recorded digests.
	// +optional
	Digest string `json:"digest,omitempty"`
	// Previous is the digest the entry had while a new one is recorded
	// but not yet applied: the job still has that spec, and waits for the
	// apply, without being called drifted.
	// +optional
	Previous string `json:"previous,omitempty"`
}

// JobFindings are the findings of one job of a source.
type JobFindings struct {
	ObjectRef `json:",inline"`
	// Source is the file the job was read from.
	// +optional
	Source string `json:"source,omitempty"`
	// Findings of the job.
	Findings []Finding `json:"findings"`
}

// JobSourceStatus is the observed state of a JobSource.
type JobSourceStatus struct {
	// Conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastAppliedRevision is the revision whose jobs are applied.
	// +optional
	LastAppliedRevision string `json:"lastAppliedRevision,omitempty"`
	// LastAttemptedRevision is the revision last fetched.
	// +optional
	LastAttemptedRevision string `json:"lastAttemptedRevision,omitempty"`
	// Inventory of the SparkJobs applied from this source, with the
	// digests of their reviewed specs.
	// +optional
	Inventory []InventoryRef `json:"inventory,omitempty"`
	// SupportingInventory lists the supporting objects (ConfigMaps,
	// Secrets…) applied from this source, pruned with its SparkJobs.
	// +optional
	SupportingInventory []SupportingRef `json:"supportingInventory,omitempty"`
	// Jobs with findings at LastAttemptedRevision (bounded).
	// +optional
	Jobs []JobFindings `json:"jobs,omitempty"`
	// LastHandledReconcileAt is the reconcile request last acted on.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=js,categories=sparkcd
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.lastAppliedRevision`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// JobSource is a git repository of SparkJobs, applied into the cluster.
type JobSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   JobSourceSpec   `json:"spec,omitempty"`
	Status JobSourceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// JobSourceList is a list of JobSources.
type JobSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []JobSource `json:"items"`
}

// GetConditions returns the status conditions.
func (in *JobSource) GetConditions() []metav1.Condition { return in.Status.Conditions }

// SetConditions replaces the status conditions.
func (in *JobSource) SetConditions(c []metav1.Condition) { in.Status.Conditions = c }
