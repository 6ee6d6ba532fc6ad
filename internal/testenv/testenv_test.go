package testenv_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/internal/testenv"
)

var env = testenv.NewShared(testenv.WithControllerManager())

func TestMain(m *testing.M) { os.Exit(env.Run(m)) }

func TestAPIServerServes(t *testing.T) {
	e := env.Env(t)
	if _, err := e.Clientset.Discovery().ServerVersion(); err != nil {
		t.Fatalf("server version: %v", err)
	}
	ns := e.Namespace(t)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: ns}, Data: map[string]string{"k": "v"}}
	if err := e.Client.Create(t.Context(), cm); err != nil {
		t.Fatalf("create configmap: %v", err)
	}
	out, err := e.Kubectl(t.Context(), "get", "configmap", "x", "-n", ns, "-o", "jsonpath={.data.k}").CombinedOutput()
	if err != nil || string(out) != "v" {
		t.Errorf("kubectl get = %q, %v; want \"v\"", out, err)
	}
}

func TestCRDsInstalled(t *testing.T) {
	e := env.Env(t)
	for _, name := range []string{"sparkjobs.sparkcd.io", "jobsources.sparkcd.io", "allocationpolicies.sparkcd.io"} {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := e.Client.Get(t.Context(), types.NamespacedName{Name: name}, crd); err != nil {
			t.Errorf("CRD %q: %v", name, err)
		}
	}
	ns := e.Namespace(t)
	job := &v1alpha1.SparkJob{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: ns},
		Spec:       v1alpha1.SparkJobSpec{Type: v1alpha1.ScalaApplication, Image: ptr.To("spark:3.5.3")},
	}
	if err := e.Client.Create(t.Context(), job); err != nil {
		t.Fatalf("create SparkJob: %v", err)
	}
	job.Status.SpecHash = "abc"
	if err := e.Client.Status().Update(t.Context(), job); err != nil {
		t.Fatalf("update SparkJob status: %v", err)
	}
}

// TestGarbageCollection proves kube-controller-manager runs the garbage
// collector: deleting an owner removes its dependent.
func TestGarbageCollection(t *testing.T) {
	e := env.Env(t)
	if !e.ControllerManagerRunning() {
		t.Fatal("kube-controller-manager is not running")
	}
	ns := e.Namespace(t)
	ctx := t.Context()
	owner := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if err := e.Client.Create(ctx, owner); err != nil {
		t.Fatalf("create owner: %v", err)
	}
	dependent := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "dependent", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Pod", Name: owner.Name, UID: owner.UID, Controller: ptr.To(true),
		}},
	}}
	if err := e.Client.Create(ctx, dependent); err != nil {
		t.Fatalf("create dependent: %v", err)
	}
	if err := e.Client.Delete(ctx, owner, client.GracePeriodSeconds(0)); err != nil {
		t.Fatalf("delete owner: %v", err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		err := e.Client.Get(ctx, client.ObjectKeyFromObject(dependent), &corev1.ConfigMap{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("the garbage collector did not delete the dependent: %v", err)
	}
}

func TestMissingBinariesFail(t *testing.T) {
	_, err := testenv.StartProcess(t.Context(), testenv.WithBinaryDir(t.TempDir()))
	if !errors.Is(err, testenv.ErrBinariesMissing) {
		t.Fatalf("StartProcess with an empty directory: err = %v, want ErrBinariesMissing", err)
	}
	if !strings.Contains(err.Error(), "make testenv") {
		t.Errorf("error %q does not say to run 'make testenv'", err)
	}
}
