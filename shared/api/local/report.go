package local

import (
	"context"
	"path/filepath"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/preview"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

var _ api.Reporter = (*Backend)(nil)

// CountChannel implements api.Reporter with the preview engine over the home's store.
func (b *Backend) CountChannel(ctx context.Context, q api.ChannelQuery) (api.ChannelCounts, error) {
	b.prevOnce.Do(func() {
		b.preview = &preview.Previewer{Options: dataset.Options{Store: b.L.Blob, WorkDir: filepath.Join(b.L.Home, "work"), Threads: 1}}
	})
	return b.preview.CountChannel(ctx, q)
}
