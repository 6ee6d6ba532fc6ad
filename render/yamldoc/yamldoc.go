package yamldoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	yamlv2 "go.yaml.in/yaml/v2"
)

// Marshal returns v as YAML: the bytes sigs.k8s.io/yaml.Marshal(v)
// returns.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("error marshaling into JSON: %w", err)
	}
	doc, err := Decode(b)
	if err != nil {
		return nil, err
	}
	return Encode(doc)
}

// Decode reads a JSON document into maps, slices and scalars with every
// number typed as YAML resolves its text: int when it parses as one, else
// uint64, else float64. Encode writes what it returns as
// sigs.k8s.io/yaml.JSONToYAML writes the JSON; a caller may edit it in
// between (drop a field).
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the document")
	}
	return resolveNumbers(doc), nil
}

// Encode writes a document from Decode as YAML.
func Encode(doc any) ([]byte, error) {
	return yamlv2.Marshal(doc)
}

// resolveNumbers replaces, in place, every json.Number below v with the
// value go.yaml.in/yaml/v2 resolves the same text to.
func resolveNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			switch e.(type) {
			case map[string]any, []any, json.Number:
				t[k] = resolveNumbers(e)
			}
		}
	case []any:
		for i, e := range t {
			t[i] = resolveNumbers(e)
		}
	case json.Number:
		return resolveNumber(string(t))
	}
	return v
}

// resolveNumber is the number branch of yaml.v2's resolve for the text of
// a JSON number (no underscores, no leading zeros, no sign but '-').
func resolveNumber(s string) any {
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return int(i)
	}
	if u, err := strconv.ParseUint(s, 0, 64); err == nil {
		return u
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	// Out of float64's range: yaml.v2 keeps the text as a string.
	return s
}
