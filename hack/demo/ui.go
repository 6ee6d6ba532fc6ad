package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// startUI starts `sparkcd ui` on a free loopback port over the demo's
// kubeconfig, so that the runs can be watched in a browser while the demo
// goes on, and waits until its jobs page answers.
func (d *demo) startUI(ctx context.Context) error {
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	logFile, err := os.Create(d.path("logs", "ui.log"))
	if err != nil {
		return err
	}
	d.uiURL = "http://" + ports[0] + "/"
	// The UI answers only loopback Host headers; 127.0.0.1:PORT is one.
	d.ui = exec.Command(d.opts.sparkcd, "ui", "--kubeconfig", d.env.Kubeconfig, "-n", jobsNamespace,
		"--address", "127.0.0.1", "--port", portOf(ports[0]))
	d.ui.Stdout, d.ui.Stderr = logFile, logFile
	d.ui.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.ui.Start(); err != nil {
		return fmt.Errorf("unable to start sparkcd ui: %w", err)
	}
	d.uiDone = make(chan struct{})
	go func() { _ = d.ui.Wait(); _ = logFile.Close(); close(d.uiDone) }()
	if err := waitHTTP(ctx, d.uiURL+"jobs", d.uiDone); err != nil {
		return fmt.Errorf("sparkcd ui did not answer (log: %s): %w", d.path("logs", "ui.log"), err)
	}
	info("open %s in a browser to follow the runs (sparkcd ui, read-only, over the demo's kubeconfig)", d.uiURL)
	return nil
}

// stopUI stops `sparkcd ui` if it runs.
func (d *demo) stopUI() {
	if d.ui == nil || d.ui.Process == nil {
		return
	}
	_ = d.ui.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.uiDone:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-d.ui.Process.Pid, syscall.SIGKILL)
		<-d.uiDone
	}
	info("sparkcd ui stopped")
}

// hold keeps everything running after the summary until Ctrl-C, for
// `make demo HOLD=1`: the control plane, sparkcd serve and the UI.
func (d *demo) hold(ctx context.Context) {
	step("Holding: sparkcd ui at " + d.uiURL + " — Ctrl-C stops the demo")
	info("kubectl --kubeconfig %s get sparkjobs -A", d.env.Kubeconfig)
	<-ctx.Done()
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}
