package testenv

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"k8s.io/client-go/rest"
)

// The names the restartable processes have in Env.procs.
const (
	apiServerName = "kube-apiserver"
	etcdName      = "etcd"
)

// StopAPIServer kills kube-apiserver with SIGKILL, as a crash or a lost
// control-plane node would, and returns once it has exited. etcd and every
// other process keep running, so nothing stored is lost; clients see
// refused connections until StartAPIServer. It is meant for fault tests
// and, like Stop, must not be called concurrently with other methods that
// start or stop processes.
func (e *Env) StopAPIServer() error { return e.kill(apiServerName) }

// StartAPIServer starts kube-apiserver again after StopAPIServer, with the
// arguments it had — the same port, certificates and etcd — so that
// Config, Kubeconfig and every client built from them reconnect as they
// would to a restarted control plane. It returns once /readyz answers.
func (e *Env) StartAPIServer(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	p, err := e.restart(apiServerName)
	if err != nil {
		return err
	}
	return e.waitAPIServerReady(ctx, p)
}

// StopEtcd kills etcd with SIGKILL and returns once it has exited.
// kube-apiserver keeps running and answers every request that needs
// storage with an error, its watches on etcd broken, until StartEtcd. The
// data directory stays: etcd runs without fsync, but a killed process
// loses nothing the kernel already holds. Like StopAPIServer, it is meant
// for fault tests.
func (e *Env) StopEtcd() error { return e.kill(etcdName) }

// StartEtcd starts etcd again after StopEtcd, with the arguments it had —
// the same data directory and ports — and returns once etcd is healthy
// and, when kube-apiserver runs, once kube-apiserver's /readyz answers
// again: the apiserver reconnects to etcd and re-lists its watch caches by
// itself, which takes a few seconds on a loaded machine.
func (e *Env) StartEtcd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	p, err := e.restart(etcdName)
	if err != nil {
		return err
	}
	clientURL := argValue(p.cmd.Args, "--advertise-client-urls")
	if clientURL == "" {
		return fmt.Errorf("'%s' has no --advertise-client-urls to check its health on", etcdName)
	}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	if err := p.waitReady(ctx, func(ctx context.Context) error {
		return httpOK(ctx, client, clientURL+"/health")
	}); err != nil {
		return err
	}
	api, err := e.proc(apiServerName)
	if err != nil || api.exited() {
		return nil
	}
	return e.waitAPIServerReady(ctx, api)
}

// kill sends SIGKILL to the process group of the named process and waits
// until it has exited; a process that has already exited is no error.
func (e *Env) kill(name string) error {
	p, err := e.proc(name)
	if err != nil {
		return err
	}
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("unable to kill '%s': %w", p.name, err)
	}
	<-p.done
	return nil
}

// restart starts the named process again, after kill, with the path,
// arguments and log it had, in its place among the processes, so that
// Stop ends it in the right order.
func (e *Env) restart(name string) (*process, error) {
	i, err := e.procIndex(name)
	if err != nil {
		return nil, err
	}
	old := e.procs[i]
	if !old.exited() {
		return nil, fmt.Errorf("'%s' is still running: stop it first", name)
	}
	p, err := startProcess(name, old.cmd.Path, old.cmd.Args[1:], old.logPath)
	if err != nil {
		return nil, err
	}
	e.procs[i] = p
	return p, nil
}

// waitAPIServerReady waits until kube-apiserver's /readyz answers, which
// includes its check of etcd.
func (e *Env) waitAPIServerReady(ctx context.Context, p *process) error {
	client, err := rest.HTTPClientFor(e.Config)
	if err != nil {
		return fmt.Errorf("unable to build an HTTP client for the apiserver: %w", err)
	}
	defer client.CloseIdleConnections()
	return p.waitReady(ctx, func(ctx context.Context) error {
		return httpOK(ctx, client, e.Config.Host+"/readyz")
	})
}

// proc finds the named process.
func (e *Env) proc(name string) (*process, error) {
	i, err := e.procIndex(name)
	if err != nil {
		return nil, err
	}
	return e.procs[i], nil
}

// procIndex finds the named process among the processes.
func (e *Env) procIndex(name string) (int, error) {
	for i, p := range e.procs {
		if p.name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no '%s' in this control plane", name)
}

// argValue returns the value of a "--flag=value" argument, or "".
func argValue(args []string, flag string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return ""
}
