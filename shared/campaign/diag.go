// Package campaign holds the catalog and campaign models, their decoding from
// YAML or JSON with source positions, and positioned diagnostics.
package campaign

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in a source file. Line and Col are 1-based; zero means unknown.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

func (p Pos) String() string {
	if p.File == "" {
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	}
	if p.Line == 0 {
		return p.File // the whole file, no position in it
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity of a diagnostic.
type Severity string

const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Diagnostic is one problem found in a file, located by position and by a
// path such as `activities[3].where.all[0].field`.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Path     string   `json:"path"`
	Message  string   `json:"message"`
	Severity Severity `json:"severity"`
}

func (d Diagnostic) String() string {
	s := d.Pos.String()
	if d.Path != "" {
		s += " " + d.Path
	}
	if d.Severity == Warning {
		return s + ": warning: " + d.Message
	}
	return s + ": " + d.Message
}

// Diagnostics accumulates problems; validation never stops at the first one.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity != Warning {
			return true
		}
	}
	return false
}

// Sort orders diagnostics by file, line, column, then message, so output is stable.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

// Unique drops repeats of the diagnostic before it (sort first), as when
// several activities inherit one wrong campaign-level setting.
func (ds Diagnostics) Unique() Diagnostics {
	out := ds[:0]
	for i, d := range ds {
		if i == 0 || d != ds[i-1] {
			out = append(out, d)
		}
	}
	return out
}

func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns the diagnostics as an error when any is an error, else nil.
func (ds Diagnostics) Err() error {
	if ds.HasErrors() {
		return ds
	}
	return nil
}

// Reporter adds diagnostics located through a source index.
type Reporter struct {
	Src   *Source
	Diags *Diagnostics
}

// Errorf records an error at path.
func (r Reporter) Errorf(path, format string, args ...any) {
	r.add(Error, path, format, args...)
}

// Warnf records a warning at path.
func (r Reporter) Warnf(path, format string, args ...any) {
	r.add(Warning, path, format, args...)
}

// MaxDiagnostics is the most diagnostics one reporter keeps: a hostile file
// (a hundred thousand unknown keys) must not cost as many lines, nor the
// time to sort them. The next one is replaced by a note that some are left out.
const MaxDiagnostics = 1000

func (r Reporter) add(sev Severity, path, format string, args ...any) {
	switch n := len(*r.Diags); {
	case n > MaxDiagnostics:
		return
	case n == MaxDiagnostics:
		*r.Diags = append(*r.Diags, Diagnostic{Pos: r.Src.PosOf(""), Severity: Error,
			Message: fmt.Sprintf("more than %d problems: the rest are not reported; fix these first", MaxDiagnostics)})
		return
	}
	*r.Diags = append(*r.Diags, Diagnostic{Pos: r.Src.PosOf(path), Path: path, Message: fmt.Sprintf(format, args...), Severity: sev})
}

// JoinPath appends a key or an index to a path.
func JoinPath(base string, elem any) string {
	switch e := elem.(type) {
	case int:
		return fmt.Sprintf("%s[%d]", base, e)
	case string:
		if base == "" {
			return e
		}
		return base + "." + e
	}
	return base
}
