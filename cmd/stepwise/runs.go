package main

import (
	"fmt"

	"github.com/stepwise-run/stepwise/shared/canvas"
)

// runCounts reads the counts and statuses of a recorded run.
func runCounts(home, runID string) (canvas.Counts, map[string]string, error) {
	return nil, nil, fmt.Errorf("run %q not found under %s", runID, home)
}
