package decryption

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// IsEncrypted tells an object sops encrypted: it has sops' top-level
// "sops" metadata (Flux's test).
func IsEncrypted(u *unstructured.Unstructured) bool {
	_, ok := u.Object["sops"].(map[string]any)
	return ok
}

// Masked returns a copy of u without the sops metadata and with
// Placeholder in place of every encrypted value: what `sparkcd render`
// shows.
func Masked(u *unstructured.Unstructured) *unstructured.Unstructured {
	out := u.DeepCopy()
	delete(out.Object, "sops")
	mask(out.Object)
	return out
}

func mask(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = mask(e)
		}
	case []any:
		for i, e := range v {
			v[i] = mask(e)
		}
	case string:
		if isEncrypted(v) {
			return Placeholder
		}
	}
	return v
}

// encryptedMetadata is the first field of apiVersion, kind and metadata
// that holds a ciphertext, "" when none does.
func encryptedMetadata(u *unstructured.Unstructured) string {
	for _, k := range []string{"apiVersion", "kind", "metadata"} {
		if f := firstEncrypted(u.Object[k], k); f != "" {
			return f
		}
	}
	return ""
}

func firstEncrypted(v any, field string) string {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if f := firstEncrypted(v[k], field+"."+k); f != "" {
				return f
			}
		}
	case []any:
		for i, e := range v {
			if f := firstEncrypted(e, fmt.Sprintf("%s[%d]", field, i)); f != "" {
				return f
			}
		}
	case string:
		if isEncrypted(v) {
			return field
		}
	}
	return ""
}

// substitute replaces, in place, each ciphertext of v by its plaintext in
// pt. It fails on a ciphertext pt does not hold, returning its field.
func substitute(v any, field string, pt plaintexts) (string, bool) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			e := v[k]
			f := strings.TrimPrefix(field+"."+k, ".")
			if s, ok := e.(string); ok && isEncrypted(s) {
				p, found := pt[s]
				if !found {
					return f, false
				}
				v[k] = jsonValue(p)
				continue
			}
			if f, ok := substitute(e, f, pt); !ok {
				return f, false
			}
		}
	case []any:
		for i, e := range v {
			f := fmt.Sprintf("%s[%d]", field, i)
			if s, ok := e.(string); ok && isEncrypted(s) {
				p, found := pt[s]
				if !found {
					return f, false
				}
				v[i] = jsonValue(p)
				continue
			}
			if f, ok := substitute(e, f, pt); !ok {
				return f, false
			}
		}
	}
	return "", true
}

// jsonValue turns a sops plaintext into a value unstructured objects hold.
func jsonValue(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case float32:
		return float64(v)
	case string, bool, int64, float64, nil:
		return v
	}
	return fmt.Sprint(v)
}
