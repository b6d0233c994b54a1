package lambdafn

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"

	"github.com/stepwise-run/stepwise/shared/blob"
)

// BlobSources is the API's catalog and template files in the bucket, under
// Prefix (default "sources/"): sources/catalog.yaml, sources/templates/vip.html.
// `aws s3 sync examples/ s3://BUCKET/sources/` fills it. On AWS the
// catalog's tables are s3:// locations.
type BlobSources struct {
	Blob   blob.Store
	Prefix string
}

func (s BlobSources) prefix() string {
	if s.Prefix == "" {
		return "sources/"
	}
	return s.Prefix
}

// Catalog implements api.Sources.
func (s BlobSources) Catalog(ctx context.Context) (string, []byte, error) {
	data, err := blob.ReadAll(ctx, s.Blob, s.prefix()+"catalog.yaml")
	if errors.Is(err, blob.ErrNotFound) {
		return "", nil, fmt.Errorf("no catalog: upload it to %scatalog.yaml in the bucket", s.prefix())
	}
	return "/" + s.prefix() + "catalog.yaml", data, err
}

// File implements api.Sources.
func (s BlobSources) File(ctx context.Context, name string) ([]byte, error) {
	key := s.prefix() + path.Clean(name)
	if err := blob.CheckKey(key); err != nil || !filepath.IsLocal(filepath.FromSlash(name)) {
		return nil, fmt.Errorf("%q is outside the folders files may be read from: the campaign folder", name)
	}
	data, err := blob.ReadAll(ctx, s.Blob, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("no template file %q", name)
	}
	return data, err
}
