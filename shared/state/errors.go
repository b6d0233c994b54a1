package state

import "errors"

// Sentinel errors. Adapters wrap them with context; test with errors.Is.
var (
	// ErrNotFound: nothing is stored under the key.
	ErrNotFound = errors.New("state: not found")
	// ErrExists: a create found the record already there.
	ErrExists = errors.New("state: already exists")
	// ErrConflict: a conditional write found the record in another state than expected
	// (status, revision, version, lease). Reread and decide; do not retry blindly.
	ErrConflict = errors.New("state: conflict")
	// ErrInvalid: a malformed argument or a transition the lifecycle forbids.
	ErrInvalid = errors.New("state: invalid")
)
