package reconciler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fluxcd/pkg/apis/meta"
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

// ReasonRunIdentityRefused: the source that lists the job writes as a
// service account outside the job's namespace; no run starts (Stalled)
// until the job or the source changes.
const ReasonRunIdentityRefused = "RunIdentityRefused"

// runIdentity returns ctx for the writes of the job's runs, carrying the
// account they are created as, or an error when that account may not
// create them. The account is that of the JobSource whose inventory lists
// the job (rc.listedBy), as the source loop applied the job with it — its
// spec.serviceAccountName, or --default-source-service-account — never the
// job's own sparkcd.io/source-service-account annotation, which whoever
// may patch the job could remove or point elsewhere; that annotation only
// tells people. A job no source lists runs as the default account of its
// namespace, or as sparkcd.
func (r *JobReconciler) runIdentity(ctx context.Context, rc *reconciliation) (context.Context, error) {
	job := rc.job
	def := r.opts.Identity.DefaultServiceAccount
	if len(rc.listedBy) == 0 {
		if def != "" {
			return withServiceAccount(ctx, serviceAccount{namespace: job.Namespace, name: def}), nil
		}
		return ctx, nil
	}
	l := rc.listedBy[0]
	name := cmp.Or(l.serviceAccount, def)
	if name == "" {
		return ctx, nil
	}
	ns, _, _ := strings.Cut(l.source, "/")
	sa := serviceAccount{namespace: ns, name: name}
	if sa.namespace != job.Namespace {
		err := fmt.Errorf("service account '%s' of JobSource '%s' is not in the job's namespace '%s': a run's objects are created only as a service account of their own namespace", sa, l.source, job.Namespace)
		return ctx, reconcile.TerminalError(fmt.Errorf("%w: %w", ErrRunIdentityRefused, err))
	}
	return withServiceAccount(ctx, sa), nil
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
