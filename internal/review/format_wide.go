package review

import (
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	kruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/sparkcd/sparkcd/runid"
)

// JobResource is how -o name names a SparkJob, as kubectl names a
// resource type with its group.
const JobResource = "sparkjob.sparkcd.io"

// writeNames writes one RESOURCE/NAMESPACE/NAME per job of the report, as
// kubectl's -o name does, with the namespace since a path may hold jobs of
// many: the list a script feeds to the next command.
func (r *Report) writeNames(w io.Writer) error {
	for _, j := range r.Jobs {
		if j.Name != "" {
			if _, err := fmt.Fprintf(w, "%s/%s/%s\n", JobResource, j.Namespace, j.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// wideColumns are what -o wide adds to a job's line: the kind it was
// written as, the unit that was built, the run it would start and the
// number of policy defaults it took.
func (j *JobReport) wideColumns(wide bool) string {
	if !wide {
		return ""
	}
	run := "-"
	if j.Job != nil {
		run = runid.OfflineRun(j.Job, "").Name
	}
	return fmt.Sprintf("  kind=%s unit=%s run=%s defaults=%d", orDash(j.Origin.Kind), orDash(j.Origin.Unit), run, len(j.Defaults))
}

// writeNames writes one RESOURCE/NAMESPACE/NAME per job the change adds,
// removes or changes.
func (d *DiffReport) writeNames(w io.Writer) error {
	for _, j := range d.Jobs {
		if j.Change == Unchanged {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s/%s/%s\n", JobResource, j.Namespace, j.Name); err != nil {
			return err
		}
	}
	return nil
}

// wideColumns are what -o wide adds to a changed job's line: the run the
// job starts at each side (its name carries the spec hash).
func (j *JobChange) wideColumns(wide bool) string {
	if !wide {
		return ""
	}
	return fmt.Sprintf("  run %s → %s", runAt(j.Name, j.SpecHashFrom), runAt(j.Name, j.SpecHashTo))
}

// runAt is the commit run's name of a spec hash, "-" for none.
func runAt(job, hash string) string {
	if hash == "" {
		return "-"
	}
	return runid.RunName(job, runid.Short(hash))
}

// writeObjectNames writes one RESOURCE/NAMESPACE/NAME per object (render
// -o name): the resource is the lower-case kind with its group, as kubectl
// prints it.
func writeObjectNames(w io.Writer, objs []kruntime.Object) error {
	for _, o := range objs {
		gvk := o.GetObjectKind().GroupVersionKind()
		res := strings.ToLower(gvk.Kind)
		if gvk.Group != "" {
			res += "." + gvk.Group
		}
		acc, err := meta.Accessor(o)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s/%s/%s\n", res, acc.GetNamespace(), acc.GetName()); err != nil {
			return err
		}
	}
	return nil
}
