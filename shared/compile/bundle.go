package compile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// Bundle is a campaign's sources: the campaign and catalog files and the
// template files, identified by a content hash, with the runtime plan they
// compile to (what handlers read).
type Bundle struct {
	Hash         string            `json:"hash"`
	CampaignFile string            `json:"campaignFile"`
	CatalogFile  string            `json:"catalogFile"`
	Campaign     []byte            `json:"campaign"`
	Catalog      []byte            `json:"catalog"`
	CatalogDir   string            `json:"catalogDir"`  // relative paths in the catalog resolve here
	CampaignDir  string            `json:"campaignDir"` // relative paths in the campaign resolve here
	Files        map[string][]byte `json:"files,omitempty"`
	// Digest identifies the runtime plan compiled from the bundle.
	Digest string `json:"plan"`

	planData []byte // the plan's canonical bytes
	plan     []byte // its stored form
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

// Compile compiles the bundle's sources again (a host resuming a run it
// recorded), reading the columns of table sources through schemas (nil:
// only declared columns).
func (b *Bundle) Compile(ctx context.Context, reg *activity.Registry, chk Checkers, schemas campaign.SchemaReader) (*Program, error) {
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

// BlobStore is the part of the blob store publishing needs.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader) error
}

// Publisher stores bundles and their runtime plans where task handlers load
// them.
type Publisher struct {
	Blob BlobStore
}

// Publish stores a bundle's runtime plan, then the bundle (idempotent: same
// digest, same content).
func (pb *Publisher) Publish(ctx context.Context, campaignID string, b *Bundle) error {
	if b.plan == nil {
		return fmt.Errorf("bundle %s has no plan", b.Hash)
	}
	if err := pb.Blob.Put(ctx, plan.Key(campaignID, b.Digest), bytes.NewReader(b.plan)); err != nil {
		return err
	}
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	return pb.Blob.Put(ctx, BundleKey(campaignID, b.Hash), bytes.NewReader(data))
}

// setPlan makes the runtime plan of a checked program and its digest.
func (b *Bundle) setPlan(p *Program) error {
	acts := make([]plan.Activity, 0, len(p.Campaign.Activities))
	var schemas plan.SchemaTable
	for _, a := range p.Campaign.Activities {
		pa := plan.Activity{ID: a.ID, Type: a.Type, Function: p.Specs[a.ID].Function, Ports: p.Ports[a.ID]}
		if s := p.Schemas[a.ID]; s != nil {
			pa.Schemas = make(map[string]int, len(s))
			for _, port := range slices.Sorted(maps.Keys(s)) { // deterministic indexes
				pa.Schemas[port] = schemas.Add(s[port])
			}
		}
		acts = append(acts, pa)
	}
	pl := &plan.Plan{Version: plan.Version, CampaignFile: b.CampaignFile, Campaign: string(b.Campaign), Catalog: p.Catalog,
		Activities: acts, Schemas: schemas.Schemas, Files: b.Files}
	data, digest, err := pl.Encode()
	if err != nil {
		return err
	}
	b.Digest, b.planData = digest, data
	p.Plan = pl
	return nil
}

// storePlan makes the stored form of the plan once the states are known.
func (b *Bundle) storePlan(states plan.States) error {
	data, err := plan.Marshal(b.planData, b.Digest, plan.Where{CampaignDir: b.CampaignDir, CatalogDir: b.CatalogDir}, states)
	b.plan = data
	return err
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
