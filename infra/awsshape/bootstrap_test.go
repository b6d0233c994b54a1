package awsshape_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

// coldStartRounds is how many fresh emulators each function gets.
const coldStartRounds = 3

// TestBootstraps builds every function's bootstrap and, for each, starts a
// fresh RIE a few times and invokes it twice with its events/ fixture: it
// must answer (a result or a named error, never a runtime crash). It logs
// each binary's size and the median cold (first) and warm (second)
// invocation times.
func TestBootstraps(t *testing.T) {
	root := repoRoot(t)
	fns := lambdafn.Functions(builtin.Registry())
	var names []string
	for _, f := range fns {
		names = append(names, f.Name)
	}
	sh := startShape(t) // the emulators only
	built := bootstraps(t, names...)
	ctx := context.Background()
	t.Logf("%-16s %8s %5s %9s %9s  %s", "function", "size", "cgo", "cold", "warm", "fixture outcome")
	var total int64
	for _, f := range fns {
		payload, err := os.ReadFile(filepath.Join(root, "events", f.Dir+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var cold, warm []time.Duration
		outcome := ""
		for round := 0; round < coldStartRounds && !t.Failed(); round++ {
			fn := sh.templateFunction(t, f.Name, built[f.Name].Path)
			r, err := lambdalocal.StartRIE(ctx, lambdalocal.RIEOptions{Bin: sh.rie, Bootstrap: fn.Bootstrap, Name: f.Name,
				MemoryMB: fn.MemoryMB, Timeout: fn.Timeout, TmpSize: fn.TmpSize, Env: fn.Env, Strict: true})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ {
				start := time.Now()
				res, err := r.Invoke(ctx, payload)
				took := time.Since(start)
				if err != nil {
					t.Errorf("%s: %v", f.Name, err)
					break
				}
				if i == 0 {
					cold = append(cold, took)
				} else {
					warm = append(warm, took)
				}
				outcome = "ok"
				if f.Family == lambdafn.FamilyAPI {
					var resp struct {
						StatusCode int `json:"statusCode"`
					}
					json.Unmarshal(res.Payload, &resp)
					outcome = fmt.Sprintf("HTTP %d", resp.StatusCode)
					if resp.StatusCode == 0 || resp.StatusCode >= 500 {
						t.Errorf("%s answered events/%s.json with %s", f.Name, f.Dir, res.Payload)
					}
				}
				if res.FunctionError != "" {
					outcome = lambdalocal.ErrorTypeOf(res.Payload)
					if outcome == "" || strings.HasPrefix(outcome, "Runtime.") || strings.HasPrefix(outcome, "Sandbox.") {
						t.Errorf("%s crashed on events/%s.json: %s", f.Name, f.Dir, res.Payload)
					}
				}
			}
			r.Close()
		}
		total += built[f.Name].Size
		t.Logf("%-16s %6.1fMB %5v %9s %9s  %s", f.Name, float64(built[f.Name].Size)/1e6, built[f.Name].CGO,
			median(cold).Round(100*time.Microsecond), median(warm).Round(100*time.Microsecond), outcome)
	}
	t.Logf("%d bootstraps, %.0f MB in all", len(fns), float64(total)/1e6)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
