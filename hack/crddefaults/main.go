// Command crddefaults writes the part of the SparkJob CRD's schema that
// carries defaults — every node on a path to a "default", with its type and
// nullability, nothing else — as JSON, for runid to embed. The API server
// fills these defaults into every SparkJob it stores; runid applies the
// same ones before it digests a spec, so a digest of the spec in git and
// a digest of the spec read back from the API server agree. `make
// generate` runs it after controller-gen, so the copy follows the CRD.
//
//	go run ./hack/crddefaults deploy/crds/sparkcd.io_sparkjobs.yaml runid/zz_generated.crd_defaults.json
package main

import (
	"encoding/json"
	"fmt"
	"os"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: crddefaults CRD.yaml OUT.json")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "crddefaults:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, crd); err != nil {
		return fmt.Errorf("unable to read '%s': %w", in, err)
	}
	if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Schema == nil || crd.Spec.Versions[0].Schema.OpenAPIV3Schema == nil {
		return fmt.Errorf("'%s': want exactly one version with a schema", in)
	}
	pruned, _ := defaultsOnly(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
	j, err := json.MarshalIndent(pruned, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(out, append(j, '\n'), 0o644)
}

// defaultsOnly returns the nodes of s on a path to a default, and whether
// there is any.
func defaultsOnly(s *apiextensionsv1.JSONSchemaProps) (*apiextensionsv1.JSONSchemaProps, bool) {
	out := &apiextensionsv1.JSONSchemaProps{Type: s.Type, Nullable: s.Nullable, Default: s.Default}
	keep := s.Default != nil
	for name, p := range s.Properties {
		if c, ok := defaultsOnly(&p); ok {
			if out.Properties == nil {
				out.Properties = map[string]apiextensionsv1.JSONSchemaProps{}
			}
			out.Properties[name] = *c
			keep = true
		}
	}
	if s.Items != nil && s.Items.Schema != nil {
		if c, ok := defaultsOnly(s.Items.Schema); ok {
			out.Items = &apiextensionsv1.JSONSchemaPropsOrArray{Schema: c}
			keep = true
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		if c, ok := defaultsOnly(s.AdditionalProperties.Schema); ok {
			out.AdditionalProperties = &apiextensionsv1.JSONSchemaPropsOrBool{Allows: true, Schema: c}
			keep = true
		}
	}
	return out, keep
}
