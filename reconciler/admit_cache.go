package reconciler

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// verdicts keeps the last verdict on each SparkJob, so that the reconciles
// a run causes (its pod's events, its status writes) do not judge an
// unchanged job again: a verdict costs a trial materialisation, half a
// millisecond, and a job is reconciled a dozen times per run. A verdict
// holds while the job's generation (its spec), its labels (which the
// policies and the spec hash read) and the policies' version stay the same.
//
// Only the verdicts of busy jobs are kept: a reconcile that leaves its job
// idle (reconciliation.idle) forgets the job's verdict. A verdict holds a
// copy of the defaulted job, as large as the informer's own copy, and an
// idle job — suspended, or its last run ended and nothing due — is
// reconciled again only at its next tick or change: keeping the verdicts
// of 10,000 idle jobs doubled the memory each job costs (docs/scaling.md).
type verdicts struct {
	mu sync.Mutex
	m  map[types.NamespacedName]cachedVerdict
}

type cachedVerdict struct {
	uid     types.UID
	key     string
	verdict admission.Verdict
	hash    string
}

func newVerdicts() *verdicts { return &verdicts{m: map[types.NamespacedName]cachedVerdict{}} }

// verdictKey is what a verdict on job depends on besides its UID.
func verdictKey(job *v1alpha1.SparkJob, p admission.Policies) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(job.Generation, 10))
	b.WriteByte('/')
	b.WriteString(admission.VersionOf(p))
	keys := make([]string, 0, len(job.Labels))
	for k := range job.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteByte('/')
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(job.Labels[k])
	}
	return b.String()
}

// get returns the verdict cached for job under key, with a copy of its job.
func (c *verdicts) get(job *v1alpha1.SparkJob, key string) (admission.Verdict, string, bool) {
	c.mu.Lock()
	cv, ok := c.m[client.ObjectKeyFromObject(job)]
	c.mu.Unlock()
	if !ok || cv.uid != job.UID || cv.key != key {
		return admission.Verdict{}, "", false
	}
	v := cv.verdict
	if v.Job != nil {
		v.Job = v.Job.DeepCopy()
	}
	return v, cv.hash, true
}

// put caches a verdict; the caller keeps v.Job to itself.
func (c *verdicts) put(job *v1alpha1.SparkJob, key string, v admission.Verdict, hash string) {
	if v.Job != nil {
		v.Job = v.Job.DeepCopy()
	}
	c.mu.Lock()
	c.m[client.ObjectKeyFromObject(job)] = cachedVerdict{uid: job.UID, key: key, verdict: v, hash: hash}
	c.mu.Unlock()
}

// forget drops the verdict of a job that is gone.
func (c *verdicts) forget(key types.NamespacedName) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// idle reports whether the job needs nothing more of the loop until
// something changes or its next tick: no run active, none waiting to
// start, no retry pending.
func (rc *reconciliation) idle() bool {
	return len(rc.active()) == 0 && rc.wait == nil && rc.retry == nil
}
