//go:build !linux

package testenv

import "syscall"

// sysProcAttr puts a control-plane process in its own process group, so a
// terminal's interrupt reaches only the test binary, which then stops it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
