package admission

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/decryption"
)

// Reference is a ConfigMap or Secret a job needs to start: mounted, read
// into the environment, or used to pull its image.
type Reference struct {
	// Kind is "ConfigMap" or "Secret".
	Kind string
	// Name of the object, in the job's namespace.
	Name string
	// Field is where the job names it, such as "spec.volumes[0].secret.secretName".
	Field string
}

// References lists the ConfigMaps and Secrets job needs, in field order.
// A reference marked optional is not listed: the pod starts without it.
func References(job *v1alpha1.SparkJob) []Reference {
	var out []Reference
	add := func(kind, name, field string, optional *bool) {
		if name != "" && (optional == nil || !*optional) {
			out = append(out, Reference{Kind: kind, Name: name, Field: field})
		}
	}
	s := &job.Spec
	if s.SparkConfigMap != nil {
		add("ConfigMap", *s.SparkConfigMap, "spec.sparkConfigMap", nil)
	}
	if s.HadoopConfigMap != nil {
		add("ConfigMap", *s.HadoopConfigMap, "spec.hadoopConfigMap", nil)
	}
	for i, name := range s.ImagePullSecrets {
		add("Secret", name, fmt.Sprintf("spec.imagePullSecrets[%d]", i), nil)
	}
	for i := range s.Volumes {
		volumeReferences(&s.Volumes[i], fmt.Sprintf("spec.volumes[%d]", i), add)
	}
	for _, p := range []struct {
		field string
		pod   *v1alpha1.SparkPodSpec
	}{{"spec.driver", &s.Driver.SparkPodSpec}, {"spec.executor", &s.Executor.SparkPodSpec}} {
		for i, c := range p.pod.ConfigMaps {
			add("ConfigMap", c.Name, fmt.Sprintf("%s.configMaps[%d].name", p.field, i), nil)
		}
		for i, sec := range p.pod.Secrets {
			add("Secret", sec.Name, fmt.Sprintf("%s.secrets[%d].name", p.field, i), nil)
		}
		for i, e := range p.pod.EnvFrom {
			f := fmt.Sprintf("%s.envFrom[%d]", p.field, i)
			if e.ConfigMapRef != nil {
				add("ConfigMap", e.ConfigMapRef.Name, f+".configMapRef.name", e.ConfigMapRef.Optional)
			}
			if e.SecretRef != nil {
				add("Secret", e.SecretRef.Name, f+".secretRef.name", e.SecretRef.Optional)
			}
		}
		for i, e := range p.pod.Env {
			if e.ValueFrom == nil {
				continue
			}
			f := fmt.Sprintf("%s.env[%d].valueFrom", p.field, i)
			if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
				add("ConfigMap", r.Name, f+".configMapKeyRef.name", r.Optional)
			}
			if r := e.ValueFrom.SecretKeyRef; r != nil {
				add("Secret", r.Name, f+".secretKeyRef.name", r.Optional)
			}
		}
	}
	return out
}

func volumeReferences(v *corev1.Volume, field string, add func(kind, name, field string, optional *bool)) {
	if v.ConfigMap != nil {
		add("ConfigMap", v.ConfigMap.Name, field+".configMap.name", v.ConfigMap.Optional)
	}
	if v.Secret != nil {
		add("Secret", v.Secret.SecretName, field+".secret.secretName", v.Secret.Optional)
	}
	if v.Projected == nil {
		return
	}
	for i, src := range v.Projected.Sources {
		f := fmt.Sprintf("%s.projected.sources[%d]", field, i)
		if src.ConfigMap != nil {
			add("ConfigMap", src.ConfigMap.Name, f+".configMap.name", src.ConfigMap.Optional)
		}
		if src.Secret != nil {
			add("Secret", src.Secret.Name, f+".secret.name", src.Secret.Optional)
		}
	}
}

// Exists tells whether a ConfigMap or Secret exists in the cluster; an
// error means the cluster could not say.
type Exists func(kind, namespace, name string) (bool, error)

// MissingReferences returns a missing-reference warning for each ConfigMap
// or Secret job needs that none of the admitted supporting objects is and,
// when exists is set, the cluster does not hold either. Offline (exists
// nil) the warning says the object must exist in the cluster. An error of
// exists is returned: the loop retries rather than guess.
func MissingReferences(job *v1alpha1.SparkJob, objs []ObjectVerdict, exists Exists) ([]v1alpha1.Finding, error) {
	inGit := map[string]bool{}
	for i := range objs {
		o := &objs[i]
		if o.Group == "" && o.Admitted() {
			inGit[o.Kind+"/"+o.Namespace+"/"+o.Name] = true
		}
	}
	var out []v1alpha1.Finding
	seen := map[string]bool{}
	for _, ref := range References(job) {
		key := ref.Kind + "/" + job.Namespace + "/" + ref.Name
		if inGit[key] || seen[key] {
			continue
		}
		msg := fmt.Sprintf("%s '%s' is not in this path; it must exist in namespace '%s' before the job runs, or the driver does not start",
			ref.Kind, ref.Name, job.Namespace)
		if exists != nil {
			ok, err := exists(ref.Kind, job.Namespace, ref.Name)
			if err != nil {
				return nil, err
			}
			if ok {
				continue
			}
			msg = fmt.Sprintf("%s '%s' is neither in this path nor in namespace '%s': the driver does not start until it exists",
				ref.Kind, ref.Name, job.Namespace)
		}
		seen[key] = true
		out = append(out, v1alpha1.Finding{Severity: v1alpha1.SeverityWarning, Rule: RuleMissingReference, Field: ref.Field, Message: msg})
	}
	return out, nil
}

// UndecryptedReferences returns an error finding for each ConfigMap or
// Secret job (in namespace) needs that the same path holds encrypted and
// that could not be decrypted: the job would start without it, or with
// the values of an older revision, so it is held back like the object.
// Jobs that do not read it go on.
func UndecryptedReferences(job *v1alpha1.SparkJob, namespace string, out *decryption.Outcome) []v1alpha1.Finding {
	if out == nil || len(out.Failed) == 0 || job == nil {
		return nil
	}
	var findings []v1alpha1.Finding
	for _, ref := range References(job) {
		if why := out.Failure(ref.Kind, namespace, ref.Name); why != "" {
			findings = append(findings, v1alpha1.Finding{Severity: v1alpha1.SeverityError, Rule: decryption.RuleDecryptionFailed, Field: ref.Field,
				Message: fmt.Sprintf("the job reads %s '%s', which is not applied: %s", ref.Kind, ref.Name, why)})
		}
	}
	return findings
}
