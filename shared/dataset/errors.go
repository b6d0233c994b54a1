package dataset

import (
	"context"
	"errors"
	"log/slog"
	"strings"
)

// EngineError is a DuckDB failure as callers see it: what the engine was
// doing and DuckDB's kind of error ("Conversion Error", "IO Error"), never
// DuckDB's message, which quotes data values, SQL and file paths. The
// message goes to the debug log only (slog, level debug).
type EngineError struct {
	Op     string // query, write, probe, append
	Kind   string
	detail string
}

func (e *EngineError) Error() string {
	return "dataset engine: " + e.Kind + " during " + e.Op + " (details in the debug log)"
}

// Detail is DuckDB's message: for a debug log, never for a caller.
func (e *EngineError) Detail() string { return e.detail }

// Transient reports a failure worth retrying: I/O, the network, throttling
// or a full disk, never a problem with the data or the query.
func (e *EngineError) Transient() bool {
	switch e.Kind {
	case "Conversion Error", "Binder Error", "Parser Error", "Catalog Error", "Invalid Input Error",
		"Constraint Error", "Mismatch Type Error", "Invalid type Error", "Out of Range Error", "Not implemented Error":
		return false
	}
	for _, transient := range []string{"connection", "timeout", "throttl", "SlowDown", "503", "500", "No space left"} {
		if strings.Contains(e.detail, transient) {
			return true
		}
	}
	return false
}

// engineErr redacts an error of DuckDB or its driver (a context's, an
// EngineError and ErrNotFound pass through).
func engineErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var ee *EngineError
	if errors.As(err, &ee) || errors.Is(err, ErrNotFound) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := err.Error()
	kind := "error"
	if prefix, _, ok := strings.Cut(msg, ": "); ok && strings.HasSuffix(prefix, "Error") && len(prefix) < 40 && !strings.ContainsAny(prefix, "'\"/") {
		kind = prefix
	}
	slog.DebugContext(ctx, "dataset engine error", "op", op, "kind", kind, "detail", msg)
	return &EngineError{Op: op, Kind: kind, detail: msg}
}
