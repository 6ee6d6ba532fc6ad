package build

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	sigsjson "sigs.k8s.io/json"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// maxDecodeRepairs bounds how many bad fields one document may report
// before decoding gives up on it.
const maxDecodeRepairs = 16

// Finding rules of decoding.
const (
	RuleUnknownField   = "unknown-field"
	RuleDuplicateField = "duplicate-field"
	RuleInvalidType    = "invalid-type"
	RuleInvalidValue   = "invalid-value"
	RuleMissingName    = "missing-name"
	RuleUnknownKind    = "unknown-kind"
	RuleUnsupported    = "unsupported-field"
	// RuleDeprecated is a field of the Spark Operator that the Operator
	// itself no longer reads; it changes nothing there either.
	RuleDeprecated   = "deprecated-field"
	RuleDuplicateJob = "duplicate-job"
)

// strictDecode decodes one JSON object into a T, as the API server would
// with strict field validation, but without giving up at the first problem:
// every unknown or duplicate field is a finding, and a field of the wrong
// type or an unparsable value is a finding too, after which that field is
// dropped and decoding goes on. It returns nil only when the document is
// not an object at all.
func strictDecode[T any](doc []byte) (*T, []v1alpha1.Finding) {
	var findings []v1alpha1.Finding
	var generic any
	for range maxDecodeRepairs {
		obj := new(T)
		strictErrs, err := sigsjson.UnmarshalStrict(doc, obj)
		if err == nil {
			for _, se := range strictErrs {
				findings = append(findings, strictFinding[T](se))
			}
			return obj, findings
		}
		if generic == nil {
			dec := json.NewDecoder(bytes.NewReader(doc))
			dec.UseNumber()
			if jerr := dec.Decode(&generic); jerr != nil {
				return nil, append(findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError,
					Rule: RuleInvalidType, Message: fmt.Sprintf("not a JSON object: %v", jerr)})
			}
		}
		path, cause := narrowDecodeError[T](generic, nil, err)
		findings = append(findings, valueFinding(path, cause))
		if len(path) == 0 || !removePath(generic, path) {
			return nil, findings
		}
		doc, err = json.Marshal(generic)
		if err != nil {
			return nil, findings
		}
	}
	return nil, append(findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError,
		Rule: RuleInvalidType, Message: fmt.Sprintf("more than %d invalid fields; stopped decoding", maxDecodeRepairs)})
}

// pathElem is a map key or, when key is empty and index >= 0, a list index.
type pathElem struct {
	key   string
	index int
}

func fieldPath(path []pathElem) string {
	var b strings.Builder
	for _, e := range path {
		if e.key == "" && e.index >= 0 {
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e.key)
	}
	return b.String()
}

// narrowDecodeError finds the deepest field whose value alone still fails
// to decode into a T: the field at fault. value is the generic value at
// path in the document.
func narrowDecodeError[T any](value any, path []pathElem, cause error) ([]pathElem, error) {
	try := func(child pathElem, v any) (bool, error) {
		p := append(append([]pathElem(nil), path...), child)
		data, err := json.Marshal(skeleton(p, v))
		if err != nil {
			return false, nil
		}
		err = sigsjson.UnmarshalCaseSensitivePreserveInts(data, new(T))
		return err != nil, err
	}
	switch v := value.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if bad, err := try(pathElem{key: k, index: -1}, v[k]); bad {
				return narrowDecodeError[T](v[k], append(path, pathElem{key: k, index: -1}), err)
			}
		}
	case []any:
		for i, item := range v {
			if bad, err := try(pathElem{index: i}, item); bad {
				return narrowDecodeError[T](item, append(path, pathElem{index: i}), err)
			}
		}
	}
	return path, cause
}

// skeleton builds a document holding only v at path. A list index becomes
// a one-element list.
func skeleton(path []pathElem, v any) any {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].key == "" && path[i].index >= 0 {
			v = []any{v}
		} else {
			v = map[string]any{path[i].key: v}
		}
	}
	return v
}

// removePath deletes the value at path from a generic document.
func removePath(doc any, path []pathElem) bool {
	parent := doc
	for _, e := range path[:len(path)-1] {
		switch v := parent.(type) {
		case map[string]any:
			parent = v[e.key]
		case []any:
			if e.index < 0 || e.index >= len(v) {
				return false
			}
			parent = v[e.index]
		default:
			return false
		}
	}
	last := path[len(path)-1]
	if m, ok := parent.(map[string]any); ok && last.key != "" {
		delete(m, last.key)
		return true
	}
	if l, ok := parent.([]any); ok && last.key == "" && last.index < len(l) {
		// Replace the element by null rather than splice it, so the indexes
		// of its siblings in later findings stay those of the file.
		l[last.index] = nil
		return true
	}
	return false
}

// valueFinding describes a field whose value does not decode.
func valueFinding(path []pathElem, cause error) v1alpha1.Finding {
	field := fieldPath(path)
	var typeErr *json.UnmarshalTypeError
	if errors.As(cause, &typeErr) {
		return v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleInvalidType, Field: field,
			Message: fmt.Sprintf("'%s' must be %s, not %s", field, kindName(typeErr.Type), valueName(typeErr.Value))}
	}
	return v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleInvalidValue, Field: field,
		Message: fmt.Sprintf("'%s' is invalid: %v", field, cause)}
}

func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "an object"
}

func valueName(v string) string {
	switch {
	case v == "string":
		return "a string"
	case v == "bool":
		return "a boolean"
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case strings.HasPrefix(v, "number"):
		return "the number" + strings.TrimPrefix(v, "number")
	}
	return v
}

// strictFinding turns an unknown or duplicate field into a finding, with a
// suggestion when the name is close to a field that exists there.
func strictFinding[T any](err error) v1alpha1.Finding {
	field := ""
	var fe sigsjson.FieldError
	if errors.As(err, &fe) {
		field = fe.FieldPath()
	}
	if strings.HasPrefix(err.Error(), "duplicate field") {
		return v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleDuplicateField, Field: field,
			Message: fmt.Sprintf("field '%s' is set twice", field)}
	}
	msg := fmt.Sprintf("unknown field '%s'", field)
	if s := suggestField(reflect.TypeFor[T](), field); s != "" {
		msg += fmt.Sprintf(" (did you mean '%s'?)", s)
	}
	return v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleUnknownField, Field: field, Message: msg}
}

// suggestField returns the field name, at the level of the unknown field,
// closest to it, when it is a likely typo.
func suggestField(t reflect.Type, field string) string {
	parts := strings.Split(field, ".")
	for _, part := range parts[:len(parts)-1] {
		name, _, _ := strings.Cut(part, "[")
		t = fieldType(t, name)
		if t == nil {
			return ""
		}
		for t.Kind() == reflect.Slice || t.Kind() == reflect.Map || t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
	}
	last := parts[len(parts)-1]
	best, bestDist := "", 3
	for _, name := range jsonFieldNames(t) {
		if d := editDistance(strings.ToLower(last), strings.ToLower(name)); d < bestDist {
			best, bestDist = name, d
		}
	}
	return best
}

// fieldType returns the type of the JSON field name of struct type t.
func fieldType(t reflect.Type, name string) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if tag == "" && sf.Anonymous {
			if ft := fieldType(sf.Type, name); ft != nil {
				return ft
			}
			continue
		}
		if tag == name {
			return sf.Type
		}
	}
	return nil
}

func jsonFieldNames(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		switch {
		case tag == "" && sf.Anonymous:
			names = append(names, jsonFieldNames(sf.Type)...)
		case tag != "" && tag != "-":
			names = append(names, tag)
		}
	}
	return names
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
