package lambdalocal

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sysProcAttr puts a child in its own process group (so Close can end the
// bootstrap RIE started too) and has the kernel kill it with its parent.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup ends a child's process group and its other descendants (RIE
// starts the bootstrap in a process group of its own).
func killGroup(pid int) {
	tree := procTree(pid)
	syscall.Kill(-pid, syscall.SIGKILL)
	for _, p := range tree {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

type procStat struct {
	pid, ppid int
	cpu       int64 // utime + stime, in clock ticks
}

// procTree returns pid and its live descendants, read from /proc.
func procTree(pid int) []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	byParent := map[int][]procStat{}
	var self *procStat
	for _, e := range ents {
		id, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command (which may hold spaces) follow ')':
		// state, ppid, pgrp, ... utime (14th field), stime (15th).
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		p := procStat{pid: id, ppid: ppid, cpu: u + st}
		if id == pid {
			self = &p
		}
		byParent[ppid] = append(byParent[ppid], p)
	}
	if self == nil {
		return nil
	}
	out := []procStat{*self}
	for i := 0; i < len(out); i++ {
		out = append(out, byParent[out[i].pid]...)
	}
	return out
}

// treeCPU is the CPU time (user + system) used so far by pid and its live
// descendants.
func treeCPU(pid int) time.Duration {
	var ticks int64
	for _, p := range procTree(pid) {
		ticks += p.cpu
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on Linux.
const clockTicks = 100

// fsUsage returns the bytes used and the size of the file system of dir.
func fsUsage(dir string) (used, size int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}
