// Package deploy_test builds every kustomization under deploy/ in-process,
// checks the install structurally, applies it to a real API server, and
// runs sparkcd's loops there with nothing but the permissions it grants.
package deploy_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

// env is the package's control plane. No garbage collector: nothing here
// depends on a cascade. kube-controller-manager runs only the ClusterRole
// aggregation, which fills view, edit and admin from sparkcd-view and
// sparkcd-edit as in a cluster. Volcano's and scheduler-plugins' CRDs
// (test/schedulers) are installed beside sparkcd's, for the runs' PodGroups.
var env = testenv.NewShared(testenv.WithControllers("clusterrole-aggregation-controller"),
	testenv.WithCRDPaths("crds", "../test/schedulers"))

func TestMain(m *testing.M) {
	ctrl.SetLogger(logr.Discard())
	os.Exit(env.Run(m))
}

// waitTimeout bounds every wait on the API server or a loop; a loaded
// two-core machine with the race detector needs a few seconds at worst.
const waitTimeout = 60 * time.Second

// fieldOwner is the field manager of the test's server-side applies, as
// kubectl's would be.
const fieldOwner = "sparkcd-deploy-test"

// build runs `kustomize build dir` in-process with kustomize's defaults
// (files only from inside each kustomization, no plugins), as
// `kubectl apply -k` does.
func build(t testing.TB, dir string) []*unstructured.Unstructured {
	t.Helper()
	return buildFS(t, filesys.MakeFsOnDisk(), dir)
}

// buildFS builds dir in fsys.
func buildFS(t testing.TB, fsys filesys.FileSystem, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(fsys, dir)
	if err != nil {
		t.Fatalf("kustomize build '%s': %v", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range m.Resources() {
		b, err := r.AsYAML()
		if err != nil {
			t.Fatalf("kustomize build '%s': %v", dir, err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			t.Fatalf("kustomize build '%s': decoding %s: %v", dir, r.CurId(), err)
		}
		objs = append(objs, u)
	}
	return objs
}

// kustomizations lists the directories under root holding a kustomization
// that can be built on its own (Components are built by those that
// include them), relative to root.
func kustomizations(t testing.TB, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "kustomization.yaml" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var head struct{ Kind string }
		if err := yaml.Unmarshal(b, &head); err != nil {
			return err
		}
		if head.Kind == "Component" {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		dirs = append(dirs, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	return dirs
}

// decoder decodes strictly into the types the API server knows: a
// misspelled or misplaced field is an error here, not a field the server
// drops.
var decoder = sync.OnceValue(func() runtime.Decoder {
	s, err := v1alpha1.NewScheme()
	if err == nil {
		err = apiextensionsv1.AddToScheme(s)
	}
	if err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
})

// typed decodes u strictly into its Go type.
func typed(t testing.TB, u *unstructured.Unstructured) runtime.Object {
	t.Helper()
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	obj, _, err := decoder().Decode(b, nil, nil)
	if err != nil {
		t.Fatalf("%s '%s': %v", u.GetKind(), u.GetName(), err)
	}
	return obj
}

// find returns the one object of kind and name (a name ending in "-*"
// matches a generated name with kustomize's hash suffix), failing the test
// when there is not exactly one.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() == kind && nameMatches(u.GetName(), name) {
			found = append(found, u)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one %s '%s' in the build, found %d", kind, name, len(found))
	}
	return found[0]
}

func nameMatches(name, pattern string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix) && len(name) == len(prefix)+10
	}
	return name == pattern
}

// decodeAs finds an object and decodes it strictly into T.
func decodeAs[T runtime.Object](t testing.TB, objs []*unstructured.Unstructured, kind, name string) T {
	t.Helper()
	obj, ok := typed(t, find(t, objs, kind, name)).(T)
	if !ok {
		t.Fatalf("%s '%s' did not decode as %T", kind, name, *new(T))
	}
	return obj
}

// apply server-side applies objs the way `kubectl apply --server-side`
// does: CRDs and Namespaces first, CRDs established before anything else.
func apply(t testing.TB, e *testenv.Env, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	first := func(u *unstructured.Unstructured) int {
		switch u.GetKind() {
		case "CustomResourceDefinition":
			return 0
		case "Namespace":
			return 1
		}
		return 2
	}
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return first(sorted[i]) < first(sorted[j]) })
	var crds []string
	for _, u := range sorted {
		if first(u) == 2 && len(crds) > 0 {
			waitEstablished(t, ctx, e, crds)
			crds = nil
		}
		if err := e.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()),
			client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
			t.Fatalf("server-side apply %s '%s/%s': %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if u.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, u.GetName())
		}
	}
}

func waitEstablished(t testing.TB, ctx context.Context, e *testenv.Env, names []string) {
	t.Helper()
	for _, name := range names {
		for {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			err := e.Client.Get(ctx, client.ObjectKey{Name: name}, crd)
			if err == nil && established(crd) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("CRD '%s' not established: %v", name, errors.Join(err, ctx.Err()))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// install applies deploy/default once per test binary: sparkcd-system and
// its Lease are the same for every test.
var install struct {
	once sync.Once
	done bool
}

// installed returns the control plane with deploy/default applied; when
// the first apply failed, every later caller fails too.
func installed(t testing.TB) *testenv.Env {
	t.Helper()
	e := env.Env(t)
	install.once.Do(func() {
		apply(t, e, build(t, "default"))
		install.done = true
	})
	if !install.done {
		t.Fatal("deploy/default could not be applied (see the first test that applied it)")
	}
	return e
}

// testLogger shows the loops' logs in the test output when
// SPARKCD_TEST_LOG is set.
func testLogger(t testing.TB) logr.Logger {
	if os.Getenv("SPARKCD_TEST_LOG") == "" {
		return logr.Discard()
	}
	return testr.NewWithInterface(t, testr.Options{Verbosity: 1})
}

// eventually polls cond until it holds, failing with cond's last
// description after waitTimeout.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, what, cond)
}
