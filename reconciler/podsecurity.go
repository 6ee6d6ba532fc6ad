package reconciler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	psaapi "k8s.io/pod-security-admission/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/admission"
)

// namespacePodSecurity reads the Pod Security level a namespace enforces
// from its pod-security.kubernetes.io/enforce and -enforce-version labels,
// as the API server's Pod Security admission reads them (an invalid level
// counts as restricted there, and here). A namespace without the label,
// or one that does not exist (no pod can be created in it anyway), has
// none: nil. Only the namespace's metadata is read, from the cache that
// follows namespaces (podsecurity_watch.go).
func namespacePodSecurity(ctx context.Context, c namespaceReader, namespace string) (*admission.PodSecurityLevel, error) {
	m, err := c.get(ctx, namespace)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("unable to read the Pod Security labels of namespace '%s': %w", namespace, err)
	}
	none := psaapi.LevelVersion{Level: psaapi.LevelPrivileged, Version: psaapi.LatestVersion()}
	p, _ := psaapi.PolicyToEvaluate(m.Labels, psaapi.Policy{Enforce: none, Audit: none, Warn: none})
	if p.Enforce.Level == psaapi.LevelPrivileged {
		return nil, nil
	}
	return &admission.PodSecurityLevel{LevelVersion: p.Enforce, Source: "the namespace's"}, nil
}

// namespaceReader reads a namespace's metadata from the manager's cache,
// and from the API server when the cache has no such namespace: one
// created a moment ago, whose watch event has not arrived (its jobs must
// not be judged without its labels), or one outside serve's --namespaces
// (a JobSource's target). A namespace that exists costs no request.
type namespaceReader struct {
	cache, live client.Reader
}

func (n namespaceReader) get(ctx context.Context, name string) (*metav1.PartialObjectMetadata, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	err := n.cache.Get(ctx, types.NamespacedName{Name: name}, m)
	if apierrors.IsNotFound(err) && n.live != nil {
		err = n.live.Get(ctx, types.NamespacedName{Name: name}, m)
	}
	return m, err
}

// podSecurityKey is the part of a verdict's cache key the namespace's
// level makes: a label change judges the job again.
func podSecurityKey(lv *admission.PodSecurityLevel) string {
	if lv == nil {
		return ""
	}
	return "/pss=" + lv.LevelVersion.String()
}

// namespaceLevels reads each namespace's level once per render of a
// source; a namespace whose labels cannot be read refuses its jobs with
// the read error, retried at the next poll.
type namespaceLevels struct {
	ctx    context.Context
	reader namespaceReader
	seen   map[string]namespaceLevel
}

type namespaceLevel struct {
	level *admission.PodSecurityLevel
	err   error
}

func newNamespaceLevels(ctx context.Context, reader namespaceReader) *namespaceLevels {
	return &namespaceLevels{ctx: ctx, reader: reader, seen: map[string]namespaceLevel{}}
}

func (n *namespaceLevels) get(namespace string) (*admission.PodSecurityLevel, error) {
	if l, ok := n.seen[namespace]; ok {
		return l.level, l.err
	}
	lv, err := namespacePodSecurity(n.ctx, n.reader, namespace)
	n.seen[namespace] = namespaceLevel{lv, err}
	return lv, err
}

// unchanged reports whether every namespace of a past render still has the
// level it was judged with.
func (n *namespaceLevels) unchanged(past map[string]string) bool {
	for ns, key := range past {
		lv, err := n.get(ns)
		if err != nil || podSecurityKey(lv) != key {
			return false
		}
	}
	return true
}
