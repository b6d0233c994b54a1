// Package freeport picks loopback ports for servers started later (the
// local emulators, and the tests' servers): free when picked, and outside
// the range the kernel gives connections' source ports.
package freeport

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Ports returns n distinct free TCP ports of 127.0.0.1, below the kernel's
// ephemeral range: a port the kernel hands out (":0") may be handed out
// again as the source port of a client connection between the check and a
// server's bind (an emulator whose runtime API cannot bind fails every
// invocation at once). Candidates start at a per-process
// offset so that test binaries running side by side rarely try the same.
func Ports(n int) ([]int, error) {
	portMu.Lock()
	defer portMu.Unlock()
	lo, hi := 20000, ephemeralLow()
	if portNext == 0 {
		portNext = lo + (os.Getpid()*397)%(hi-lo)
	}
	var ports []int
	for tries := 0; len(ports) < n && tries < hi-lo; tries++ {
		p := portNext
		if portNext++; portNext >= hi {
			portNext = lo
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue // in use
		}
		l.Close()
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("no free port of 127.0.0.1 in %d-%d", lo, hi)
	}
	return ports, nil
}

var (
	portMu   sync.Mutex
	portNext int
)

// ephemeralLow is the first port of the kernel's ephemeral range (Linux;
// 32768 elsewhere or when it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		if n, err := strconv.Atoi(f[0]); err == nil && n > 21000 {
			return n
		}
	}
	return 32768
}
