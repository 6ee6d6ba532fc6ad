package testenv

import (
	"context"
	"fmt"
	"time"
)

// WithKWOK also starts kube-scheduler and KWOK (Kubernetes WithOut
// Kubelet, built by hack/build-kwok.sh), so pods are bound to fake nodes
// and moved through their phases by the KWOK Stage manifests in
// stageConfig, without a kubelet: what `make demo` runs. KWOK manages the
// nodes annotated kwok.x-k8s.io/node=fake; the caller creates them.
func WithKWOK(stageConfig string) Option {
	return func(o *options) { o.kwokConfig = stageConfig }
}

// startKWOK starts kube-scheduler, then KWOK, as the administrator. Neither
// serves anything the control plane needs: a start that did not exit in
// its first second is taken as running.
func (e *Env) startKWOK(ctx context.Context) error {
	kc := "--kubeconfig=" + e.Kubeconfig
	procs := []struct {
		name string
		args []string
	}{
		{"kube-scheduler", []string{kc, "--authentication-kubeconfig=" + e.Kubeconfig, "--authorization-kubeconfig=" + e.Kubeconfig,
			"--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0"}},
		{"kwok", []string{kc, "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
			"--config=" + e.opts.kwokConfig, "--cidr=10.244.0.0/16", "--node-ip=10.0.0.10",
			"--node-port=0", "--server-address=127.0.0.1:0"}},
	}
	for _, p := range procs {
		proc, err := startProcess(p.name, e.binary(p.name), p.args, e.logPath(p.name))
		if err != nil {
			return err
		}
		e.procs = append(e.procs, proc)
		select {
		case <-proc.done:
			return fmt.Errorf("'%s' exited at start (%v): %s", p.name, proc.waitErr, proc.logTail(20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return nil
}
