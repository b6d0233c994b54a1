package activity

import (
	"context"
	"fmt"
	"time"
)

// Load returns the compiled campaign of a request and the activity's config.
func Load(ctx context.Context, env *Env, req *Request) (*Compiled, any, error) {
	loader, err := Service[Loader](env, ServiceLoader)
	if err != nil {
		return nil, nil, err
	}
	comp, err := loader.Load(ctx, req.Campaign, req.Bundle)
	if err != nil {
		return nil, nil, err
	}
	_, cfg, ok := comp.Config(req.Activity)
	if !ok {
		return nil, nil, &InvalidInput{Msg: fmt.Sprintf("campaign %s has no activity %q", req.Campaign, req.Activity)}
	}
	return comp, cfg, nil
}

// TaskLogger appends lines to a run's task log (the state store).
type TaskLogger interface {
	AppendTaskLog(ctx context.Context, runID, activity string, at time.Time, lines ...string) error
}

// Logf appends a line to the request's task log; logging never fails a task.
func Logf(ctx context.Context, env *Env, req *Request, format string, args ...any) {
	if l, ok := env.Services[ServiceState].(TaskLogger); ok {
		l.AppendTaskLog(ctx, req.Run.ID, req.Activity, env.Now(), fmt.Sprintf(format, args...))
	}
}
