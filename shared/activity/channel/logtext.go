package channel

import (
	"fmt"
	"strings"
)

// skippedText is the "skipped N (reason n, …)" part of a channel log line:
// just "skipped 0" when nothing was skipped, the reasons when known.
func skippedText(n int64, reasons []string) string {
	if n == 0 || len(reasons) == 0 {
		return fmt.Sprintf("skipped %d", n)
	}
	return fmt.Sprintf("skipped %d (%s)", n, strings.Join(reasons, ", "))
}
