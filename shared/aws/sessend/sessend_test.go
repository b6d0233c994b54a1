package sessend_test

import (
	"testing"

	"github.com/aws/smithy-go"

	"github.com/stepwise-run/stepwise/shared/aws/sessend"
	"github.com/stepwise-run/stepwise/shared/send"
)

// The send path itself is tested against a fake SES v2 endpoint in
// shared/activity/channel (TestEmailFakeSES).
func TestClassify(t *testing.T) {
	for code, want := range map[string]int{"TooManyRequestsException": send.KindThrottled, "AccountSuspendedException": send.KindAccount,
		"SendingPausedException": send.KindAccount, "LimitExceededException": send.KindAccount, "MessageRejected": send.KindPermanent,
		"InternalFailure": send.KindTransient} {
		if got := send.Kind(sessend.Classify(&smithy.GenericAPIError{Code: code})); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
	if v := sessend.TagValue("ann@example.com|x"); v != "ann_example_com_x" {
		t.Errorf("tag %q", v)
	}
}
