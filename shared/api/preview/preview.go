// Package preview serves api.Previewer from datasets in a blob store: the
// first rows of a transition, read with DuckDB. The Lambda API function and
// the local server share it.
package preview

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Previewer implements api.Previewer. The engine is opened with Options on
// first use and kept (while a Lambda is warm, or for the server's life).
type Previewer struct {
	Options dataset.Options

	mu     sync.Mutex
	engine *dataset.Engine
}

var _ api.Previewer = (*Previewer)(nil)

// Preview implements api.Previewer; a missing dataset is state.ErrNotFound.
func (p *Previewer) Preview(ctx context.Context, ref string, offset int64, limit int) (*api.Preview, error) {
	p.mu.Lock()
	if p.engine == nil {
		e, err := dataset.New(p.Options)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		p.engine = e
	}
	e := p.engine
	p.mu.Unlock()
	page, err := e.Rows(ctx, dataset.Ref(ref), offset, limit)
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

// Close releases the engine.
func (p *Previewer) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.engine == nil {
		return nil
	}
	err := p.engine.Close()
	p.engine = nil
	return err
}
