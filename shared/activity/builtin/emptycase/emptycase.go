// Package emptycase holds one campaign per activity type in which every
// input of the type's activity (id "subject") is an empty population, and
// the check a run of it must pass: the run succeeds, and every activity
// succeeds or is skipped with 0 on each activated port. Tests walk the
// registry with Missing, so a new type without a case fails them.
package emptycase

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stepwise-run/stepwise/shared/runner"
)

//go:embed cases
var cases embed.FS

// Subject is the id of the activity under test in every case.
const Subject = "subject"

// Types lists the activity types that have a case, sorted.
func Types() []string {
	entries, _ := fs.ReadDir(cases, "cases")
	var out []string
	for _, e := range entries {
		if t, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Missing lists the registered types (types) that have no case.
func Missing(types []string) []string {
	have := map[string]bool{}
	for _, t := range Types() {
		have[t] = true
	}
	var out []string
	for _, t := range types {
		if !have[t] {
			out = append(out, t)
		}
	}
	return out
}

// WriteTo writes the cases and the files they read into dir and returns the
// campaign file of each type.
func WriteTo(dir string) (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(cases, "cases", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := cases.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, d.Name())
		if t, ok := strings.CutSuffix(d.Name(), ".yaml"); ok {
			files[t] = dst
		}
		return os.WriteFile(dst, b, 0o600)
	})
	return files, err
}

// Check says how a run's summary fails the case of type typ.
func Check(typ string, s *runner.Summary) error {
	var bad []string
	if s.Status != "succeeded" {
		bad = append(bad, fmt.Sprintf("run %s: %s", s.Status, s.Reason))
	}
	sub, ok := s.Activities[Subject]
	if !ok {
		bad = append(bad, "the "+typ+" activity did not run")
	}
	if ok && sub.Status != "succeeded" && sub.Status != "skipped" {
		bad = append(bad, fmt.Sprintf("the %s activity is %s", typ, sub.Status))
	}
	ids := make([]string, 0, len(s.Activities))
	for id := range s.Activities {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := s.Activities[id]
		if a.Status != "succeeded" && a.Status != "skipped" {
			bad = append(bad, fmt.Sprintf("%s: %s %s", id, a.Status, a.Error))
		}
		for port, n := range a.Ports {
			if n != 0 {
				bad = append(bad, fmt.Sprintf("%s.%s: %d rows from an empty population", id, port, n))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s", strings.Join(bad, "\n"))
	}
	return nil
}
