// Command small measures a small campaign end to end: bench/small/small.yaml
// (eight activities: build audience, enrichment, deduplication, split, two
// emails, a saved audience, an end) over `stepwise sample-data --customers N`
// (20,000 by default), where the fixed cost of each activity, not the data
// work, sets the run time.
//
//	go run ./bench/small [--customers 20000] [--repeat 5] [--live] [--bin PATH]
//
// Each run is `stepwise run small.yaml --json --wait skip --test` on a fresh
// home, a child process: wall time, CPU time (user+sys) and peak RSS (VmHWM,
// polled). It prints every run and the fastest, and a digest of the run's
// transitions (the Parquet part files of every output port; plans and
// outcome parts hold run-specific ids and are left out), equal between
// builds that write the same bytes.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/bench/procstat"
)

func main() {
	customers := flag.Int("customers", 20000, "sample customers")
	repeat := flag.Int("repeat", 5, "runs; the fastest counts")
	live := flag.Bool("live", false, "live mode (sends into the outbox) instead of test mode")
	out := flag.String("out", "bench/out", "work folder (data is generated once per size and reused)")
	bin := flag.String("bin", "", "a stepwise binary to measure (default: build ./cmd/stepwise)")
	flag.Parse()
	if err := run(*customers, max(*repeat, 1), *live, *out, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "small:", err)
		os.Exit(1)
	}
}

type measured struct {
	Wall, CPU time.Duration
	RSS       int64
}

func run(customers, repeat int, live bool, out, bin string) error {
	dir, err := filepath.Abs(filepath.Join(out, fmt.Sprintf("small-%d", customers)))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		return err
	}
	if bin == "" {
		bin = filepath.Join(dir, "stepwise")
		fmt.Fprintln(os.Stderr, "building stepwise …")
		if b, err := exec.Command("go", "build", "-o", bin, "./cmd/stepwise").CombinedOutput(); err != nil {
			return fmt.Errorf("build: %v\n%s", err, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "catalog.yaml")); err != nil {
		fmt.Fprintf(os.Stderr, "generating %d customers …\n", customers)
		if b, err := exec.Command(bin, "sample-data", "--out", dir, "--customers", strconv.Itoa(customers)).CombinedOutput(); err != nil {
			return fmt.Errorf("sample-data: %v\n%s", err, b)
		}
	}
	for src, dst := range map[string]string{"bench/small/small.yaml": "small.yaml", "examples/templates/reference.html": "templates/reference.html"} {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			return err
		}
	}
	home := filepath.Join(dir, "home")
	args := []string{"run", filepath.Join(dir, "small.yaml"), "--json", "--wait", "skip", "--home", home}
	mode := "live"
	if !live {
		args, mode = append(args, "--test"), "test"
	}
	var best measured
	var digest string
	fmt.Printf("%d customers, %s mode: stepwise %s\n", customers, mode, strings.Join(args, " "))
	for i := 0; i < repeat; i++ {
		os.RemoveAll(home)
		m, stdout, err := measure(bin, args...)
		if err != nil {
			return fmt.Errorf("run %d: %v\n%s", i+1, err, stdout)
		}
		var s struct{ RunID, Status string }
		if err := json.Unmarshal([]byte(stdout), &s); err != nil || s.Status != "succeeded" {
			return fmt.Errorf("run %d: %s (%v)", i+1, stdout, err)
		}
		d, err := transitions(filepath.Join(home, "blob", "runs", s.RunID))
		if err != nil {
			return err
		}
		if digest != "" && d != digest {
			return fmt.Errorf("run %d wrote other bytes than run 1 (%s, %s)", i+1, d, digest)
		}
		digest = d
		fmt.Printf("  run %d: wall %s  cpu %s  rss %dMB\n", i+1, round(m.Wall), round(m.CPU), m.RSS>>20)
		if i == 0 || m.Wall < best.Wall {
			best = m
		}
	}
	fmt.Printf("best of %d: wall %s  cpu %s  rss %dMB  transitions %s\n", repeat, round(best.Wall), round(best.CPU), best.RSS>>20, digest)
	return nil
}

// transitions hashes the part files of a run's output ports, by path
// relative to the run (plans and outcome parts left out).
func transitions(run string) (string, error) {
	var files []string
	err := filepath.WalkDir(run, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(run, p)
		if d.IsDir() && (d.Name() == "_plan" || d.Name() == "_parts") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), "part-") && !strings.HasPrefix(rel, "-tables") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	slices.Sort(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(run, f))
		if err != nil {
			return "", err
		}
		s := sha256.Sum256(b)
		fmt.Fprintf(h, "%s %x\n", filepath.Dir(f), s)
	}
	return fmt.Sprintf("%s (%d files)", hex.EncodeToString(h.Sum(nil))[:12], len(files)), nil
}

// measure runs a child process: wall, CPU and its own peak RSS (VmHWM,
// polled: a waited child's rusage may carry another child's maximum).
func measure(bin string, args ...string) (measured, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	var stdout strings.Builder
	cmd.Stdout = &stdout
	u, err := procstat.Run(cmd, 10*time.Millisecond)
	return measured(u), stdout.String(), err
}

func round(d time.Duration) string { return d.Round(time.Millisecond).String() }
