package v1alpha1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

func metav1AddToGroupVersion(scheme *runtime.Scheme) {
	metav1.AddToGroupVersion(scheme, GroupVersion)
}

// FieldManager is the field manager of every write sparkcd makes.
const FieldManager = "sparkcd"

// NewScheme returns a scheme with the built-in Kubernetes types and
// sparkcd's, for every client sparkcd builds.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("unable to add the built-in types to the scheme: %w", err)
	}
	if err := AddToScheme(s); err != nil {
		return nil, fmt.Errorf("unable to add the sparkcd types to the scheme: %w", err)
	}
	return s, nil
}
