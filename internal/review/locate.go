package review

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/render/build"
)

// locate returns the file and line an annotation of a job's finding points
// at: the patch of the unit's kustomization that sets the field, when one
// does (the value a reviewer must change is there, not in the base),
// else the job's own file.
func locate(root string, j *JobReport, field string) (string, int) {
	if j.Source == "" {
		return "", 1
	}
	if field != "" {
		if file := patchSetting(root, j.Origin, j.Name, field); file != "" {
			return file, build.Locate(root, build.Origin{File: file, Kind: j.Origin.Kind}, j.Name, field)
		}
	}
	return j.Source, build.Locate(root, j.Origin, j.Name, field)
}

// kustomizationPatches is the part of a kustomization that names patch
// files.
type kustomizationPatches struct {
	Patches []struct {
		Path   string `json:"path"`
		Target *struct {
			Name string `json:"name"`
		} `json:"target"`
	} `json:"patches"`
	PatchesStrategicMerge []string `json:"patchesStrategicMerge"`
}

// patchSetting returns the patch file (relative to root) of the origin's
// unit that writes field for the job called name, or "". Only the unit's
// own kustomization is read: the overlay a pull request changes.
func patchSetting(root string, o build.Origin, name, field string) string {
	if o.Unit == "" || o.Unit == o.File {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(o.Unit), "kustomization.yaml"))
	if err != nil {
		return ""
	}
	var k kustomizationPatches
	if yaml.Unmarshal(data, &k) != nil {
		return ""
	}
	type patchFile struct {
		path string
		// targeted: the kustomization selects the jobs, the name in the
		// patch does not.
		targeted bool
	}
	var files []patchFile
	for _, p := range k.Patches {
		if p.Path == "" {
			continue
		}
		if p.Target == nil || p.Target.Name == "" {
			files = append(files, patchFile{path: p.Path, targeted: p.Target != nil})
		} else if ok, _ := regexp.MatchString("^(?:"+p.Target.Name+")$", name); ok {
			files = append(files, patchFile{path: p.Path, targeted: true})
		}
	}
	for _, p := range k.PatchesStrategicMerge {
		files = append(files, patchFile{path: p})
	}
	for i := len(files) - 1; i >= 0; i-- { // the last patch wins
		rel := path.Join(o.Unit, files[i].path)
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err == nil && setsField(b, o.Kind, name, field, files[i].targeted) {
			return rel
		}
	}
	return ""
}

var index = regexp.MustCompile(`^(.*)\[(\d+)\]$`)

// setsField reports whether a strategic-merge patch file writes field in
// its document for the job called name (or its only document of kind).
func setsField(data []byte, kind, name, field string, targeted bool) bool {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) || err != nil && doc == nil {
			return false
		}
		if k, _ := doc["kind"].(string); kind != "" && k != kind {
			continue
		}
		if md, _ := doc["metadata"].(map[string]any); md != nil && !targeted {
			if n, _ := md["name"].(string); n != "" && n != name {
				continue
			}
		}
		if hasPath(doc, field) {
			return true
		}
	}
}

func hasPath(v any, field string) bool {
	for _, part := range strings.Split(field, ".") {
		key, i := part, -1
		if m := index.FindStringSubmatch(part); m != nil {
			key = m[1]
			i, _ = strconv.Atoi(m[2])
		}
		mp, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = mp[key]; !ok {
			return false
		}
		if i >= 0 {
			list, ok := v.([]any)
			if !ok || i >= len(list) {
				return false
			}
			v = list[i]
		}
	}
	return true
}
