package state

import "github.com/stepwise-run/stepwise/shared/failure"

// Sentinel errors. Adapters wrap them with context; test with errors.Is.
// Each is of a failure kind, which names it when it ends a function.
var (
	// ErrNotFound: nothing is stored under the key.
	ErrNotFound = failure.Sentinel("state: not found", failure.ErrInvalid)
	// ErrExists: a create found the record already there.
	ErrExists = failure.Sentinel("state: already exists", failure.ErrConflict)
	// ErrConflict: a conditional write found the record in another state than expected
	// (status, revision, version, lease). Reread and decide; do not retry blindly.
	ErrConflict = failure.Sentinel("state: conflict", failure.ErrConflict)
	// ErrInvalid: a malformed argument or a transition the lifecycle forbids.
	ErrInvalid = failure.Sentinel("state: invalid", failure.ErrInvalid)
)
