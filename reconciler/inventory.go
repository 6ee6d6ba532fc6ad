package reconciler

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// indexInventory finds the JobSources whose status.inventory lists a
// SparkJob, by "<namespace>/<name>".
const indexInventory = "sparkcd.io/inventory"

// inventoryDigestLen is how much of a spec digest an inventory entry
// keeps: 32 hex characters, 128 bits. Finding a second spec with the same
// 128-bit prefix of SHA-256 takes about 2^128 tries; a collision of two
// specs of one's own choosing (2^64 tries) gains nothing, since only
// specs from git are recorded. It keeps a status of thousands of jobs
// small.
const inventoryDigestLen = 32

// inventoryDigest is the part of a spec digest an inventory keeps.
func inventoryDigest(digest string) string {
	if len(digest) > inventoryDigestLen {
		return digest[:inventoryDigestLen]
	}
	return digest
}

// inventoryKey is the index key of a SparkJob.
func inventoryKey(key types.NamespacedName) string { return key.Namespace + "/" + key.Name }

// inventoryKeys indexes a JobSource by the SparkJobs of its inventory.
func inventoryKeys(obj client.Object) []string {
	src, ok := obj.(*v1alpha1.JobSource)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(src.Status.Inventory))
	for _, ref := range src.Status.Inventory {
		out = append(out, ref.Namespace+"/"+ref.Name)
	}
	return out
}

// indexedManagers are the managers whose cache has the inventory index:
// both loops need it, and an index cannot be added twice.
var indexedManagers sync.Map

// indexInventories adds the inventory index to the manager's cache once.
func indexInventories(ctx context.Context, mgr manager.Manager) error {
	if _, done := indexedManagers.LoadOrStore(mgr, true); done {
		return nil
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.JobSource{}, indexInventory, inventoryKeys); err != nil {
		indexedManagers.Delete(mgr)
		return fmt.Errorf("unable to index JobSources by their inventory: %w", err)
	}
	return nil
}

// listing is one JobSource's inventory entry for a SparkJob.
type listing struct {
	source string
	ref    v1alpha1.InventoryRef
	// serviceAccount is the source's spec.serviceAccountName: its
	// jobs' runs are created as that account (run_identity.go).
	serviceAccount string
}

// listings returns the inventory entries of the SparkJob in every
// JobSource, read from the cache by the index. A job that names a source
// in its sparkcd.io/source annotation and that no cached inventory lists
// is looked up in that source on the API server: the cache may not have
// the status written just before the job was applied, and a job from git
// must not run as one made by hand meanwhile.
func listings(ctx context.Context, c client.Reader, apiReader client.Reader, job *v1alpha1.SparkJob) ([]listing, error) {
	key := types.NamespacedName{Namespace: job.Namespace, Name: job.Name}
	sources := &v1alpha1.JobSourceList{}
	if err := c.List(ctx, sources, client.MatchingFields{indexInventory: inventoryKey(key)}); err != nil {
		return nil, fmt.Errorf("unable to list the JobSources of SparkJob '%s': %w", key, err)
	}
	out := entriesOf(sources.Items, key)
	if len(out) > 0 || apiReader == nil {
		return out, nil
	}
	ns, name, ok := strings.Cut(job.Annotations[AnnotationSource], "/")
	if !ok || ns == "" || name == "" {
		return nil, nil
	}
	src := &v1alpha1.JobSource{}
	if err := apiReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, src); err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("unable to get JobSource '%s/%s': %w", ns, name, err)
	}
	return entriesOf([]v1alpha1.JobSource{*src}, key), nil
}

func entriesOf(sources []v1alpha1.JobSource, key types.NamespacedName) []listing {
	var out []listing
	for i := range sources {
		src := &sources[i]
		for _, ref := range src.Status.Inventory {
			if ref.Namespace == key.Namespace && ref.Name == key.Name {
				out = append(out, listing{source: src.Namespace + "/" + src.Name, ref: ref, serviceAccount: src.Spec.ServiceAccountName})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].source < out[j].source })
	return out
}

// reviewed reports whether digest is the one an entry lists.
func reviewed(entries []listing, digest string) bool {
	return digest != "" && slices.ContainsFunc(entries, func(l listing) bool { return l.ref.Digest != "" && l.ref.Digest == inventoryDigest(digest) })
}

// inventoryOf lists the kept SparkJobs sorted, each with the digest this
// reconcile applied or found in sync, or else the one the inventory had.
func inventoryOf(sc *sourceReconciliation) []v1alpha1.InventoryRef {
	out := make([]v1alpha1.InventoryRef, 0, len(sc.kept))
	for k := range sc.kept {
		d, ok := sc.digests[k]
		if !ok {
			d = sc.recorded(k).Digest
		}
		out = append(out, v1alpha1.InventoryRef{Namespace: k.Namespace, Name: k.Name, Digest: d})
	}
	sortInventory(out)
	if len(out) == 0 {
		return nil
	}
	return out
}

func sortInventory(out []v1alpha1.InventoryRef) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
}

// recorded is the entry of the inventory as this reconcile read it, before
// its own record.
// Each job of a poll asks: the inventory read is indexed on the first
// question, not scanned on each (a 1,000-job source asked 500,000
// comparisons a poll).
func (sc *sourceReconciliation) recorded(key types.NamespacedName) v1alpha1.InventoryRef {
	sc.indexRead()
	if i, ok := sc.readIndex[key]; ok {
		return sc.read[i]
	}
	return v1alpha1.InventoryRef{}
}

// indexRead builds the index of the inventory read, once: the apply's
// workers (source_apply.go) ask recorded at once, so it is built before
// they start.
func (sc *sourceReconciliation) indexRead() {
	if sc.readIndex != nil {
		return
	}
	sc.readIndex = make(map[types.NamespacedName]int, len(sc.read))
	for i, ref := range sc.read {
		k := types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}
		if _, dup := sc.readIndex[k]; !dup {
			sc.readIndex[k] = i
		}
	}
}

// inInventory reports whether the inventory read lists the job.
func (sc *sourceReconciliation) inInventory(key types.NamespacedName) bool {
	return sc.recorded(key).Name != ""
}

// keepDigest puts a SparkJob that has git's spec into the inventory, with
// that spec's digest.
func (sc *sourceReconciliation) keepDigest(dj *desiredJob) {
	sc.keep(dj.key)
	sc.digests[dj.key] = inventoryDigest(dj.digest)
}

// recordDigests writes into the JobSource's status.inventory the digests
// of the specs this reconcile is about to apply, before it applies them,
// in one status patch, and none when no digest changes (a poll that finds
// nothing new writes nothing). The job loop runs a managed job only when
// its spec has the inventory's digest: recorded first, a job from git
// never waits for a status write after its apply, and a run never starts
// from a spec that is not recorded. Should the apply then fail, the job
// keeps its previous spec, whose digest the entry keeps as previous: the
// job waits (ApplyPending), no run starts, and the retry applies it.
// Entries are only added or changed here; the final status, after the
// prune, writes the whole inventory. It writes with sparkcd's own
// identity (ctx is not the source's).
func (r *SourceReconciler) recordDigests(ctx context.Context, sc *sourceReconciliation, rs *renderedSource) error {
	inv := slices.Clone(sc.base.Status.Inventory)
	changed := false
	for i := range rs.jobs {
		dj := &rs.jobs[i]
		d := inventoryDigest(dj.digest)
		old := sc.recorded(dj.key)
		if old.Digest == d {
			continue
		}
		live, err := r.liveJob(ctx, r.client, dj.key)
		if err != nil {
			return err
		}
		if live != nil && !r.ours(sc, live) {
			continue
		}
		entry := v1alpha1.InventoryRef{Namespace: dj.key.Namespace, Name: dj.key.Name, Digest: d, Previous: old.Digest}
		if j := slices.IndexFunc(inv, func(ref v1alpha1.InventoryRef) bool {
			return ref.Namespace == entry.Namespace && ref.Name == entry.Name
		}); j >= 0 {
			inv[j] = entry
		} else {
			inv = append(inv, entry)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	sortInventory(inv)
	recorded := sc.base.DeepCopy()
	recorded.Status.Inventory = inv
	if err := r.client.Status().Patch(ctx, recorded, client.MergeFrom(sc.base)); err != nil {
		return fmt.Errorf("unable to record the digests of the SparkJobs of JobSource '%s/%s' before applying them: %w", sc.src.Namespace, sc.src.Name, err)
	}
	// The final status patch starts from what is recorded now.
	sc.base.Status.Inventory = slices.Clone(inv)
	sc.src.Status.Inventory = slices.Clone(inv)
	return nil
}
