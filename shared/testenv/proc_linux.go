package testenv

import "syscall"

// sysProcAttr makes the kernel kill the emulator when its starting thread exits.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
