package failure_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/state"
)

type valueErr struct{}

func (valueErr) Error() string { return "value" }

type ptrErr struct{}

func (*ptrErr) Error() string { return "pointer" }

// anon is an error of an unnamed type.
var anon error = struct{ valueErr }{}

func TestName(t *testing.T) {
	p := &ptrErr{}
	for _, c := range []struct {
		err  error
		want string
	}{
		{&failure.Retryable{}, "Retryable"},
		{&failure.InvalidInput{}, "InvalidInput"},
		{&failure.Conflict{}, "Conflict"},
		{&failure.Paused{}, "Paused"},
		{&failure.TooManyErrors{}, "TooManyErrors"},
		{valueErr{}, "valueErr"},
		{p, "ptrErr"},
		{errors.New("x"), "errorString"},
		{fmt.Errorf("w: %w", &failure.Retryable{}), "wrapError"},
		{anon, ""},
		{messages.InvokeResponse_Error{Type: "Custom.Name", Message: "m"}, "Custom.Name"},
		{nil, ""},
	} {
		if got := failure.Name(c.err); got != c.want {
			t.Errorf("Name(%T) = %q, want %q", c.err, got, c.want)
		}
	}
}

func TestClassify(t *testing.T) {
	retryable := &failure.Retryable{Msg: "r"}
	for _, c := range []struct {
		name string
		err  error
		want string // name of the result
	}{
		{"named", retryable, "Retryable"},
		{"wrapped named", fmt.Errorf("ctx: %w", &failure.Conflict{Msg: "c"}), "Conflict"},
		{"wrapped paused", fmt.Errorf("ctx: %w", &failure.Paused{Msg: "p"}), "Paused"},
		{"wrapped too many", fmt.Errorf("ctx: %w", &failure.TooManyErrors{Msg: "n"}), "TooManyErrors"},
		{"outermost named", fmt.Errorf("a: %w", &failure.InvalidInput{Msg: fmt.Errorf("b: %w", retryable).Error()}), "InvalidInput"},
		{"transient", failure.Transient(errors.New("x")), "Retryable"},
		{"wrapped transient", fmt.Errorf("op: %w", failure.Transient(errors.New("x"))), "Retryable"},
		{"state not found", fmt.Errorf("%w: run r", state.ErrNotFound), "InvalidInput"},
		{"state invalid", fmt.Errorf("%w: bad", state.ErrInvalid), "InvalidInput"},
		{"state conflict", fmt.Errorf("%w: rev", state.ErrConflict), "Conflict"},
		{"state exists", fmt.Errorf("%w: run r", state.ErrExists), "Conflict"},
		{"blob not found", fmt.Errorf("k: %w", blob.ErrNotFound), "InvalidInput"},
		{"blob exists", fmt.Errorf("k: %w", blob.ErrExists), "Conflict"},
		{"send transient", fmt.Errorf("send: %w", &send.Transient{Msg: "5xx"}), "Retryable"},
		{"send throttled", &send.Throttled{Msg: "slow"}, "Retryable"},
		{"send permanent", &send.Permanent{Msg: "no"}, "InvalidInput"},
		{"deadline", fmt.Errorf("q: %w", context.DeadlineExceeded), "Retryable"},
		{"canceled", context.Canceled, "Retryable"},
		{"dial", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, "Retryable"},
		{"disk full", &fs.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, "Retryable"},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), "Retryable"},
		{"quota", &fs.PathError{Op: "write", Path: "/x", Err: syscall.EDQUOT}, "Retryable"},
		{"too many open files", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EMFILE}, "Retryable"},
		{"would block", &fs.PathError{Op: "read", Path: "/x", Err: syscall.EAGAIN}, "Retryable"},
		{"permission", &fs.PathError{Op: "open", Path: "/x", Err: os.ErrPermission}, "InvalidInput"},
		// Messages that the former substring matching took for transient
		// failures are not: only types and sentinels decide.
		{"message only", errors.New("connection timeout 503"), "InvalidInput"},
		{"plain", errors.New("x"), "InvalidInput"},
		{"unnamed", anon, "InvalidInput"},
	} {
		got := failure.Classify(c.err)
		if n := failure.Name(got); n != c.want {
			t.Errorf("%s: Classify(%v) is %s, want %s", c.name, c.err, n, c.want)
		}
		if got.Error() != c.err.Error() {
			t.Errorf("%s: message %q, want %q", c.name, got.Error(), c.err.Error())
		}
	}
	if failure.Classify(nil) != nil {
		t.Error("Classify(nil) != nil")
	}
	if failure.Classify(retryable) != retryable {
		t.Error("a named error is not returned as is")
	}
	if failure.Transient(nil) != nil {
		t.Error("Transient(nil) != nil")
	}
	// Marking keeps the chain: the adapter's own sentinels still match.
	marked := failure.Transient(fmt.Errorf("k: %w", blob.ErrNotFound))
	if !errors.Is(marked, blob.ErrNotFound) || !errors.Is(marked, failure.ErrTransient) {
		t.Error("Transient loses the chain")
	}
}

// A mark decides over the kinds of the errors it marks.
func TestTransientIsOutermost(t *testing.T) {
	err := failure.Transient(fmt.Errorf("k: %w", blob.ErrNotFound))
	if n := failure.Name(failure.Classify(err)); n != "Retryable" {
		t.Errorf("Classify gives %s", n)
	}
}
