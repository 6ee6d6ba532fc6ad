package review

import (
	"encoding/base64"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
	"github.com/sparkcd/sparkcd/render/build"
)

// ObjectReport is what the review says of one supporting object: a
// ConfigMap, Secret, ServiceAccount… beside the jobs of the path.
type ObjectReport struct {
	admission.ObjectVerdict
	// Source is "file:line" of the object, or the file alone when the line
	// is not known (a generated object).
	Source string
}

// judgeObjects judges the supporting objects of a build and adds to each
// job's verdict a missing-reference warning for every ConfigMap or Secret
// it needs that the path does not hold. Offline, the cluster is unknown:
// the warning says the object must exist there.
func (r *Report) judgeObjects(res *build.BuildResult, opts Options, decrypted *decryption.Outcome) {
	verdicts := admission.Objects(res.Objects, admission.ObjectOptions{Kinds: opts.SupportingKinds, Decryption: decrypted})
	for i := range r.Jobs {
		j := &r.Jobs[i]
		if j.Job == nil {
			continue
		}
		missing, _ := admission.MissingReferences(j.Job, verdicts, nil)
		j.Findings = append(j.Findings, missing...)
	}
	if opts.Job != "" {
		return
	}
	for _, v := range verdicts {
		src := v.Origin.File
		if v.Line > 0 {
			src = fmt.Sprintf("%s:%d", src, v.Line)
		}
		r.Objects = append(r.Objects, ObjectReport{ObjectVerdict: v, Source: src})
	}
}

// SupportingObjects returns the supporting objects that would be applied,
// Secrets redacted (Redacted), in apply order: before the jobs.
func (r *Report) SupportingObjects() []kruntime.Object {
	var out []kruntime.Object
	for i := range r.Objects {
		if o := &r.Objects[i]; o.Admitted() {
			out = append(out, Redacted(o.Object.Object))
		}
	}
	return out
}

// Redacted returns a copy of obj safe to print: for a Secret, every value
// of data and stringData is replaced by "<redacted: N bytes>" (an
// encrypted one stays decryption.Placeholder) and the
// kubectl last-applied-configuration annotation, which holds them too, is
// dropped. Other objects are returned as copies.
func Redacted(obj *unstructured.Unstructured) *unstructured.Unstructured {
	out := obj.DeepCopy()
	gvk := out.GroupVersionKind()
	if gvk.Group != "" || gvk.Kind != "Secret" {
		return out
	}
	for _, field := range []string{"data", "stringData"} {
		m, ok := out.Object[field].(map[string]any)
		if !ok {
			if _, present := out.Object[field]; present {
				out.Object[field] = "<redacted>"
			}
			continue
		}
		for k, v := range m {
			if v == decryption.Placeholder {
				continue
			}
			n := 0
			if s, ok := v.(string); ok {
				n = len(s)
				if field == "data" {
					if b, err := base64.StdEncoding.DecodeString(s); err == nil {
						n = len(b)
					}
				}
			}
			m[k] = fmt.Sprintf("<redacted: %d bytes>", n)
		}
	}
	if a := out.GetAnnotations(); a != nil {
		if _, ok := a["kubectl.kubernetes.io/last-applied-configuration"]; ok {
			delete(a, "kubectl.kubernetes.io/last-applied-configuration")
			out.SetAnnotations(a)
		}
	}
	return out
}

// objectTitle is "Kind namespace/name", the kind qualified by its group
// outside the core group.
func objectTitle(o *ObjectReport) string {
	return fmt.Sprintf("%s %s/%s", v1alpha1.SupportingKind{Group: o.Group, Kind: o.Kind}, o.Namespace, o.Name)
}

func objectStatus(o *ObjectReport) string {
	switch {
	case admission.Count(o.Findings, v1alpha1.SeverityError) > 0:
		return "FAIL"
	case len(o.Findings) > 0:
		return "warn"
	}
	return "ok"
}

// writeObjectsText lists the supporting objects, as writeText lists jobs.
func (r *Report) writeObjectsText(w io.Writer) {
	for i := range r.Objects {
		o := &r.Objects[i]
		fmt.Fprintf(w, "%-4s %s  (%s)\n", objectStatus(o), objectTitle(o), o.Source)
		for _, f := range o.Findings {
			fmt.Fprintf(w, "     %-7s %s: %s: %s\n", f.Severity, f.Rule, orDash(f.Field), f.Message)
		}
	}
}

// writeObjectsGitHub writes one annotation per finding of an object, at
// the line of its document.
func (r *Report) writeObjectsGitHub(w io.Writer) {
	for i := range r.Objects {
		o := &r.Objects[i]
		for _, f := range o.Findings {
			level := "error"
			if f.Severity == v1alpha1.SeverityWarning {
				level = "warning"
			}
			line := max(o.Line, 1)
			fmt.Fprintf(w, "::%s file=%s,line=%d,title=%s::%s\n", level, ghProperty(o.Origin.File), line,
				ghProperty(fmt.Sprintf("%s (%s)", f.Rule, objectTitle(o))), ghData(f.Message))
		}
	}
}

// writeObjectsMarkdown writes a table of the supporting objects.
func (r *Report) writeObjectsMarkdown(w io.Writer) {
	if len(r.Objects) == 0 {
		return
	}
	fmt.Fprintln(w, "\n#### Supporting objects")
	fmt.Fprintln(w, "\n| | Object | Source | Findings |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for i := range r.Objects {
		o := &r.Objects[i]
		icon := map[string]string{"ok": "✅", "warn": "⚠️", "FAIL": "❌"}[objectStatus(o)]
		findings := "–"
		for k, f := range o.Findings {
			if k == 0 {
				findings = ""
			} else {
				findings += "<br>"
			}
			findings += fmt.Sprintf("%s `%s`: %s", f.Severity, f.Rule, mdEscape(f.Message))
		}
		fmt.Fprintf(w, "| %s | `%s` | %s | %s |\n", icon, objectTitle(o), mdEscape(o.Source), findings)
	}
}

// jsonObject is one supporting object in `check -o json`.
type jsonObject struct {
	Group     string        `json:"group"`
	Kind      string        `json:"kind"`
	Name      string        `json:"name"`
	Namespace string        `json:"namespace"`
	Source    string        `json:"source"`
	Line      int           `json:"line"`
	Applied   bool          `json:"applied"`
	Findings  []jsonFinding `json:"findings"`
}

func (r *Report) jsonObjects() []jsonObject {
	var out []jsonObject
	for i := range r.Objects {
		o := &r.Objects[i]
		jo := jsonObject{Group: o.Group, Kind: o.Kind, Name: o.Name, Namespace: o.Namespace, Source: o.Origin.File,
			Line: o.Line, Applied: o.Admitted(), Findings: []jsonFinding{}}
		for _, f := range o.Findings {
			jo.Findings = append(jo.Findings, jsonFinding(f))
		}
		out = append(out, jo)
	}
	return out
}
