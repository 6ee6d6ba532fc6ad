package yamldoc

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestMarshalAsSigsYAML checks that Marshal writes what sigs.k8s.io/yaml
// writes, on typed objects and on the values whose typing differs between
// JSON and YAML (numbers, YAML 1.1 booleans, timestamps, keys that sort
// by their digits).
func TestMarshalAsSigsYAML(t *testing.T) {
	grace := int64(30)
	tests := []struct {
		name string
		v    any
	}{
		{name: "pod", v: &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n", Labels: map[string]string{"a10": "y", "a9": "no", "on": "off"}},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: &grace,
				Containers: []corev1.Container{{
					Name: "c", Image: "spark:3.5.3", Args: []string{"--x", "1", "1.0", "true", "null", "2006-01-02", "", "0x1F", "~"},
					Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}},
				}},
			},
		}},
		{name: "numbers", v: map[string]any{
			"int": 7, "neg": -3, "zero": 0.0, "negzero": math.Copysign(0, -1), "half": 0.5, "big": int64(math.MaxInt64),
			"bigger": uint64(math.MaxUint64), "float-big": 1e20, "float-huger": 1e21, "tiny": 1e-7, "exact": int64(9007199254740993),
			"list": []any{1, 2.5, "3", nil, true, map[string]any{}}, "empty": []any{}, "nested": map[string]any{"b": 1, "a": []int{}},
		}},
		{name: "strings", v: map[string]string{"yes": "yes", "N": "n", "multi": "a\nb\n", "colon": "a: b", "hash": "# c", "lead": " x", "1": "2"}},
		{name: "null", v: nil},
		{name: "scalar", v: "just text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := yaml.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Marshal differs from sigs.k8s.io/yaml (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzDecodeAsSigsYAML compares Encode(Decode(json)) with
// sigs.k8s.io/yaml.JSONToYAML on any JSON document.
func FuzzDecodeAsSigsYAML(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1.5,-0,1e21,18446744073709551615,18446744073709551616],"c":{"x10":"on","x9":null}}`, `[]`, `"1"`, `12345678901234567890123`, `{"":-1e-7}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := yaml.JSONToYAML(data)
		doc, err := Decode(data)
		if err != nil || werr != nil {
			return // inputs either side refuses are not compared
		}
		got, err := Encode(doc)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		if string(want) != string(got) {
			t.Errorf("JSON %q:\nsigs.k8s.io/yaml: %q\nyamldoc:          %q", data, want, got)
		}
	})
}
