package build

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Locate returns the 1-based line of field (a path such as
// "spec.dynamicAllocation.maxExecutors" or "spec.volumes[0].name") in the
// document of the job called name inside the job's source file, for
// annotations on a pull request. When the field is not written there (a
// default, or set by an overlay's patch) it falls back to the nearest
// parent that is, then to the start of the document. The document is the
// one of the origin's kind with that name, else the only one of that kind
// (an overlay may have renamed the job). It returns 0 when the file cannot
// be read and 1 when no document matches.
func Locate(root string, o Origin, name, field string) int {
	if o.File == "" || strings.Contains(o.File, "//") {
		return 0
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(o.File)))
	if err != nil {
		return 0
	}
	return LocateIn(data, o.Kind, name, field)
}

// LocateIn is Locate on the content of a file.
func LocateIn(data []byte, kind, name, field string) int {
	top := findDocument(data, kind, name)
	if top == nil {
		return 1
	}
	return lineIn(top, field)
}

// findDocument returns the top mapping of the document of kind called name
// in a YAML stream, else of the only document of that kind, else nil. Its
// nodes carry their lines in the stream, not in the document.
func findDocument(data []byte, kind, name string) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var ofKind []*yaml.Node
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
			continue
		}
		top := doc.Content[0]
		if kind != "" && scalarAt(top, "kind") != kind {
			continue
		}
		if name != "" && scalarAt(lookupKey(top, "metadata"), "name") == name {
			return top
		}
		ofKind = append(ofKind, top)
	}
	if len(ofKind) == 1 {
		return ofKind[0]
	}
	return nil
}

// lineIn walks the field path down from a document's top mapping and
// returns the line of the deepest part found.
func lineIn(top *yaml.Node, field string) int {
	line := top.Line
	if len(top.Content) > 0 {
		line = top.Content[0].Line
	}
	node := top
	for _, part := range splitField(field) {
		var next *yaml.Node
		if idx, err := strconv.Atoi(part); err == nil && node.Kind == yaml.SequenceNode {
			if idx >= 0 && idx < len(node.Content) {
				next = node.Content[idx]
				line = next.Line
			}
		} else if node.Kind == yaml.MappingNode {
			// The last of a key written twice: the one at fault.
			for i := len(node.Content) - 2; i >= 0; i -= 2 {
				if node.Content[i].Value == part {
					next = node.Content[i+1]
					line = node.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			break
		}
		node = next
		for node.Kind == yaml.AliasNode && node.Alias != nil {
			node = node.Alias
		}
	}
	return line
}

// splitField splits "a.b[2].c" into "a", "b", "2", "c".
func splitField(field string) []string {
	var parts []string
	for _, p := range strings.Split(field, ".") {
		for p != "" {
			i := strings.IndexByte(p, '[')
			if i < 0 {
				parts = append(parts, p)
				break
			}
			if i > 0 {
				parts = append(parts, p[:i])
			}
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				parts = append(parts, p[i+1:])
				break
			}
			parts = append(parts, p[i+1:i+j])
			p = p[i+j+1:]
		}
	}
	return parts
}

func lookupKey(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func scalarAt(m *yaml.Node, key string) string {
	if n := lookupKey(m, key); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}
