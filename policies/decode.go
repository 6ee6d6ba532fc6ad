package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// header is what is read of a document before it is decoded strictly, so a
// wrong kind is reported as such rather than as a list of unknown fields.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// decodePolicy decodes one YAML document strictly into an AllocationPolicy.
// An empty document (only comments or whitespace) yields nil and no error.
func decodePolicy(doc []byte) (*v1alpha1.AllocationPolicy, []*PolicyError) {
	data, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, []*PolicyError{{Policy: lenientName(doc), Err: fmt.Errorf("%w: %w", ErrMalformed, err)}}
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	var h header
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, []*PolicyError{{Err: fmt.Errorf("%w: not a mapping with apiVersion, kind and metadata: %w", ErrMalformed, err)}}
	}
	name := h.Metadata.Name
	if gv := v1alpha1.GroupVersion.String(); h.APIVersion != gv {
		return nil, []*PolicyError{fieldError(name, "apiVersion", ErrWrongKind,
			"apiVersion is '%s', want '%s'", h.APIVersion, gv)}
	}
	if h.Kind != v1alpha1.AllocationPolicyKind {
		return nil, []*PolicyError{fieldError(name, "kind", ErrWrongKind,
			"kind is '%s', want '%s'", h.Kind, v1alpha1.AllocationPolicyKind)}
	}
	var p v1alpha1.AllocationPolicy
	strict, err := sigsjson.UnmarshalStrict(data, &p, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err != nil {
		field, cause := locate(data, reflect.TypeFor[v1alpha1.AllocationPolicy]())
		if cause == nil {
			return nil, []*PolicyError{{Policy: name, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}}
		}
		return nil, []*PolicyError{{Policy: name, Field: field, Err: fmt.Errorf("%w: %w", ErrInvalidValue, cause)}}
	}
	var errs []*PolicyError
	for _, s := range strict {
		errs = append(errs, strictError(name, s))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &p, nil
}

// lenientName is the policy's name read without strictness, so a document
// with a duplicate key is still reported under its name; empty when even
// that fails.
func lenientName(doc []byte) string {
	var h header
	if err := sigsyaml.Unmarshal(doc, &h); err != nil {
		return ""
	}
	return h.Metadata.Name
}

// strictError turns one of sigs.k8s.io/json's strict errors into a
// PolicyError that names the field.
func strictError(policy string, err error) *PolicyError {
	fe, ok := err.(sigsjson.FieldError)
	if !ok {
		return &PolicyError{Policy: policy, Err: fmt.Errorf("%w: %w", ErrMalformed, err)}
	}
	sentinel := ErrMalformed
	if strings.HasPrefix(err.Error(), "unknown field") {
		sentinel = ErrUnknownField
	}
	return &PolicyError{Policy: policy, Field: fe.FieldPath(), Err: sentinel}
}

// locate finds the first field of data that does not decode into its place
// in t, and why. Decoding errors from a type's own UnmarshalJSON (a
// duration, a quantity) carry no field path; locate finds it by decoding
// the document one leaf at a time. It runs only after decoding failed.
func locate(data []byte, t reflect.Type) (string, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var raw any
	if err := d.Decode(&raw); err != nil {
		return "", nil
	}
	return locateIn(t, raw, "")
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// locateIn walks raw alongside the Go type t; path is raw's field path.
func locateIn(t reflect.Type, raw any, path string) (string, error) {
	if raw == nil {
		return "", nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return decodeLeaf(t, raw, path)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return locateIn(t.Elem(), raw, path)
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			return decodeLeaf(t, raw, path)
		}
		return locateStruct(t, m, path)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			return decodeLeaf(t, raw, path)
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if p, err := locateIn(t.Elem(), m[k], fmt.Sprintf("%s[%q]", path, k)); err != nil {
				return p, err
			}
		}
		return "", nil
	case reflect.Slice:
		s, ok := raw.([]any)
		if !ok {
			return decodeLeaf(t, raw, path)
		}
		for i, v := range s {
			if p, err := locateIn(t.Elem(), v, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return p, err
			}
		}
		return "", nil
	default:
		return decodeLeaf(t, raw, path)
	}
}

// locateStruct walks the JSON fields of struct type t, inlined embedded
// structs included.
func locateStruct(t reflect.Type, m map[string]any, path string) (string, error) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if name == "" && f.Anonymous {
			if p, err := locateIn(f.Type, m, path); err != nil {
				return p, err
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		v, ok := m[name]
		if !ok {
			continue
		}
		child := name
		if path != "" {
			child = path + "." + name
		}
		if p, err := locateIn(f.Type, v, child); err != nil {
			return p, err
		}
	}
	return "", nil
}

// decodeLeaf decodes raw on its own into a new t and reports path with the
// error when that fails.
func decodeLeaf(t reflect.Type, raw any, path string) (string, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return "", nil
	}
	err = json.Unmarshal(b, reflect.New(t).Interface())
	if err == nil {
		return "", nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return path, fmt.Errorf("found a %s, want %s", te.Value, describeType(t))
	}
	return path, err
}

// describeType names what a field of type t holds, in YAML terms.
func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string (quote a value such as \"0.5\")"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	default:
		return "a mapping"
	}
}
