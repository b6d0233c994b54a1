// Package awserr marks AWS SDK errors for failure.Classify: an error the SDK
// itself would retry (throttling, a 5xx answer, a dropped connection, a
// timeout) is transient.
package awserr

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/stepwise-run/stepwise/shared/failure"
)

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// Retryable reports whether the SDK's default retry policy retries err.
func Retryable(err error) bool {
	return err != nil && retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// Mark returns err marked failure.ErrTransient when the SDK would retry it,
// else err unchanged (nil stays nil).
func Mark(err error) error {
	if Retryable(err) {
		return failure.Transient(err)
	}
	return err
}
