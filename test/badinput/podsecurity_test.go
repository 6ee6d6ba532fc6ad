package badinput

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sparkcd/sparkcd/admission"
	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/policies"
	"github.com/sparkcd/sparkcd/render/build"
	"github.com/sparkcd/sparkcd/render/materialize"
)

// TestPodSecurityBadJobs judges each job of testdata/podsecurity, as
// check and both loops do, against a namespace that enforces baseline,
// one that enforces restricted, and the pod rules of an AllocationPolicy:
// each refusal names the file's job, the field and the broken check.
func TestPodSecurityBadJobs(t *testing.T) {
	set, err := policies.LoadFiles("testdata/podsecurity-policy/forbid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pods := mustSet(t, set)
	tests := []podSecurityCase{
		{file: "host-path-root", baseline: `spec.driver: this job would be refused by the namespace's ` + "`baseline`" + ` level: hostPath volumes (volume "root") in the driver pod`,
			restricted: `restricted volume types (volume "root" uses restricted volume type "hostPath")`,
			rules:      []string{"host-path-forbidden spec.volumes[0].hostPath", "image-registry spec.image"}},
		{file: "privileged", baseline: `spec.executor: this job would be refused by the namespace's ` + "`baseline`" + ` level: privileged (container "spark-kubernetes-executor" must not set securityContext.privileged=true)`,
			restricted: "privileged", rules: []string{"image-registry spec.image", "privileged-forbidden spec.executor.securityContext.privileged"}},
		{file: "host-network", baseline: `host namespaces (hostNetwork=true) in the driver pod`, restricted: `hostPort (container "spark-kubernetes-driver" uses hostPorts 4040, 7078, 7079)`,
			rules: []string{"host-network-forbidden spec.driver.hostNetwork", "image-registry spec.image"}},
		{file: "run-as-root", restricted: `runAsUser=0 (container "spark-kubernetes-driver" must not set runAsUser=0) in the driver pod`, rules: []string{"image-registry spec.image"}},
		{file: "capabilities", baseline: `non-default capabilities (container "spark-kubernetes-driver" must not include "SYS_ADMIN" in securityContext.capabilities.add)`,
			restricted: `unrestricted capabilities`, rules: []string{"image-registry spec.image"}},
	}
	entries, _ := filepath.Glob("testdata/podsecurity/*.yaml")
	for _, e := range entries {
		name := strings.TrimSuffix(filepath.Base(e), ".yaml")
		if !slices.ContainsFunc(files(tests), func(f string) bool { return f == name }) {
			t.Errorf("testdata/podsecurity/%s.yaml has no case", name)
		}
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			root, err := filepath.Abs("testdata/podsecurity")
			if err != nil {
				t.Fatal(err)
			}
			res, err := build.Build(t.Context(), root, tc.file+".yaml", build.DefaultBuildOptions())
			if err != nil || len(res.Jobs) != 1 {
				t.Fatalf("build: %v, %d jobs", err, len(res.Jobs))
			}
			j := &res.Jobs[0]
			for level, want := range map[string]string{"baseline": tc.baseline, "restricted": tc.restricted} {
				lv, err := admission.ParsePodSecurityLevel(level)
				if err != nil {
					t.Fatal(err)
				}
				v := admission.Built(j, admission.Options{Materialize: materialize.DefaultOptions(),
					PodSecurity: func(string) *admission.PodSecurityLevel {
						return &admission.PodSecurityLevel{LevelVersion: lv, Source: "the namespace's"}
					}})
				msgs := podSecurityMessages(v.Findings)
				if want == "" && msgs != "" || !strings.Contains(msgs, want) {
					t.Errorf("%s: pod-security findings\n%s\nwant one with %q", level, msgs, want)
				}
				if want != "" && v.Admitted() {
					t.Errorf("%s: admitted", level)
				}
			}
			v := admission.Built(j, admission.Options{Policies: pods, Materialize: materialize.DefaultOptions()})
			if diff := cmp.Diff(tc.rules, errorKeys(v.Findings)); diff != "" {
				t.Errorf("pod rules (-want +got):\n%s", diff)
			}
		})
	}
}

// podSecurityCase is one job of testdata/podsecurity: baseline and
// restricted are substrings of a pod-security finding at that level (""
// for none); rules are the pod rules' error findings, "rule field".
type podSecurityCase struct {
	file                 string
	baseline, restricted string
	rules                []string
}

func files(cases []podSecurityCase) []string {
	var out []string
	for _, c := range cases {
		out = append(out, c.file)
	}
	return out
}

// podSecurityMessages lists the pod-security findings, "field: message",
// one a line.
func podSecurityMessages(fs []v1alpha1.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		if f.Rule == admission.RulePodSecurity {
			b.WriteString(f.Field + ": " + f.Message + "\n")
		}
	}
	return b.String()
}

func mustSet(t *testing.T, ps []v1alpha1.AllocationPolicy) *policies.Set {
	t.Helper()
	s, err := policies.NewSet(ps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
