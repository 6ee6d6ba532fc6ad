package policies

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
	"github.com/sparkcd/sparkcd/render/sparkconf"
)

// Pod rules judge the job's own fields (spec.volumes, each role's
// hostNetwork, securityContext, image, init and sidecar containers, and its
// pod template), so that a finding names the field to fix. The Pod Security
// level (spec.podSecurity) judges the rendered pods instead: admission does
// that.

func podRules(c *compiled) *v1alpha1.PodRules {
	if c.rules.Pods == nil {
		return &v1alpha1.PodRules{}
	}
	return c.rules.Pods
}

// role is the driver's or the executors' part of a job.
type role struct {
	name string
	pod  *v1alpha1.SparkPodSpec
}

func roles(job *v1alpha1.SparkJob) []role {
	return []role{{"driver", &job.Spec.Driver.SparkPodSpec}, {"executor", &job.Spec.Executor.SparkPodSpec}}
}

// namedContainer is a container of a role and the field it sits at.
type namedContainer struct {
	field string
	c     *corev1.Container
}

// containersOf are a role's init and sidecar containers and its
// template's containers.
func containersOf(base string, p *v1alpha1.SparkPodSpec) []namedContainer {
	var out []namedContainer
	add := func(field string, cs []corev1.Container) {
		for i := range cs {
			out = append(out, namedContainer{fmt.Sprintf("%s[%d]", field, i), &cs[i]})
		}
	}
	add(base+".initContainers", p.InitContainers)
	add(base+".sidecars", p.Sidecars)
	if t := p.Template; t != nil {
		add(base+".template.spec.initContainers", t.Spec.InitContainers)
		add(base+".template.spec.containers", t.Spec.Containers)
	}
	return out
}

func checkHostPath(_ *compiled, f *facts) ([]violation, error) {
	var out []violation
	hostPaths := func(field string, vols []corev1.Volume) {
		for i, v := range vols {
			if v.HostPath != nil {
				out = append(out, violation{fmt.Sprintf("%s[%d].hostPath", field, i),
					fmt.Sprintf("volume '%s' mounts the node's path '%s': hostPath volumes are forbidden", v.Name, v.HostPath.Path)})
			}
		}
	}
	hostPaths("spec.volumes", f.job.Spec.Volumes)
	for _, r := range roles(f.job) {
		if t := r.pod.Template; t != nil {
			hostPaths("spec."+r.name+".template.spec.volumes", t.Spec.Volumes)
		}
	}
	return out, nil
}

func checkHostNetwork(_ *compiled, f *facts) ([]violation, error) {
	var out []violation
	for _, r := range roles(f.job) {
		base := "spec." + r.name
		if h := r.pod.HostNetwork; h != nil && *h {
			out = append(out, violation{base + ".hostNetwork", "the " + r.name + " asks for the node's network (hostNetwork: true): host networking is forbidden"})
		}
		if t := r.pod.Template; t != nil && t.Spec.HostNetwork {
			out = append(out, violation{base + ".template.spec.hostNetwork", "the " + r.name + "'s pod template asks for the node's network (hostNetwork: true): host networking is forbidden"})
		}
	}
	return out, nil
}

func checkPrivileged(_ *compiled, f *facts) ([]violation, error) {
	var out []violation
	privileged := func(field, what string, sc *corev1.SecurityContext) {
		if sc != nil && sc.Privileged != nil && *sc.Privileged {
			out = append(out, violation{field + ".privileged", what + " is privileged: privileged containers are forbidden"})
		}
	}
	for _, r := range roles(f.job) {
		privileged("spec."+r.name+".securityContext", "the "+r.name+" container", r.pod.SecurityContext)
		for _, nc := range containersOf("spec."+r.name, r.pod) {
			privileged(nc.field+".securityContext", "container '"+nc.c.Name+"'", nc.c.SecurityContext)
		}
	}
	return out, nil
}

func checkImageRegistry(c *compiled, f *facts) ([]violation, error) {
	allowed := podRules(c).AllowedImageRegistries
	var out []violation
	image := func(field, img string) {
		if img == "" {
			return
		}
		if ok, why := imageAllowed(img, allowed); !ok {
			out = append(out, violation{field, fmt.Sprintf("image '%s' %s: allowed registries are '%s'", img, why, strings.Join(allowed, "', '"))})
		}
	}
	s := &f.job.Spec
	if s.Image != nil {
		image("spec.image", *s.Image)
	}
	for _, key := range []string{sparkconf.KeyContainerImage, sparkconf.KeyDriverContainerImage, sparkconf.KeyExecutorContainerImage} {
		image(fmt.Sprintf("spec.sparkConf[%s]", key), s.SparkConf[key])
	}
	for _, r := range roles(f.job) {
		if r.pod.Image != nil {
			image("spec."+r.name+".image", *r.pod.Image)
		}
		for _, nc := range containersOf("spec."+r.name, r.pod) {
			image(nc.field+".image", nc.c.Image)
		}
	}
	return out, nil
}

// imageAllowed reports whether img comes from one of the allowed
// registries or registry/path prefixes, with docker's normalisation: an
// image without a registry is from docker.io.
func imageAllowed(img string, allowed []string) (bool, string) {
	named, err := reference.ParseNormalizedNamed(img)
	if err != nil {
		return false, "is no image reference (" + err.Error() + ")"
	}
	name := named.Name() // registry/path, without tag or digest
	if slices.ContainsFunc(allowed, func(a string) bool {
		a = strings.TrimSuffix(a, "/")
		return name == a || strings.HasPrefix(name, a+"/")
	}) {
		return true, ""
	}
	return false, "comes from registry '" + reference.Domain(named) + "'"
}
