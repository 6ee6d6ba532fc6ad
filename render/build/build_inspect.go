package build

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// kustomizationRefs are the fields of a kustomization that name other
// files, directories or remote locations. kustomize reads them with the
// same types, so a file it accepts decodes here too.
type kustomizationRefs struct {
	Resources             []string    `yaml:"resources"`
	Bases                 []string    `yaml:"bases"`
	Components            []string    `yaml:"components"`
	Crds                  []string    `yaml:"crds"`
	Configurations        []string    `yaml:"configurations"`
	Generators            []string    `yaml:"generators"`
	Transformers          []string    `yaml:"transformers"`
	Validators            []string    `yaml:"validators"`
	PatchesStrategicMerge []string    `yaml:"patchesStrategicMerge"`
	Patches               []pathRef   `yaml:"patches"`
	PatchesJSON6902       []pathRef   `yaml:"patchesJson6902"`
	Replacements          []pathRef   `yaml:"replacements"`
	ConfigMapGenerator    []generator `yaml:"configMapGenerator"`
	SecretGenerator       []generator `yaml:"secretGenerator"`
	OpenAPI               yaml.Node   `yaml:"openapi"`
}

type pathRef struct {
	Path string `yaml:"path"`
}

type generator struct {
	Files []string `yaml:"files"`
	Envs  []string `yaml:"envs"`
	Env   string   `yaml:"env"`
}

// refs lists (field, reference) pairs; inline YAML entries are skipped.
func (k *kustomizationRefs) refs() [][2]string {
	var out [][2]string
	add := func(field string, values ...string) {
		for _, v := range values {
			if v != "" && !strings.Contains(v, "\n") {
				out = append(out, [2]string{field, v})
			}
		}
	}
	add("resources", k.Resources...)
	add("bases", k.Bases...)
	add("components", k.Components...)
	add("crds", k.Crds...)
	add("configurations", k.Configurations...)
	add("generators", k.Generators...)
	add("transformers", k.Transformers...)
	add("validators", k.Validators...)
	add("patchesStrategicMerge", k.PatchesStrategicMerge...)
	for _, p := range k.Patches {
		add("patches", p.Path)
	}
	for _, p := range k.PatchesJSON6902 {
		add("patchesJson6902", p.Path)
	}
	for _, p := range k.Replacements {
		add("replacements", p.Path)
	}
	for _, gens := range [][]generator{k.ConfigMapGenerator, k.SecretGenerator} {
		for _, g := range gens {
			for _, file := range g.Files {
				// "key=path" names the key the file is stored under.
				if _, path, ok := strings.Cut(file, "="); ok {
					file = path
				}
				add("files", file)
			}
			add("envs", g.Envs...)
			add("env", g.Env)
		}
	}
	return out
}

// scpUser matches the "user@" prefix kustomize accepts for scp-style git
// URLs (git@github.com:org/repo).
var scpUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// isRemoteRef reports whether kustomize would fetch ref over the network:
// an http(s) file, or anything it parses as a git repository. It follows
// kustomize's own rules and errs on the side of "remote".
func isRemoteRef(ref string) bool {
	s := strings.ToLower(strings.TrimSpace(ref))
	s = strings.TrimPrefix(s, "git::")
	for _, scheme := range []string{"https://", "http://", "ssh://", "file://", "git://"} {
		if strings.HasPrefix(s, scheme) {
			return true
		}
	}
	return scpUser.MatchString(s) || strings.HasPrefix(s, "github.com/") || strings.HasPrefix(s, "github.com:")
}

// inspectKustomization checks a kustomization that krusty is about to read:
// remote references are refused unless allowed, local references must stay
// inside the root, an "openapi" field (global state in kyaml) needs an
// exclusive build, and the unit's own kustomization gets origin
// annotations turned on. real is the file's resolved path.
func (f *repoFS) inspectKustomization(real string, data []byte) ([]byte, error) {
	file := f.rel(real)
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		err = fmt.Errorf("unable to parse kustomization: %w: %w", ErrMalformed, err)
		f.rec.violate(file, err)
		return nil, err
	}
	if len(doc.Content) == 0 {
		return data, nil
	}
	var k kustomizationRefs
	// Type errors leave the other fields decoded; kustomize reports them.
	_ = doc.Content[0].Decode(&k)
	dir := filepath.Dir(real)
	for _, ref := range k.refs() {
		field, value := ref[0], ref[1]
		if isRemoteRef(value) {
			if !f.allowRemote {
				err := fmt.Errorf("%s entry '%s' is remote: %w", field, value, ErrRemoteBase)
				f.rec.violate(file, err)
				return nil, err
			}
			f.rec.markRemote()
			continue
		}
		if f.inClone(real) {
			continue
		}
		target := value
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		if _, err := f.realPath(filepath.Clean(target)); err != nil {
			err = fmt.Errorf("%s entry '%s': %w", field, value, err)
			f.rec.violate(file, err)
			return nil, err
		}
	}
	if !k.OpenAPI.IsZero() && !f.exclusive {
		f.rec.mu.Lock()
		f.rec.needExclusive = true
		f.rec.mu.Unlock()
		return nil, errNeedExclusive
	}
	if real != f.inject {
		return data, nil
	}
	return withOriginAnnotations(data, &doc)
}

// appendable reports whether a top-level key can be appended to the text
// of a kustomization: a block mapping without buildMetadata, its single
// document not closed by a "---" or "..." marker.
func appendable(data []byte, root *yaml.Node) bool {
	if root.Style&yaml.FlowStyle != 0 || bytes.HasPrefix(data, []byte("---")) {
		return false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "buildMetadata" {
			return false
		}
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("---")) || bytes.HasPrefix(line, []byte("...")) {
			return false
		}
	}
	return true
}

// withOriginAnnotations adds "originAnnotations" to the buildMetadata of a
// kustomization document, so krusty annotates every resource with the file
// it came from (config.kubernetes.io/origin). kustomize passes the
// top-level buildMetadata down to every base.
func withOriginAnnotations(data []byte, doc *yaml.Node) ([]byte, error) {
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("kustomization is not a mapping: %w", ErrMalformed)
	}
	if appendable(data, root) {
		// The common case, without re-encoding the file: a block mapping
		// with no buildMetadata takes one more top-level key at its end.
		out := append(bytes.Clone(data), '\n')
		return append(out, "buildMetadata: [originAnnotations]\n"...), nil
	}
	item := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "originAnnotations"}
	found := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "buildMetadata" {
			continue
		}
		found = true
		seq := root.Content[i+1]
		if seq.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("buildMetadata is not a list: %w", ErrMalformed)
		}
		has := false
		for _, n := range seq.Content {
			has = has || n.Value == item.Value
		}
		if !has {
			seq.Content = append(seq.Content, item)
		}
	}
	if !found {
		root.Content = append(root.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "buildMetadata"},
			&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{item}})
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("unable to add origin annotations: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("unable to add origin annotations: %w", err)
	}
	return buf.Bytes(), nil
}
