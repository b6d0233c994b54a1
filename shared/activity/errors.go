package activity

import "github.com/stepwise-run/stepwise/shared/failure"

// Named errors: Step Functions sees a Go error by its type name, so the
// compiler's Retry and Catch lists name these types (package failure).
type (
	Retryable    = failure.Retryable
	InvalidInput = failure.InvalidInput
	Conflict     = failure.Conflict
	Paused       = failure.Paused
)

// RetryableErrors are the error names the emitted Retry lists.
var RetryableErrors = failure.RetryableErrors
