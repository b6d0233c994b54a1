package lambdafn_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/failure"
)

func TestKebab(t *testing.T) {
	for in, want := range map[string]string{"StartRun": "start-run", "SMS": "sms", "LoadFile": "load-file",
		"Email": "email", "CheckResume": "check-resume", "SMSBatch": "sms-batch", "Trigger": "trigger"} {
		if got := lambdafn.Kebab(in); got != want {
			t.Errorf("Kebab(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFunctions(t *testing.T) {
	reg := activity.NewRegistry()
	flow.Register(reg, &flow.Deps{})
	got := map[string]lambdafn.Fn{}
	for _, f := range lambdafn.Functions(reg) {
		got[f.Name] = f
	}
	for name, dir := range map[string]string{"Alert": "alert", "End": "end", "StartRun": "start-run", "CheckResume": "check-resume",
		"Trigger": "trigger", "Feedback": "feedback", "Api": "api"} {
		if got[name].Dir != dir {
			t.Errorf("%s: dir %q, want %q", name, got[name].Dir, dir)
		}
	}
	if _, ok := got["Wait"]; ok {
		t.Error("wait is pure ASL and has no function")
	}
	if len(got) != 2+6+3 {
		t.Errorf("%d functions: %v", len(got), got)
	}
	if id := got["StartRun"].LogicalID(); id != "StartRunFunction" {
		t.Errorf("logical id %q", id)
	}
}

type Throttled struct{}

func (Throttled) Error() string { return "slow down" }

// TestErrorType: the errorType Step Functions sees is the Go type name, so
// the named errors match the emitted Retry and Catch lists.
func TestErrorType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&activity.Retryable{Msg: "x"}, "Retryable"},
		{&activity.InvalidInput{Msg: "x"}, "InvalidInput"},
		{Throttled{}, "Throttled"},
		{errors.New("x"), "errorString"},
		{fmt.Errorf("wrapped: %w", &activity.Retryable{}), "wrapError"},
	} {
		if got := failure.Name(c.err); got != c.want {
			t.Errorf("failure.Name(%T) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestAlertSubject(t *testing.T) {
	s := lambdafn.AsciiSubjectForTest("[stepwise] winback: Petite audience\névaluée " + string(make([]byte, 200)))
	if len(s) != 99 {
		t.Errorf("len %d", len(s))
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			t.Fatalf("%q holds %q", s, r)
		}
	}
}
