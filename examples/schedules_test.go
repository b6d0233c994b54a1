package examples_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/scheduler"
	"github.com/stepwise-run/stepwise/shared/state"
)

// scheduleIn reads the schedule of a campaign file: the campaign's, or that of its
// scheduler activity (which the compiler lifts into it). ok is false for a file that
// is not a valid campaign (catalogs, fixtures of invalid campaigns).
func scheduleIn(file string, data []byte) (s *state.Schedule, ok bool, err error) {
	c, diags := campaign.ParseCampaign(file, data)
	if c == nil || diags.HasErrors() || len(c.Activities) == 0 {
		return nil, false, nil
	}
	cs := c.Schedule
	for _, a := range c.Activities {
		if cs == nil && a.Type == "scheduler" {
			cs = &campaign.Schedule{}
			if err := a.Node.Decode(cs); err != nil {
				return nil, true, err
			}
		}
	}
	if cs == nil {
		return nil, true, nil
	}
	return &state.Schedule{Cron: cs.Cron, Every: cs.Every, At: cs.At, From: cs.From, Until: cs.Until, Timezone: c.Timezone}, true, nil
}

// Nothing committed expires: every campaign under examples/ and the repository's
// testdata folders still has a slot to run for a clock ten years ahead, so examples
// and the tests that publish them work on any date.
func TestCommittedSchedulesDoNotExpire(t *testing.T) {
	later := time.Now().AddDate(10, 0, 0)
	seen := map[string]bool{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "node_modules" || n == ".cache" {
				return fs.SkipDir
			}
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		inScope := dir == "../examples" || strings.Contains(dir+"/", "/testdata/")
		if ext := filepath.Ext(path); !inScope || ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s, ok, err := scheduleIn(path, data)
		if err != nil {
			t.Errorf("%s: %v", path, err)
		}
		if !ok || s == nil {
			return nil
		}
		seen[filepath.ToSlash(path)] = true
		if err := scheduler.CheckNotExpired(*s, later); err != nil {
			t.Errorf("%s: %v (ten years on); a committed campaign must not expire: drop the dated window, or write it in the test relative to its clock", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk found what it must check: a campaign schedule and a scheduler activity.
	for _, f := range []string{"../examples/newsletter.yaml", "../shared/api/testdata/flow.yaml"} {
		if !seen[f] {
			t.Errorf("%s: its schedule was not checked (checked: %v)", f, seen)
		}
	}

	// And the check fails for a window that ends before then.
	data, err := os.ReadFile("newsletter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	until := time.Now().AddDate(1, 0, 0).Format("2006-01-02")
	dated := strings.Replace(string(data), "  cron: \"0 9 * * 1\"\n", "  cron: \"0 9 * * 1\"\n  until: "+until+"\n", 1)
	s, _, err := scheduleIn("newsletter.yaml", []byte(dated))
	if err != nil || s == nil || s.Until != until {
		t.Fatalf("the dated newsletter: %+v %v", s, err)
	}
	if scheduler.CheckNotExpired(*s, later) == nil {
		t.Fatal("a window ending in a year is not caught ten years on")
	}
}
