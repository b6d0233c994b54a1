package dataset

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// memoryShare is the part of the available memory DuckDB may use by default;
// the rest is for the Go heap, the SDK's buffers and the OS page cache.
const memoryShare = 0.6

// DefaultThreads is the number of DuckDB threads used when Options.Threads is
// 0: GOMAXPROCS, which follows the CPU quota of the cgroup.
func DefaultThreads() int { return runtime.GOMAXPROCS(0) }

// EnvMemoryLimit names the environment variable that sets DuckDB's memory
// limit outright, in MiB (for example 2048), above every default.
const EnvMemoryLimit = "STEPWISE_MEMORY_MB"

func envMemoryLimit() (int64, bool) {
	mb, err := strconv.ParseInt(strings.TrimSpace(os.Getenv(EnvMemoryLimit)), 10, 64)
	if err != nil || mb <= 0 {
		return 0, false
	}
	return mb << 20, true
}

// DefaultMemoryLimit is the DuckDB memory limit used when
// Options.MemoryLimit is 0: a share of the smallest of the machine's memory,
// the cgroup limit and the Lambda function's memory size
// (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, MB). 0 when none is known (DuckDB then
// uses its own default).
func DefaultMemoryLimit() int64 {
	if n, ok := envMemoryLimit(); ok {
		return n
	}
	avail := int64(0)
	consider := func(n int64) {
		if n > 0 && (avail == 0 || n < avail) {
			avail = n
		}
	}
	consider(memTotal())
	consider(readLimit("/sys/fs/cgroup/memory.max"))                   // cgroup v2
	consider(readLimit("/sys/fs/cgroup/memory/memory.limit_in_bytes")) // cgroup v1
	if mb, err := strconv.ParseInt(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 10, 64); err == nil {
		consider(mb << 20)
	}
	if avail == 0 {
		return 0
	}
	return max(int64(float64(avail)*memoryShare), 64<<20)
}

// memTotal reads MemTotal from /proc/meminfo (Linux); 0 elsewhere.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// readLimit reads a cgroup memory limit in bytes; 0 when absent or unlimited
// ("max", or the huge v1 default).
func readLimit(file string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}
