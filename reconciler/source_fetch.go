package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/gitsource"
	"github.com/sparkcd/sparkcd/render/build"
)

// sourceState is what the loop keeps about one JobSource between
// reconciles: its git client (and cache directory), its render cache, the
// jobs last rendered, and which SparkJobs were last seen in sync.
type sourceState struct {
	mu  sync.Mutex
	uid types.UID
	dir string

	git       *gitsource.Client
	gitConfig string // digest of what the client was built from
	cache     *build.Cache

	// rendered is the outcome of the last render, reused while the
	// revision and the source's generation stay the same.
	rendered *renderedSource
	// synced are the SparkJobs known to match git: their UID, the
	// generation they had and the content hash applied.
	synced map[types.NamespacedName]syncedJob
}

type syncedJob struct {
	uid        types.UID
	generation int64
	hash       string
	// labels are the job's propagated labels then: a label change moves
	// no generation, and a propagated label changes what runs.
	labels map[string]string
}

func newSourceState(uid types.UID, dir string) *sourceState {
	return &sourceState{uid: uid, dir: dir, cache: build.NewCache(), synced: map[types.NamespacedName]syncedJob{}}
}

// fetch checks out the source's ref, with a git client rebuilt whenever
// the URL, the credentials or the settings change. A failure keeps the
// last good checkout and changes nothing in the cluster. A revision that
// spec.verify refuses is no error, as no retry changes it: fetch notes it
// (sc.verifyFailed) and returns no snapshot.
func (r *SourceReconciler) fetch(ctx context.Context, sc *sourceReconciliation, st *sourceState) (gitsource.Snapshot, error) {
	src := sc.src
	secret, err := r.secretData(ctx, src)
	if err != nil {
		sc.fail(secretFailure(err, ReasonAuthenticationFailed), err)
		return gitsource.Snapshot{}, err
	}
	timeout := r.opts.FetchTimeout
	if src.Spec.Timeout != nil && src.Spec.Timeout.Duration > 0 {
		timeout = src.Spec.Timeout.Duration
	}
	digest := configDigest(src.Spec.URL, timeout.String(), fmt.Sprint(r.opts.InsecureSkipTLSVerify, r.opts.InsecureSkipHostKeyCheck), secret)
	if st.git == nil || st.gitConfig != digest {
		opts := []gitsource.Option{gitsource.WithAuth(secret), gitsource.WithTimeout(timeout),
			gitsource.WithLogger(r.opts.Logger.With("jobsource", src.Namespace+"/"+src.Name))}
		if r.opts.InsecureSkipTLSVerify {
			opts = append(opts, gitsource.WithInsecureSkipTLSVerify())
		}
		if r.opts.InsecureSkipHostKeyCheck {
			opts = append(opts, gitsource.WithInsecureSkipHostKeyCheck())
		}
		c, err := gitsource.New(src.Spec.URL, st.dir, opts...)
		if err != nil {
			sc.fail(fetchFailure(err, ReasonAuthenticationFailed), err)
			return gitsource.Snapshot{}, err
		}
		st.git, st.gitConfig = c, digest
	}
	v, err := r.verification(ctx, src)
	if err != nil {
		sc.fail(secretFailure(err, ReasonVerificationFailed), err)
		return gitsource.Snapshot{}, err
	}
	snap, err := r.checkout(ctx, st, src, v)
	if ve := (*gitsource.VerificationError)(nil); errors.As(err, &ve) {
		sc.refuse(ve)
		return gitsource.Snapshot{}, nil
	}
	if err != nil {
		gitFetchErrors.WithLabelValues(src.Namespace, src.Name).Inc()
		sc.fail(fetchFailure(err, ReasonGitOperationFailed), err)
		return gitsource.Snapshot{}, err
	}
	return snap, nil
}

// fetchFailure is the Ready reason of a failed fetch: StorageFailed when
// the cache directory refused a write, which no retry of git fixes and an
// operator must see as such; else the reason of the step that failed.
func fetchFailure(err error, reason string) string {
	if errors.Is(err, gitsource.ErrCacheUnwritable) {
		return ReasonStorageFailed
	}
	return reason
}

// secretData reads the Secret of spec.secretRef straight from the API
// server, as the source's identity (source_secrets.go): one get of one
// Secret, never a cache of them all.
func (r *SourceReconciler) secretData(ctx context.Context, src *v1alpha1.JobSource) (map[string][]byte, error) {
	if src.Spec.SecretRef == nil || src.Spec.SecretRef.Name == "" {
		return nil, nil
	}
	key := types.NamespacedName{Namespace: src.Namespace, Name: src.Spec.SecretRef.Name}
	secret, err := r.getSecret(ctx, src, key.Name, "spec.secretRef")
	if err != nil {
		if sf := (*SecretForbiddenError)(nil); errors.As(err, &sf) {
			return nil, err
		}
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: Secret '%s' of spec.secretRef does not exist", ErrSecretNotFound, key)
		}
		return nil, fmt.Errorf("unable to get Secret '%s': %w", key, err)
	}
	return secret.Data, nil
}

// configDigest fingerprints a git client's configuration; the Secret's
// values enter only through the hash.
func configDigest(url, timeout, insecure string, secret map[string][]byte) string {
	h := sha256.New()
	for _, s := range []string{url, timeout, insecure} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	keys := make([]string, 0, len(secret))
	for k := range secret {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(secret[k])
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func gitRef(ref *v1alpha1.GitRef) gitsource.Ref {
	if ref == nil {
		return gitsource.Ref{}
	}
	return gitsource.Ref{Branch: ref.Branch, Tag: ref.Tag, Commit: ref.Commit}
}
