package build

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// kustomize reads each document of a multi-document file on its own, and
// encodes a resource again before it decodes it: the lines in its errors
// are lines of that document, not of the file. The functions here find the
// lines in the file itself.

// placeFindings gives the decoding findings of a unit's jobs their place in
// the source file: a key written twice becomes one finding per key, at the
// lines of the file, and a kind sparkcd does not read names the file and
// the line of the object. read reads a file relative to the root.
func placeFindings(read func(string) ([]byte, error), jobs []Job) {
	for i := range jobs {
		j := &jobs[i]
		if !slices.ContainsFunc(j.Findings, needsPlace) {
			continue
		}
		var top *yaml.Node
		if j.Origin.File != "" && !strings.Contains(j.Origin.File, "//") {
			if data, err := read(j.Origin.File); err == nil {
				top = findDocument(data, j.Origin.Kind, j.Name)
			}
		}
		var out []v1alpha1.Finding
		for _, f := range j.Findings {
			switch {
			case isKindRule(f.Rule):
				line := 0
				if top != nil {
					line = lineIn(top, f.Field)
				}
				withPlace(&f, j.Origin.File, line)
			case isUnreadDuplicate(f) && top != nil:
				if dups := duplicateKeys(top, nil); len(dups) > 0 {
					out = append(out, dups...)
					continue
				}
			}
			out = append(out, f)
		}
		j.Findings = out
	}
}

func needsPlace(f v1alpha1.Finding) bool { return isKindRule(f.Rule) || isUnreadDuplicate(f) }

// isUnreadDuplicate reports whether f is kyaml's refusal of a key written
// twice (see decodeResource), whose lines are those of its own copy.
func isUnreadDuplicate(f v1alpha1.Finding) bool {
	return f.Rule == RuleDuplicateField && f.Field == "" && strings.HasPrefix(f.Message, "unable to read the object")
}

// duplicateKeys returns a finding for every key written twice in a
// mapping and the mappings under it, with the lines of both in the file.
func duplicateKeys(n *yaml.Node, path []string) []v1alpha1.Finding {
	var out []v1alpha1.Finding
	switch n.Kind {
	case yaml.MappingNode:
		first := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, ok := first[k.Value]; ok {
				field := joinField(path, k.Value)
				out = append(out, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: RuleDuplicateField, Field: field,
					Message: fmt.Sprintf("field '%s' is set twice: line %d: mapping key %q already defined at line %d",
						field, k.Line, k.Value, line)})
			} else {
				first[k.Value] = k.Line
			}
			out = append(out, duplicateKeys(n.Content[i+1], append(path, k.Value))...)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			out = append(out, duplicateKeys(item, append(path, "["+strconv.Itoa(i)+"]"))...)
		}
	}
	return out
}

// joinField writes a path as findings name fields: "spec.volumes[0].name",
// and a key holding dots in brackets, "spec.sparkConf[spark.app.name]".
func joinField(path []string, last string) string {
	var b strings.Builder
	for _, p := range append(append([]string(nil), path...), last) {
		switch {
		case strings.HasPrefix(p, "["):
			b.WriteString(p)
		case strings.Contains(p, "."):
			b.WriteString("[" + p + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

// yamlLine matches the line of a YAML syntax error.
var yamlLine = regexp.MustCompile(`yaml: line (\d+): `)

// syntaxErrorLines rewrites the line of a YAML syntax error kustomize
// reports for one document of data to the line in data: it parses the
// whole stream and, when that stops at the same error, takes its line (one
// more for a parser problem, see parserProblems). Any other error is
// returned as it is.
func syntaxErrorLines(data []byte, err error) error {
	msg := err.Error()
	at := yamlLine.FindStringSubmatchIndex(msg)
	if at == nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		derr := dec.Decode(&doc)
		if derr == nil {
			continue
		}
		whole := derr.Error()
		m := yamlLine.FindStringSubmatchIndex(whole)
		if m == nil || !strings.HasPrefix(msg[at[1]:], whole[m[1]:]) {
			return err
		}
		line, _ := strconv.Atoi(whole[m[2]:m[3]])
		if isParserProblem(whole[m[1]:]) {
			line++
		}
		return errors.New(msg[:at[2]] + strconv.Itoa(line) + msg[at[3]:])
	}
}

// parserProblems are the problems of YAML's parser (its scanner's are
// others). For them the YAML library reports the 0-based line of the
// construct that failed (an unclosed "[", a mapping): one line early.
var parserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected key",
	"did not find expected node content",
}

func isParserProblem(problem string) bool {
	for _, p := range parserProblems {
		if strings.HasPrefix(problem, p) {
			return true
		}
	}
	return false
}
