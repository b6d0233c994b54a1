package campaign

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Engines that run a catalog's targeting SQL.
const (
	EngineDuckDB = "duckdb" // DuckDB inside the activity's function (default)
	EngineAthena = "athena" // Amazon Athena (Trino), called by Step Functions
	EngineAuto   = "auto"   // Athena above Athena.AutoAboveBytes of input
)

// Engines lists the valid engine names.
var Engines = []string{EngineDuckDB, EngineAthena, EngineAuto}

// DefaultAutoAboveBytes is where `engine: auto` switches to Athena: per GB
// one Lambda costs less than Athena's scan at every size, so auto switches
// where a Lambda nears its limits (10 GB of /tmp holds the input's copy,
// DuckDB's spill and the output; 15 minutes): docs/costs.md, "DuckDB or
// Athena".
const DefaultAutoAboveBytes = 4 << 30

// Athena configures the Athena engine.
type Athena struct {
	Workgroup      string `json:"workgroup" jsonschema:"required,description=Athena workgroup the queries run in"`
	Database       string `json:"database" jsonschema:"required,description=Glue database the catalog's tables are registered in"`
	OutputLocation string `json:"outputLocation" jsonschema:"required,description=s3:// prefix for Athena's own query results (UNLOAD output goes under the run's prefix)"`
	AutoAboveBytes int64  `json:"autoAboveBytes,omitempty" jsonschema:"description=engine auto: input bytes above which Athena is used (default 4 GiB)"`
}

// EngineFor returns the engine an activity reading a table of inputBytes
// runs on (known: the size is known). Unknown sizes run on DuckDB.
func (c *Catalog) EngineFor(inputBytes int64, known bool) string {
	switch c.Engine {
	case "", EngineDuckDB:
		return EngineDuckDB
	case EngineAthena:
		return EngineAthena
	}
	above := int64(DefaultAutoAboveBytes)
	if c.Athena != nil && c.Athena.AutoAboveBytes > 0 {
		above = c.Athena.AutoAboveBytes
	}
	if known && inputBytes > above {
		return EngineAthena
	}
	return EngineDuckDB
}

// OverrideEngine sets the engine for one run (`stepwise run --engine`),
// checked as the catalog's own.
func (c *Catalog) OverrideEngine(name string) error {
	if !contains(Engines, name) {
		return fmt.Errorf("unknown engine %q%s; valid: %s", name, DidYouMean(name, Engines), strings.Join(Engines, ", "))
	}
	if name != EngineDuckDB && c.Athena == nil {
		return fmt.Errorf("engine %s needs the catalog's athena settings (workgroup, database, outputLocation)", name)
	}
	c.Engine = name
	return nil
}

var glueName = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)

func (c *Catalog) checkEngine(r Reporter) {
	if c.Engine != "" && !contains(Engines, c.Engine) {
		r.Errorf("engine", "unknown engine %q%s; valid: %s", c.Engine, DidYouMean(c.Engine, Engines), strings.Join(Engines, ", "))
		return
	}
	a := c.Athena
	if a == nil {
		if c.Engine == EngineAthena || c.Engine == EngineAuto {
			r.Errorf("engine", "engine %s needs an athena block (workgroup, database, outputLocation)", c.Engine)
		}
		return
	}
	if a.Workgroup == "" {
		r.Errorf("athena.workgroup", "athena needs a workgroup")
	}
	switch {
	case a.Database == "":
		r.Errorf("athena.database", "athena needs a Glue database")
	case !glueName.MatchString(a.Database):
		r.Errorf("athena.database", "Glue database %q: use lower-case letters, digits and _ (at most 255)", a.Database)
	}
	switch {
	case a.OutputLocation == "":
		r.Errorf("athena.outputLocation", "athena needs an outputLocation (s3://bucket/prefix/)")
	case !strings.HasPrefix(a.OutputLocation, "s3://") || len(a.OutputLocation) <= len("s3://"):
		r.Errorf("athena.outputLocation", "outputLocation %q must be an s3:// URI", a.OutputLocation)
	}
	if a.AutoAboveBytes < 0 {
		r.Errorf("athena.autoAboveBytes", "autoAboveBytes must be positive, not %d", a.AutoAboveBytes)
	}
}

// SourceBytes returns the bytes of a table's local source files (a file,
// folder or glob), for `engine: auto`; known is false for s3:// sources
// and for tables without a source.
func (c *Catalog) SourceBytes(t *Table) (n int64, known bool) {
	if t.Source == "" || strings.Contains(t.Source, "://") {
		return 0, false
	}
	loc := c.Resolve(t.Source)
	matches, err := filepath.Glob(loc)
	if err != nil || len(matches) == 0 {
		return 0, false
	}
	for _, m := range matches {
		filepath.WalkDir(m, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if info, err := d.Info(); err == nil {
					n += info.Size()
				}
			}
			return nil
		})
	}
	return n, true
}
