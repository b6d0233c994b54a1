package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// previewer reads the first rows of a run's dataset from S3 with DuckDB
// (api.Previewer); the engine is opened on first use and kept while warm.
type previewer struct {
	store   blob.Store
	workDir string

	mu     sync.Mutex
	engine *dataset.Engine
}

func (p *previewer) Preview(ctx context.Context, ref string, limit int) (*api.Preview, error) {
	p.mu.Lock()
	if p.engine == nil {
		e, err := dataset.New(dataset.Options{Store: p.store, WorkDir: p.workDir})
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		p.engine = e
	}
	e := p.engine
	p.mu.Unlock()
	page, err := e.Preview(ctx, dataset.Ref(ref), limit)
	if errors.Is(err, dataset.ErrNotFound) {
		return nil, fmt.Errorf("%w: dataset %s", state.ErrNotFound, ref)
	} else if err != nil {
		return nil, err
	}
	out := &api.Preview{Columns: []api.PreviewColumn{}, Rows: page.Rows, Total: page.Total}
	for _, c := range page.Columns {
		out.Columns = append(out.Columns, api.PreviewColumn{Name: c.Name, Type: string(c.Type)})
	}
	return out, nil
}
