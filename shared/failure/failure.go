// Package failure names the errors a function returns to Step Functions (or
// to the local interpreter) and classifies any other error into one of them.
//
// Step Functions matches a Go Lambda's error by the name aws-lambda-go
// reports for it (Name), so the compiler's Retry and Catch lists name the
// types defined here. Adapters need not return these types: they mark their
// errors with a kind (ErrTransient, ErrConflict, ErrInvalid; Transient,
// Sentinel) or a Transient() bool method, and Classify maps them once, at the
// boundary where a function returns.
package failure

import (
	"context"
	"errors"
	"net"
	"reflect"
	"syscall"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// Retryable is a transient failure (throttling, a network error): retried.
type Retryable struct{ Msg string }

func (e *Retryable) Error() string { return e.Msg }

// InvalidInput is a permanent failure caused by data or configuration.
type InvalidInput struct{ Msg string }

func (e *InvalidInput) Error() string { return e.Msg }

// Conflict is a lost optimistic-concurrency race (a table version moved on): retried.
type Conflict struct{ Msg string }

func (e *Conflict) Error() string { return e.Msg }

// Paused means a channel stopped itself (error threshold); the run can resume.
type Paused struct{ Msg string }

func (e *Paused) Error() string { return e.Msg }

// TooManyErrors ends a run whose activities failed too many times in a row
// under onError: ignore.
type TooManyErrors struct{ Msg string }

func (e *TooManyErrors) Error() string { return e.Msg }

func (*Retryable) named()     {}
func (*InvalidInput) named()  {}
func (*Conflict) named()      {}
func (*Paused) named()        {}
func (*TooManyErrors) named() {}

// named is implemented by the error types above only.
type named interface {
	error
	named()
}

// RetryableErrors are the error names the emitted Retry lists: the two
// named types Classify gives transient failures, and the errors the Lambda
// service itself raises for an invocation that did not run.
var RetryableErrors = []string{"Retryable", "Conflict", "Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"}

// Name is the error name Step Functions sees for err returned by a Go
// Lambda handler: exactly what aws-lambda-go reports as errorType, the name
// of err's type, or of the type it points to. A messages.InvokeResponse_Error
// value names itself. Wrapped errors are not unwrapped: classify first.
func Name(err error) string {
	if err == nil {
		return ""
	}
	if ive, ok := err.(messages.InvokeResponse_Error); ok {
		return ive.Type
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

// kind is a class of failure adapters mark their errors with.
type kind struct{ name string }

func (k *kind) Error() string { return k.name }

// Kinds of failure, for errors.Is. Adapters wrap them (Transient, Sentinel,
// or fmt.Errorf with %w); Classify maps them to the named types.
var (
	// ErrTransient: a failure that may pass (throttling, a 5xx answer, a
	// dropped connection): Retryable.
	ErrTransient error = &kind{"transient"}
	// ErrConflict: a conditional write lost to another writer: Conflict.
	ErrConflict error = &kind{"conflict"}
	// ErrInvalid: nothing there, or a request that cannot succeed as it is:
	// InvalidInput.
	ErrInvalid error = &kind{"invalid"}
)

// marked is an error with a kind added; its message is the error's.
type marked struct {
	err  error
	kind error
}

func (m *marked) Error() string   { return m.err.Error() }
func (m *marked) Unwrap() []error { return []error{m.kind, m.err} } // the mark first: it is outermost

// Transient marks err as a failure that may pass (ErrTransient), keeping its
// message and chain; nil stays nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &marked{err, ErrTransient}
}

// sentinel is a sentinel error of a kind.
type sentinel struct {
	msg  string
	kind error
}

func (s *sentinel) Error() string { return s.msg }
func (s *sentinel) Unwrap() error { return s.kind }

// Sentinel returns a new sentinel error with message msg, of kind k
// (ErrTransient, ErrConflict or ErrInvalid): errors.Is(err, k) holds for the
// errors that wrap it.
func Sentinel(msg string, k error) error { return &sentinel{msg, k} }

// Classify maps err to a named error; nil stays nil. An error of a named
// type is returned as is. Otherwise, with the message of err:
//   - a named error in err's chain gives that type (the outermost one);
//   - a kind in err's chain gives Retryable (ErrTransient), Conflict
//     (ErrConflict) or InvalidInput (ErrInvalid), the outermost one deciding;
//   - an error with a Transient() bool method (a dataset engine error, a
//     send error) gives Retryable when it reports true, else InvalidInput;
//   - an expired or cancelled context, a timeout, a failed network
//     operation, a reset or refused connection, a full disk or quota, too
//     many open files, an interrupted or would-block call give Retryable;
//   - anything else is InvalidInput.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var n named
	if errors.As(err, &n) {
		if n == err {
			return err
		}
		return withName(n, err.Error())
	}
	msg := err.Error()
	var k *kind
	if errors.As(err, &k) {
		switch k {
		case ErrTransient:
			return &Retryable{Msg: msg}
		case ErrConflict:
			return &Conflict{Msg: msg}
		}
		return &InvalidInput{Msg: msg}
	}
	var tr interface{ Transient() bool }
	if errors.As(err, &tr) {
		if tr.Transient() {
			return &Retryable{Msg: msg}
		}
		return &InvalidInput{Msg: msg}
	}
	if transientSystem(err) {
		return &Retryable{Msg: msg}
	}
	return &InvalidInput{Msg: msg}
}

// withName returns an error of n's type with message msg.
func withName(n named, msg string) error {
	switch n.(type) {
	case *Retryable:
		return &Retryable{Msg: msg}
	case *Conflict:
		return &Conflict{Msg: msg}
	case *Paused:
		return &Paused{Msg: msg}
	case *TooManyErrors:
		return &TooManyErrors{Msg: msg}
	}
	return &InvalidInput{Msg: msg}
}

// transientSystem reports the standard library's failures that may pass.
func transientSystem(err error) bool {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	case errors.As(err, &ne) && ne.Timeout(), errors.As(err, &op):
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE, syscall.ETIMEDOUT, syscall.EAGAIN,
		syscall.EDQUOT, syscall.EMFILE, syscall.ENFILE, syscall.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}
