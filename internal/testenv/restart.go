package testenv

import (
	"context"
	"fmt"
	"syscall"

	"k8s.io/client-go/rest"
)

// apiServerName is the name kube-apiserver's process has in Env.procs.
const apiServerName = "kube-apiserver"

// StopAPIServer kills kube-apiserver with SIGKILL, as a crash or a lost
// control-plane node would, and returns once it has exited. etcd and every
// other process keep running, so nothing stored is lost; clients see
// refused connections until StartAPIServer. It is meant for fault tests
// and, like Stop, must not be called concurrently with other methods that
// start or stop processes.
func (e *Env) StopAPIServer() error {
	i, err := e.apiServerIndex()
	if err != nil {
		return err
	}
	p := e.procs[i]
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("unable to kill '%s': %w", p.name, err)
	}
	<-p.done
	return nil
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, with the
// arguments it had — the same port, certificates and etcd — so that
// Config, Kubeconfig and every client built from them reconnect as they
// would to a restarted control plane. It returns once /readyz answers.
func (e *Env) StartAPIServer(ctx context.Context) error {
	i, err := e.apiServerIndex()
	if err != nil {
		return err
	}
	old := e.procs[i]
	if !old.exited() {
		return fmt.Errorf("'%s' is still running: stop it first", apiServerName)
	}
	p, err := startProcess(apiServerName, old.cmd.Path, old.cmd.Args[1:], old.logPath)
	if err != nil {
		return err
	}
	e.procs[i] = p
	client, err := rest.HTTPClientFor(e.Config)
	if err != nil {
		return fmt.Errorf("unable to build an HTTP client for the apiserver: %w", err)
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return p.waitReady(ctx, func(ctx context.Context) error {
		return httpOK(ctx, client, e.Config.Host+"/readyz")
	})
}

// apiServerIndex finds kube-apiserver among the processes.
func (e *Env) apiServerIndex() (int, error) {
	for i, p := range e.procs {
		if p.name == apiServerName {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no '%s' in this control plane", apiServerName)
}
