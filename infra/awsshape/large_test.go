package awsshape_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// largeCustomers is the size TestLargeCampaign runs at in the default suite;
// STEPWISE_SHAPE_CUSTOMERS=1000000 runs it at full size (see docs/deploy.md).
const largeCustomers = 20000

// TestLargeCampaign runs the benchmark's reference campaign (targeting on
// every row, enrichment, deduplication, a split with limits, three email
// activities) AWS-style on a generated data set, in test mode (every message
// rendered, none sent: live sending is bound by the provider's rate), with the
// functions as strict as Lambda, and requires the local executor's counts.
func TestLargeCampaign(t *testing.T) {
	n := largeCustomers
	if v := os.Getenv("STEPWISE_SHAPE_CUSTOMERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("STEPWISE_SHAPE_CUSTOMERS=%q: want a number of customers", v)
		}
	}
	data := generatedData(t, n)
	lp, rp := exampleCampaign(t, filepath.Join(repoRoot(t), "examples", "reference.yaml"), data)
	sh := startShape(t, functionsOf(rp.JSON)...)
	sh.uploadTables(t, data)
	id := state.NewRunID()
	r := run{name: "reference at " + strconv.Itoa(n), program: rp, runID: id, test: true}
	start := time.Now()
	o := sh.runAWS(t, []run{r})[0]
	t.Logf("%d customers AWS-style in %s", n, time.Since(start).Round(time.Millisecond))
	sh.checkAgainst(t, run{name: r.name, program: lp, runID: id, test: true}, r, o)
	sh.logInvocations(t)
}
