package fileroot_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/fileroot"
)

// layout builds a campaign folder holding a Stepwise home (the default
// .stepwise) with a secret and an upload, and a secret outside.
//
//	out/secret.txt
//	camp/in.csv, camp/sub/in.csv
//	camp/.stepwise/{.stepwise-home, unsubscribe.key, uploads/u1/up.csv}
func layout(t *testing.T) (camp, home, out string) {
	t.Helper()
	base := t.TempDir()
	camp, out = filepath.Join(base, "camp"), filepath.Join(base, "out")
	home = filepath.Join(camp, ".stepwise")
	for name, data := range map[string]string{
		filepath.Join(out, "secret.txt"):                   "TOPSECRET",
		filepath.Join(camp, "in.csv"):                      "a\n1\n",
		filepath.Join(camp, "sub", "in.csv"):               "a\n2\n",
		filepath.Join(home, "unsubscribe.key"):             "KEYKEYKEY",
		filepath.Join(home, "uploads", "u1", "up.csv"):     "a\n3\n",
		filepath.Join(home, "blob", "datasets", "p.jsonl"): "{}",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := fileroot.MarkHome(home); err != nil {
		t.Fatal(err)
	}
	return camp, home, out
}

func TestOpenAdmits(t *testing.T) {
	camp, home, _ := layout(t)
	r := fileroot.Roots{Dirs: []string{camp, filepath.Join(home, "uploads")}}
	for name, want := range map[string]string{
		"in.csv":                             "a\n1\n",
		"./sub/in.csv":                       "a\n2\n",
		"sub/../in.csv":                      "a\n1\n",
		filepath.Join(camp, "sub", "in.csv"): "a\n2\n",
		"file://" + filepath.Join(camp, "in.csv"):      "a\n1\n",
		filepath.Join(home, "uploads", "u1", "up.csv"): "a\n3\n",
		".stepwise/uploads/u1/up.csv":                  "a\n3\n",
	} {
		got, err := r.ReadFile(camp, name)
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
	// A symlink that stays inside the roots is followed.
	if err := os.Symlink(filepath.Join(home, "uploads", "u1", "up.csv"), filepath.Join(camp, "link.csv")); err != nil {
		t.Fatal(err)
	}
	if got, err := r.ReadFile(camp, "link.csv"); err != nil || string(got) != "a\n3\n" {
		t.Errorf("inner symlink: %q, %v", got, err)
	}
	if _, err := r.ReadFile(camp, "missing.csv"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestOpenRefusesEscapes(t *testing.T) {
	camp, home, out := layout(t)
	r := fileroot.Roots{Dirs: []string{camp, filepath.Join(home, "uploads")}}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(out, "secret.txt"), filepath.Join(camp, "evil.csv")))
	must(os.Symlink(out, filepath.Join(camp, "evildir")))
	must(os.Symlink(filepath.Join(home, "unsubscribe.key"), filepath.Join(camp, "key.csv")))
	must(os.Symlink(filepath.Join(home, "unsubscribe.key"), filepath.Join(home, "uploads", "u1", "key.csv")))
	for _, name := range []string{
		filepath.Join(out, "secret.txt"), // absolute, outside
		"/etc/passwd",                    // absolute, outside
		"../out/secret.txt",              // .. climbs out
		"sub/../../out/secret.txt",       // .. climbs out from below
		"evil.csv",                       // symlink to a file outside
		"evildir/secret.txt",             // symlinked folder outside
		".stepwise/unsubscribe.key",      // the home, inside the campaign folder
		filepath.Join(home, "unsubscribe.key"),
		".stepwise/blob/datasets/p.jsonl",  // the home's datasets
		".stepwise/" + fileroot.HomeMarker, // the marker itself
		"key.csv",                          // symlink into the home
		".stepwise/uploads/u1/key.csv",     // symlink from uploads into the home
		"file://" + filepath.Join(out, "secret.txt"),
	} {
		data, err := r.ReadFile(camp, name)
		var oe *fileroot.OutsideError
		if !errors.As(err, &oe) {
			t.Errorf("%s: read %q, err %v; want refused", name, data, err)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "TOPSECRET") || strings.Contains(msg, "KEYKEYKEY") || !strings.Contains(msg, camp) {
			t.Errorf("%s: message %q must name the roots and nothing read", name, msg)
		}
	}
	// With no roots nothing is readable.
	if _, err := (fileroot.Roots{}).ReadFile(camp, "in.csv"); err == nil {
		t.Error("no roots: read")
	}
}

// The home is refused even when it is itself a root.
func TestOpenHomeAsRoot(t *testing.T) {
	_, home, _ := layout(t)
	r := fileroot.Roots{Dirs: []string{home}}
	if _, err := r.ReadFile(home, "unsubscribe.key"); err == nil {
		t.Error("read the key through a root at the home")
	}
	if got, err := r.ReadFile(home, "uploads/u1/up.csv"); err != nil || string(got) != "a\n3\n" {
		t.Errorf("upload: %q, %v", got, err)
	}
}

func TestCheckS3(t *testing.T) {
	r := fileroot.Roots{S3: []string{"s3://data/stepwise/uploads/", "s3://partner/in", "s3://whole"}}
	for uri, ok := range map[string]bool{
		"s3://data/stepwise/uploads/u1/a.csv": true,
		"s3://data/stepwise/other/a.csv":      false,
		"s3://data/stepwise/uploads/../x.csv": false,
		"s3://data/stepwise/uploads//a.csv":   false,
		"s3://partner/in/a.csv":               true,
		"s3://partner/inbox.csv":              false,
		"s3://whole/any/key.csv":              true,
		"s3://other/a.csv":                    false,
		"s3://whole/":                         false,
	} {
		if err := r.CheckS3(uri); (err == nil) != ok {
			t.Errorf("%s: %v, want admitted=%v", uri, err, ok)
		}
	}
}

func TestRootsAdd(t *testing.T) {
	var r fileroot.Roots
	for _, root := range []string{"s3://b/p/", "rel/dir"} {
		if err := r.Add(root); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Add("s3:///x"); err == nil {
		t.Error("s3 without a bucket admitted")
	}
	if len(r.S3) != 1 || len(r.Dirs) != 1 || !filepath.IsAbs(r.Dirs[0]) {
		t.Errorf("roots %+v", r)
	}
}

func TestDisplay(t *testing.T) {
	camp, home, _ := layout(t)
	r := fileroot.Roots{Dirs: []string{camp, filepath.Join(home, "uploads")}}
	for name, want := range map[string]string{
		"sub/in.csv": "sub/in.csv",
		filepath.Join(home, "uploads", "u1", "up.csv"): ".stepwise/uploads/u1/up.csv",
	} {
		real, err := r.Resolve(camp, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Display(camp, real); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	up := fileroot.Roots{Dirs: []string{filepath.Join(home, "uploads")}}
	real, err := up.Resolve(t.TempDir(), filepath.Join(home, "uploads", "u1", "up.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if got := up.Display(t.TempDir(), real); got != "uploads/u1/up.csv" {
		t.Errorf("upload outside the campaign folder: %s", got)
	}
}
