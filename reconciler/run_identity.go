package reconciler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// The job loop's side of per-source identity (identity_client.go): a
// run's driver pod, ConfigMap, Service and the rest are created as the
// service account the job's source applied the job as — so a tenant
// whose account may not create a pod (in a namespace, or with a field an
// admission policy forbids) gets no run — and, with
// --default-source-service-account, the runs of a job no source applied
// as that account in the job's namespace.

// ErrRunIdentityRefused is wrapped by the terminal error of a SparkJob
// whose runs would be created as a service account of another namespace.
var ErrRunIdentityRefused = errors.New("run identity refused")

// ReasonRunIdentityRefused: the job's AnnotationSourceServiceAccount
// names a service account outside the job's namespace, or none that can
// exist; no run starts (Stalled) until the source applies the job again.
const ReasonRunIdentityRefused = "RunIdentityRefused"

// runIdentity returns ctx for the writes of the job's runs, carrying the
// account they are created as, or an error when the job names an account
// its runs may not use.
func (r *JobReconciler) runIdentity(ctx context.Context, job *v1alpha1.SparkJob) (context.Context, error) {
	v, ok := job.Annotations[AnnotationSourceServiceAccount]
	if !ok {
		if name := r.opts.Identity.DefaultServiceAccount; name != "" {
			return withServiceAccount(ctx, serviceAccount{namespace: job.Namespace, name: name}), nil
		}
		return ctx, nil
	}
	sa, err := parseServiceAccount(v)
	if err == nil && sa.namespace != job.Namespace {
		err = fmt.Errorf("service account '%s' is not in the job's namespace '%s': a run's objects are created only as a service account of their own namespace", sa, job.Namespace)
	}
	if err != nil {
		return ctx, reconcile.TerminalError(fmt.Errorf("%w: annotation %s: %w", ErrRunIdentityRefused, AnnotationSourceServiceAccount, err))
	}
	return withServiceAccount(ctx, sa), nil
}

// parseServiceAccount reads "<namespace>/<name>".
func parseServiceAccount(v string) (serviceAccount, error) {
	ns, name, ok := strings.Cut(v, "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return serviceAccount{}, fmt.Errorf("'%s' is not '<namespace>/<service account>'", v)
	}
	return serviceAccount{namespace: ns, name: name}, nil
}

// retryReason is the Ready reason of a SparkJob whose reconcile failed
// and is retried: ImpersonationForbidden when the API server refused a
// write of a run to its source's service account — the account may not
// create the pod (in that namespace, or with a field an admission policy
// refuses) — until its RBAC or the job changes.
func retryReason(err error) string {
	var ie *ImpersonationError
	if errors.As(err, &ie) {
		return ReasonImpersonationForbidden
	}
	return meta.ReconciliationFailedReason
}
