package policies

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// TestDocsExamples keeps docs/policies.md honest: every job fragment it
// shows, merged into its base job and judged by the example policies, must
// give exactly the findings printed under it.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := codeBlocks(string(doc))
	var base []byte
	for _, b := range blocks {
		if b.lang == "yaml" && strings.HasPrefix(b.text, "apiVersion: sparkcd.io/v1alpha1\nkind: SparkJob\n") {
			base = []byte(b.text)
			break
		}
	}
	if base == nil {
		t.Fatal("docs/policies.md shows no base SparkJob")
	}
	policies, err := Load("testdata/examples")
	if err != nil {
		t.Fatal(err)
	}
	s := mustSet(t, policies...)
	examples := map[string]int{}
	for i := 0; i+1 < len(blocks); i++ {
		frag, out := blocks[i], blocks[i+1]
		if frag.lang != "yaml" || out.lang != "text" || !isFragment(frag.text) {
			continue
		}
		examples[frag.heading]++
		t.Run(fmt.Sprintf("%s/%d", frag.heading, examples[frag.heading]), func(t *testing.T) {
			job, err := patchedJob(base, []byte(frag.text))
			if err != nil {
				t.Fatal(err)
			}
			_, findings := s.Apply(job)
			want := strings.Split(strings.TrimSpace(out.text), "\n")
			got := findingLines(findings)
			if len(got) == 0 {
				got = []string{"no findings"}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings (-docs +got):\n%s", diff)
			}
		})
	}
	for _, r := range ruleTable {
		if examples[r.id] == 0 {
			t.Errorf("docs/policies.md has no example under a heading for rule %q", r.id)
		}
	}
}

// codeBlock is one fenced code block and the heading it sits under.
type codeBlock struct{ heading, lang, text string }

// codeBlocks returns the fenced code blocks of a markdown document.
func codeBlocks(md string) []codeBlock {
	var (
		blocks  []codeBlock
		cur     *codeBlock
		buf     strings.Builder
		heading string
	)
	for _, line := range strings.SplitAfter(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "#"):
			heading = strings.Trim(strings.TrimLeft(trimmed, "# "), "`")
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &codeBlock{heading: heading, lang: strings.TrimPrefix(trimmed, "```")}
			buf.Reset()
		case cur != nil && trimmed == "```":
			cur.text = buf.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			buf.WriteString(line)
		}
	}
	return blocks
}

// isFragment reports whether a YAML block is a change to the base job.
func isFragment(text string) bool {
	return strings.HasPrefix(text, "spec:\n") || strings.HasPrefix(text, "metadata:\n")
}

// patchedJob merges a fragment into the base job as a JSON merge patch
// (RFC 7386): mappings merge, lists are replaced, null deletes.
func patchedJob(base, fragment []byte) (*v1alpha1.SparkJob, error) {
	var b, f map[string]any
	if err := yaml.Unmarshal(base, &b); err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(fragment, &f); err != nil {
		return nil, err
	}
	merged, err := yaml.Marshal(mergePatch(b, f))
	if err != nil {
		return nil, err
	}
	var job v1alpha1.SparkJob
	if err := yaml.UnmarshalStrict(merged, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

func mergePatch(target, patch map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			tv, _ := target[k].(map[string]any)
			target[k] = mergePatch(tv, pv)
		default:
			target[k] = v
		}
	}
	return target
}

// findingLines prints findings as `sparkcd check` does.
func findingLines(findings []v1alpha1.Finding) []string {
	var lines []string
	for _, f := range findings {
		var b bytes.Buffer
		fmt.Fprintf(&b, "%-7s %s: %s: %s [policy %s]", f.Severity, f.Rule, f.Field, f.Message, f.Policy)
		lines = append(lines, b.String())
	}
	return lines
}
