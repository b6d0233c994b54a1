package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stepwise-run/stepwise/examples"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// checkCatalogExists reports a catalog file that does not exist, with the
// full path looked for and how to name one; nil when it exists (or cannot
// be told: the compiler reports that).
func checkCatalogExists(campaignFile, catalogFlag string) error {
	if _, err := os.Stat(campaignFile); err != nil {
		return nil // the compiler names the missing campaign file
	}
	file := catalogFlag
	if file == "" {
		file = filepath.Join(filepath.Dir(campaignFile), "catalog.yaml")
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	abs, _ := filepath.Abs(file)
	if catalogFlag != "" {
		return fmt.Errorf("no catalog: --catalog %s: %s does not exist", catalogFlag, abs)
	}
	return fmt.Errorf("no catalog: %s does not exist. A campaign compiles against the catalog of its tables: "+
		"put catalog.yaml beside the campaign, or name one with --catalog FILE", abs)
}

// exampleDataHint returns, when cat is the repository's examples
// catalog (byte for byte the one `stepwise demo` embeds) and sample-data
// files it names are missing, a message naming them and the command that
// makes them; "" otherwise. Other catalogs' data is the user's: nothing is
// suggested or generated for them.
func exampleDataHint(cat *campaign.Catalog) string {
	if cat == nil || cat.File == "" {
		return ""
	}
	data, err := os.ReadFile(cat.File)
	if err != nil {
		return ""
	}
	embedded, err := examples.FS.ReadFile("catalog.yaml")
	if err != nil || !bytes.Equal(data, embedded) {
		return ""
	}
	var missing []string
	for _, t := range cat.Tables {
		if t.Source == "" || strings.Contains(t.Source, "://") {
			continue
		}
		loc := cat.Resolve(t.Source)
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, loc)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	out := filepath.Join(cat.Dir(), "data")
	return fmt.Sprintf("%s does not exist: the examples' sample data is generated, not committed; make it with\n"+
		"  stepwise sample-data --out %s", strings.Join(missing, ", "), shellWord(out))
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printExampleDataHint prints exampleDataHint's message, if any, and
// reports whether it did.
func printExampleDataHint(w io.Writer, cmd string, p *compile.Program) bool {
	if p == nil {
		return false
	}
	h := exampleDataHint(p.Catalog)
	if h == "" {
		return false
	}
	fmt.Fprintf(w, "stepwise %s: %s\n", cmd, h)
	return true
}
