package compile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Bundle is everything a handler needs to know about a campaign: the campaign
// and catalog sources and the template files, identified by a content hash.
// Handlers re-decode it with the same code that validated it.
type Bundle struct {
	Hash         string            `json:"hash"`
	CampaignFile string            `json:"campaignFile"`
	CatalogFile  string            `json:"catalogFile"`
	Campaign     []byte            `json:"campaign"`
	Catalog      []byte            `json:"catalog"`
	CatalogDir   string            `json:"catalogDir"`  // relative paths in the catalog resolve here
	CampaignDir  string            `json:"campaignDir"` // relative paths in the campaign resolve here
	Files        map[string][]byte `json:"files,omitempty"`
}

// NewBundle builds the bundle of a decoded campaign.
func NewBundle(c *campaign.Campaign, cat *campaign.Catalog, files map[string][]byte) (*Bundle, error) {
	cdata, err := sourceBytes(c.File, c.Src)
	if err != nil {
		return nil, err
	}
	kdata, err := sourceBytes(cat.File, cat.Src)
	if err != nil {
		return nil, err
	}
	dir, _ := filepath.Abs(cat.Dir())
	cdir, _ := filepath.Abs(c.Dir())
	b := &Bundle{CampaignFile: filepath.Base(c.File), CatalogFile: filepath.Base(cat.File), Campaign: cdata, Catalog: kdata, CatalogDir: dir, CampaignDir: cdir, Files: files}
	if b.CampaignFile == "." || b.CampaignFile == "" {
		b.CampaignFile = "campaign.yaml"
	}
	if b.CatalogFile == "." || b.CatalogFile == "" {
		b.CatalogFile = "catalog.yaml"
	}
	b.Hash = b.hash()
	return b, nil
}

// sourceBytes returns the original bytes of a file, or re-encodes the parsed
// document when it was not read from disk.
func sourceBytes(file string, src *campaign.Source) ([]byte, error) {
	if src != nil && src.Data != nil {
		return src.Data, nil
	}
	if src == nil || src.Root == nil {
		return nil, fmt.Errorf("no source for %q", file)
	}
	return yaml.Marshal(src.Root)
}

// hash covers the contents only (not the absolute catalog dir), so the same
// campaign compiles to the same bytes on every machine.
func (b *Bundle) hash() string {
	h := sha256.New()
	write := func(name string, data []byte) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	write("campaign", b.Campaign)
	write("catalog", b.Catalog)
	names := make([]string, 0, len(b.Files))
	for n := range b.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		write("file:"+n, b.Files[n])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Key is the blob key of a bundle.
func BundleKey(campaignID, hash string) string {
	return "campaigns/" + campaignID + "/bundles/" + hash + ".json"
}

// Decode re-validates the bundle, reading the columns of table sources
// through schemas (nil: only declared columns), and returns the program
// (without emitting).
func (b *Bundle) Decode(ctx context.Context, reg *activity.Registry, chk Checkers, schemas campaign.SchemaReader) (*Program, error) {
	cdir := b.CampaignDir
	if cdir == "" {
		cdir = b.CatalogDir
	}
	c, diags := campaign.ParseCampaign(filepath.Join(cdir, b.CampaignFile), b.Campaign)
	cat, cd := campaign.ParseCatalogSchemas(ctx, filepath.Join(b.CatalogDir, b.CatalogFile), b.Catalog, schemas)
	diags = append(diags, cd...)
	if diags.HasErrors() {
		return nil, diags
	}
	p, pd := Compile(c, cat, reg, b.Files, chk)
	if pd.HasErrors() {
		return nil, pd
	}
	return p, nil
}

// BlobStore is the part of the blob store the loader needs.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// Loader loads bundles from a blob store and caches decoded programs; it
// implements activity.Loader.
type Loader struct {
	Blob     BlobStore
	Registry *activity.Registry
	Checkers Checkers
	// Schemas reads the columns of catalog table sources that declare none
	// (nil: only declared columns).
	Schemas campaign.SchemaReader

	cache CompiledCache
}

// CompiledCache remembers compiled campaigns by campaign id and bundle hash
// (a bundle never changes). The zero value is ready; safe for concurrent use.
type CompiledCache struct {
	mu sync.Mutex
	m  map[string]*activity.Compiled
}

// Get returns the campaign compiled from a bundle, if remembered.
func (c *CompiledCache) Get(campaignID, hash string) (*activity.Compiled, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[campaignID+"/"+hash]
	return v, ok
}

// Put remembers v as the campaign compiled from a bundle.
func (c *CompiledCache) Put(campaignID, hash string, v *activity.Compiled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*activity.Compiled{}
	}
	c.m[campaignID+"/"+hash] = v
}

// Publish stores a bundle (idempotent: same hash, same content).
func (l *Loader) Publish(ctx context.Context, campaignID string, b *Bundle) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return l.Blob.Put(ctx, BundleKey(campaignID, b.Hash), bytes.NewReader(data))
}

// Remember caches an already compiled program (local runs skip the round trip).
func (l *Loader) Remember(p *Program) {
	l.cache.Put(p.Campaign.ID, p.Bundle.Hash, p.Compiled())
}

// Load implements activity.Loader.
func (l *Loader) Load(ctx context.Context, campaignID, hash string) (*activity.Compiled, error) {
	if c, ok := l.cache.Get(campaignID, hash); ok {
		return c, nil
	}
	rc, err := l.Blob.Get(ctx, BundleKey(campaignID, hash))
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("bundle %s of %s is not stored: publish or run the campaign again", hash, campaignID)}
		}
		return nil, &activity.Retryable{Msg: fmt.Sprintf("load bundle %s of %s: %v", hash, campaignID, err)}
	}
	defer rc.Close()
	var b Bundle
	if err := json.NewDecoder(rc).Decode(&b); err != nil {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("bundle %s of %s is corrupt: %v", hash, campaignID, err)}
	}
	var schemas campaign.SchemaReader
	rec := &readFailures{r: l.Schemas}
	if l.Schemas != nil {
		schemas = rec
	}
	p, err := b.Decode(ctx, l.Registry, l.Checkers, schemas)
	if err != nil && rec.failed {
		// A source's schema could not be read (S3 unavailable): the bundle
		// may well be valid, so the task is retried, not failed.
		return nil, &activity.Retryable{Msg: fmt.Sprintf("bundle %s of %s: %v", hash, campaignID, err)}
	} else if err != nil {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("bundle %s of %s does not validate: %v", hash, campaignID, err)}
	}
	p.Bundle = &b
	c := p.Compiled()
	l.cache.Put(campaignID, hash, c)
	return c, nil
}

// readFailures passes schema reads through and records whether one failed
// for a reason other than the source itself (absent, or without types).
type readFailures struct {
	r      campaign.SchemaReader
	failed bool
}

func (f *readFailures) SourceColumns(ctx context.Context, location string) ([]campaign.Column, error) {
	cols, err := f.r.SourceColumns(ctx, location)
	if err != nil && !errors.Is(err, campaign.ErrNoSchema) && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, blob.ErrNotFound) {
		f.failed = true
	}
	return cols, err
}

type fileRef struct{ name, path string }

// fileRefs finds `file: x` mappings (template files) under an activity node.
func fileRefs(n *yaml.Node, path string) []fileRef {
	var out []fileRef
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 2 && n.Content[0].Value == "file" && n.Content[1].Kind == yaml.ScalarNode && !isURI(n.Content[1].Value) {
			out = append(out, fileRef{n.Content[1].Value, campaign.JoinPath(path, "file")})
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, fileRefs(n.Content[i+1], campaign.JoinPath(path, n.Content[i].Value))...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, fileRefs(c, campaign.JoinPath(path, i))...)
		}
	}
	return out
}

func isURI(s string) bool { return bytes.Contains([]byte(s), []byte("://")) }

var _ activity.Loader = (*Loader)(nil)
