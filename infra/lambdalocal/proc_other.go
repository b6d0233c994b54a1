//go:build !linux

package lambdalocal

import (
	"errors"
	"os"
	"syscall"
	"time"
)

func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func treeCPU(int) time.Duration { return 0 }

func fsUsage(string) (int64, int64, error) {
	return 0, 0, errors.New("lambdalocal: file system usage needs Linux")
}
