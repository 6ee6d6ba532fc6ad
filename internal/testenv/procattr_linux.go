package testenv

import "syscall"

// sysProcAttr puts a control-plane process in its own process group, so a
// terminal's interrupt reaches only the test binary, and asks the kernel to
// kill it when the test binary dies for any reason (a timeout panic, a
// SIGKILL), so no process outlives the test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
