// Package compile turns a campaign and its catalog into an ASL state machine
// through ordered passes: normalize → validate → plan → emit. Diagnostics
// accumulate across passes; emission runs only on a valid campaign.
package compile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// Program is a compiled campaign.
type Program struct {
	Campaign *campaign.Campaign
	Catalog  *campaign.Catalog
	Registry *activity.Registry

	Specs   map[string]*activity.Spec             // by activity id
	Ports   map[string][]string                   // declared ports by activity id
	Schemas map[string]map[string]campaign.Schema // port schemas by activity id
	Order   []string                              // topological order
	// Audiences saved by this campaign, with their schema (read-audience and
	// inAudience see them at compile time).
	Audiences map[string]campaign.Schema
	Levels    [][]string // activities that may run concurrently
	Bundle    *Bundle
	Files     map[string][]byte // template files by path relative to the campaign
	// Plan is the runtime plan handlers read (its digest is Bundle.Digest).
	Plan *plan.Plan
	// States maps the emitted state names to their activities.
	States  plan.States
	Machine *asl.StateMachine
	JSON    []byte // the emitted ASL (deterministic)
	// Checkers used by validation; nil ones skip that check.
	Checkers Checkers

	// checkedTests are the test conditions checked once, lowered when emitted.
	checkedTests map[*condition.Condition]*condition.Checked
	// checkOrder is the order types are checked in: topological, with the
	// activities of a cycle in search order (Order is nil then).
	checkOrder []string
}

// Compiled returns what handlers see of the program.
func (p *Program) Compiled() *activity.Compiled {
	return &activity.Compiled{Campaign: p.Campaign, Catalog: p.Catalog, Files: p.Bundle.Files, Ports: p.Ports, Schemas: p.Schemas,
		Digest: p.Bundle.Digest, States: p.States}
}

// pass is one compiler step and why it sits where it does.
type pass struct {
	name string
	why  string
	run  func(*Program, campaign.Reporter)
}

var passes = []pass{
	{"dimension", "the campaign's default dimension is checked at its own key, whether or not an activity inherits it", checkDimension},
	{"decode", "configs are decoded by their registered spec before anything reads them", decodeConfigs},
	{"schedule", "a scheduler activity is the campaign schedule drawn on the canvas; lift it before the graph is checked", liftScheduler},
	{"graph", "references, input counts, cycles and reachability are checked once, before types look at inputs", checkGraph},
	{"types", "each activity checks its config against the schemas of its inputs, in topological order", checkTypes},
	{"plan", "independent activities are grouped into levels that run concurrently", planLevels},
}

// Compile validates and compiles c against cat. It returns every diagnostic
// found; Program.Machine is set only when there are no errors.
func Compile(c *campaign.Campaign, cat *campaign.Catalog, reg *activity.Registry, files map[string][]byte, chk Checkers) (*Program, campaign.Diagnostics) {
	p, diags := Check(c, cat, reg, files, chk)
	if diags.HasErrors() {
		return p, diags
	}
	r := campaign.Reporter{Src: c.Src, Diags: &diags}
	b, err := NewBundle(c, cat, files)
	if err != nil {
		r.Errorf("", "%v", err)
		return p, diags
	}
	p.Bundle = b
	if err := b.setPlan(p); err != nil {
		r.Errorf("", "%v", err)
		return p, diags
	}
	if err := emit(p); err != nil {
		r.Errorf("", "cannot emit the state machine: %v", err)
	} else if err := b.storePlan(p.States); err != nil {
		r.Errorf("", "%v", err)
	}
	diags.Sort()
	return p, diags
}

// Check runs every validation pass over c and returns every diagnostic, sorted
// and without repeats; it emits nothing. Callers whose campaign already has
// errors (its header, a missing template file) check it to report the rest.
func Check(c *campaign.Campaign, cat *campaign.Catalog, reg *activity.Registry, files map[string][]byte, chk Checkers) (*Program, campaign.Diagnostics) {
	var diags campaign.Diagnostics
	p := &Program{Campaign: c, Catalog: cat, Registry: reg, Checkers: chk, Files: files,
		Specs: map[string]*activity.Spec{}, Ports: map[string][]string{}, Schemas: map[string]map[string]campaign.Schema{},
		checkedTests: map[*condition.Condition]*condition.Checked{}}
	r := campaign.Reporter{Src: c.Src, Diags: &diags}
	for _, ps := range passes {
		ps.run(p, r)
	}
	diags.Sort()
	return p, diags.Unique()
}

// CompileFiles loads a campaign and its catalog (default: catalog.yaml beside
// the campaign), reading the columns of table sources through schemas (nil:
// only declared columns), reads the template files it names, and compiles.
func CompileFiles(ctx context.Context, campaignFile, catalogFile string, reg *activity.Registry, chk Checkers, schemas campaign.SchemaReader) (*Program, campaign.Diagnostics) {
	return CompileFilesEngine(ctx, campaignFile, catalogFile, "", reg, chk, schemas)
}

// CompileFilesEngine is CompileFiles with the catalog's engine overridden
// for this compilation (a run's `--engine`; "" keeps the catalog's).
func CompileFilesEngine(ctx context.Context, campaignFile, catalogFile, engine string, reg *activity.Registry, chk Checkers, schemas campaign.SchemaReader) (*Program, campaign.Diagnostics) {
	c, diags := campaign.LoadCampaign(campaignFile)
	if catalogFile == "" {
		catalogFile = filepath.Join(filepath.Dir(campaignFile), "catalog.yaml")
	}
	cat, cd := campaign.LoadCatalogSchemas(ctx, catalogFile, schemas)
	diags = append(diags, cd...)
	if c == nil || cat == nil || cd.HasErrors() {
		diags.Sort()
		return nil, diags
	}
	if engine != "" {
		if err := cat.OverrideEngine(engine); err != nil {
			diags = append(diags, campaign.Diagnostic{Pos: campaign.Pos{File: catalogFile}, Path: "engine", Message: "--engine: " + err.Error(), Severity: campaign.Error})
			diags.Sort()
			return nil, diags
		}
	}
	// Errors so far (the header, template files) depend on nothing the
	// passes check: report those too, but emit only a valid campaign.
	files, fd := readFiles(c)
	diags = append(diags, fd...)
	run := Compile
	if diags.HasErrors() {
		run = Check
	}
	p, pd := run(c, cat, reg, files, chk)
	diags = append(diags, pd...)
	diags.Sort()
	return p, diags.Unique()
}

// CompileSources compiles a campaign and a catalog given as text, as if
// they were dir/campaign.yaml and dir/catalog.yaml (relative sources resolve
// in dir), with no template files and only declared columns.
func CompileSources(dir string, campaignSrc, catalogSrc []byte, reg *activity.Registry, chk Checkers) (*Program, campaign.Diagnostics) {
	c, diags := campaign.ParseCampaign(filepath.Join(dir, "campaign.yaml"), campaignSrc)
	cat, cd := campaign.ParseCatalog(filepath.Join(dir, "catalog.yaml"), catalogSrc)
	if diags = append(diags, cd...); diags.HasErrors() {
		return nil, diags
	}
	return Compile(c, cat, reg, nil, chk)
}

// readFiles reads the template files referenced by `file:` keys anywhere in
// the activities, relative to the campaign and confined to its folder (no
// `..` or symlink out of it, nothing in a Stepwise home).
func readFiles(c *campaign.Campaign) (map[string][]byte, campaign.Diagnostics) {
	var diags campaign.Diagnostics
	files := map[string][]byte{}
	roots := fileroot.Roots{}.With(c.Dir())
	for _, a := range c.Activities {
		for _, ref := range fileRefs(a.Node, a.Path()) {
			if _, done := files[ref.name]; done {
				continue
			}
			data, err := roots.ReadFile(c.Dir(), ref.name)
			if err != nil {
				diags = append(diags, campaign.Diagnostic{Pos: c.Src.PosOf(ref.path), Path: ref.path, Severity: campaign.Error,
					Message: fileErr(c.Dir(), ref.name, err)})
				continue
			}
			files[ref.name] = data
		}
	}
	return files, diags
}

// fileErr explains why a template file cannot be read: the name, the
// folder it was looked for in (names resolve against the campaign's folder,
// the one allowed folder; in full, since "." says nothing) and the reason.
func fileErr(dir, name string, err error) string {
	var outside *fileroot.OutsideError
	if errors.As(err, &outside) {
		return "template file " + err.Error()
	}
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	abs, aerr := filepath.Abs(dir)
	if aerr != nil {
		abs = dir
	}
	return fmt.Sprintf("cannot read template file %q in %s (the campaign's folder): %v", name, abs, err)
}
