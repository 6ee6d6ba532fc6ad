package build

import (
	"encoding/json"
	"path"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/api/resource"
)

// Object is a Kubernetes object a unit yields beside its jobs: a
// ConfigMap, Secret, ServiceAccount, Role, RoleBinding or
// PersistentVolumeClaim the jobs use, or anything else a kustomization
// lists. The build keeps every one; which of them may be applied is for
// admission to say (admission.Supporting).
type Object struct {
	// Object is the object as the build yields it, without kustomize's
	// origin annotation. A Secret's values are in it: never print it
	// without redacting them (Redacted).
	Object *unstructured.Unstructured
	// GroupKind of the object; Group is "" for the core group.
	schema.GroupKind
	// Name and Namespace of the object; Namespace is the build's default
	// namespace when the object names none, as for jobs.
	Name, Namespace string
	// Origin is where the object came from; Origin.Kind is its kind.
	Origin Origin
	// Line is the 1-based line of the object's document in Origin.File, 0
	// when the file cannot be read (a remote base, a generated object).
	Line int
}

// decodeSupporting keeps a resource of a kustomize build that is not of a
// job group, with its origin. It is the hook tryBuild calls for every
// resource decodeResource did not take.
func decodeSupporting(r *resource.Resource, unit, unitDir, root string) (Object, bool) {
	if readsObject(r.GetApiVersion(), r.GetKind()) {
		return Object{}, false
	}
	o := Origin{Unit: unit, Kind: r.GetKind()}
	generated := false
	if orig, err := r.GetOrigin(); err == nil && orig != nil {
		o.File = originFile(unitDir, orig)
		// A generator's output names the kustomization that configured
		// it, relative to the unit.
		if generated = orig.Path == "" && orig.Repo == "" && o.File != ""; generated {
			o.File = path.Clean(path.Join(unitDir, filepath.ToSlash(o.File)))
		}
	}
	doc, err := r.MarshalJSON()
	if err != nil {
		return Object{}, false
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return Object{}, false
	}
	u := &unstructured.Unstructured{Object: m}
	if a := u.GetAnnotations(); len(a) > 0 {
		if _, ok := a[originAnnotation]; ok {
			delete(a, originAnnotation)
			if len(a) == 0 {
				a = nil
			}
			u.SetAnnotations(a)
		}
	}
	gvk := u.GroupVersionKind()
	obj := Object{Object: u, GroupKind: gvk.GroupKind(), Name: u.GetName(), Namespace: u.GetNamespace(), Origin: o}
	if o.File != "" && !generated {
		obj.Line = Locate(root, o, obj.Name, "")
	}
	return obj, true
}

// finishObjects gives namespaceless objects the default namespace, as
// finishJobs does for jobs (kubectl and Flux do the same; a cluster-scoped
// kind is refused by admission before the namespace matters), and sorts.
func finishObjects(objs []Object, defaultNamespace string) {
	for i := range objs {
		if objs[i].Namespace == "" && defaultNamespace != "" {
			objs[i].Namespace = defaultNamespace
		}
	}
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := &objs[i], &objs[j]
		switch {
		case a.Namespace != b.Namespace:
			return a.Namespace < b.Namespace
		case a.Group != b.Group:
			return a.Group < b.Group
		case a.Kind != b.Kind:
			return a.Kind < b.Kind
		case a.Name != b.Name:
			return a.Name < b.Name
		}
		return a.Origin.File < b.Origin.File
	})
}

// copyObjects deep-copies objects, for the cache.
func copyObjects(objs []Object) []Object {
	if objs == nil {
		return nil
	}
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = o
		out[i].Object = o.Object.DeepCopy()
	}
	return out
}
