package activity

import (
	"errors"
	"io"
	"sync"
	"time"
)

// Env is the scope of one invocation: a scratch folder, a clock, and values
// created once per invocation (a DuckDB engine). The dependencies a handler
// uses are typed and bound when its family is registered.
type Env struct {
	// WorkDir is a scratch folder (Lambda: /tmp).
	WorkDir string
	// Clock returns the current time.
	Clock func() time.Time

	mu     sync.Mutex
	shared map[string]any
}

// Scope returns an Env for one invocation with its own scratch folder and
// values, sharing e's clock.
func (e *Env) Scope(workDir string) *Env { return &Env{WorkDir: workDir, Clock: e.Clock} }

// Shared returns a lazily created per-Env singleton (e.g. a DuckDB engine).
func (e *Env) Shared(key string, create func() (any, error)) (any, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v, ok := e.shared[key]; ok {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	if e.shared == nil {
		e.shared = map[string]any{}
	}
	e.shared[key] = v
	return v, nil
}

// Close closes the values Shared created that are io.Closers (a DuckDB
// engine, which removes its scratch folder) and forgets them all: an Env
// that lives for one Lambda invocation leaves nothing behind.
func (e *Env) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, v := range e.shared {
		if c, ok := v.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	e.shared = nil
	return errors.Join(errs...)
}

// Now returns the env clock's time.
func (e *Env) Now() time.Time {
	if e.Clock != nil {
		return e.Clock()
	}
	return time.Now()
}
