package freeport_test

import (
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/freeport"
)

// The ports are distinct, bindable on 127.0.0.1, below the kernel's
// ephemeral range, and a second call does not hand them out again.
func TestPortsBelowEphemeralRange(t *testing.T) {
	low := 32768
	// Read here, not through the package: the bound is the kernel's.
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 21000 {
				low = n
			}
		}
	}
	a, err := freeport.Ports(5)
	if err != nil {
		t.Fatal(err)
	}
	b, err := freeport.Ports(5)
	if err != nil {
		t.Fatal(err)
	}
	all := append(slices.Clone(a), b...)
	for _, p := range all {
		if p < 20000 || p >= low {
			t.Errorf("port %d outside 20000-%d", p, low)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d: %v", p, err)
			continue
		}
		l.Close()
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != 10 {
		t.Errorf("ports repeat: %v then %v", a, b)
	}
}
