package awsshape_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/state"
)

// sampleCustomers is the size of the generated data set: small enough for
// CI, large enough for every branch of the examples to see rows.
const sampleCustomers = 1500

var sample struct {
	once sync.Once
	dir  string
	err  error
}

// sampleData generates the demo data set once per test binary.
func sampleData(t *testing.T) string {
	t.Helper()
	sample.once.Do(func() {
		sample.dir, sample.err = os.MkdirTemp("", "stepwise-shape-data-")
		if sample.err == nil {
			sample.err = sampledata.Generate(context.Background(), sample.dir, sampledata.Options{Customers: sampleCustomers})
		}
	})
	if sample.err != nil {
		t.Fatal(sample.err)
	}
	return sample.dir
}

// s3Examples copies examples/ into a folder whose catalog reads the tables
// from s3://bucket/data/ (see uploadSample) and returns the folder.
func s3Examples(t *testing.T) string {
	t.Helper()
	root, dir := repoRoot(t), t.TempDir()
	copyTree(t, filepath.Join(root, "examples"), dir)
	cat, err := os.ReadFile(filepath.Join(root, "examples", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s3cat := strings.ReplaceAll(string(cat), "source: data/", "source: s3://"+bucket+"/data/")
	if err := os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(s3cat), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// uploadSample puts the sample tables in the bucket, under data/.
func (sh *shape) uploadSample(t *testing.T) {
	t.Helper()
	sh.uploadTables(t, sampleData(t))
}

// missingHandlers lists the functions among names whose activity type has
// no handler yet.
func missingHandlers(names []string) []string {
	reg := builtin.Registry()
	var out []string
	for _, n := range names {
		if s, ok := reg.ByFunction(n); ok && !s.Runs() {
			out = append(out, n)
		}
	}
	return out
}

// copyTree copies the files under src (recursively) into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExamples runs every example campaign AWS-style and locally on the same
// generated data, and requires the same status and counts on every
// activity and transition. On the AWS side the catalog tables and the
// imported file are read from S3 (s3:// sources); locally from a folder.
// An example whose activities still lack handlers is skipped by name.
func TestExamples(t *testing.T) {
	t.Parallel() // the long shapes run two at a time: they mostly wait on their functions
	runExamples(t, shapeOptions{}, examples)
}

// TestExamplesIAM runs the examples with IAM enforced (moto): each
// function has exactly its template policies, and no call may be denied.
func TestExamplesIAM(t *testing.T) {
	t.Parallel() // the long shapes run two at a time: they mostly wait on their functions
	sh := runExamples(t, shapeOptions{IAM: true}, examples)
	if d := sh.moto.denials(); len(d) > 0 {
		t.Errorf("IAM denied %d calls (template.yaml misses these permissions):\n%s", len(d), strings.Join(d, "\n"))
	}
}

type example struct {
	file     string
	local    map[string]any // parameters of the local run
	aws      map[string]any // of the AWS-shaped run
	uploaded []string       // files the AWS run reads from S3, under uploads/ (where load-file may read)
}

var examples = []example{
	{file: "winback.yaml"},
	{file: "newsletter.yaml"},
	{file: "import.yaml", aws: map[string]any{"file": "s3://" + bucket + "/uploads/files/leads.csv"}, uploaded: []string{"files/leads.csv"}},
	// Its counts depend on the day: the local run starts at the AWS run's instant.
	{file: "birthday.yaml"},
}

// runExamples runs examples in a shape started with o and locally, and
// compares them.
func runExamples(t *testing.T, o shapeOptions, examples []example) *shape {
	t.Helper()
	sh, runs, localRuns, need := prepareExamples(t, o, examples)
	// The first call of each of these fails after doing its work (its result
	// is lost): Step Functions retries it, and the counts must not change.
	faults := 0
	for _, fn := range []string{"BuildAudience", "LoadFile"} {
		if need[fn] {
			sh.fns.Router.Inject(lambdalocal.Fault{Function: fn, After: true})
			faults++
		}
	}
	start := time.Now()
	outs := sh.runAWS(t, runs)
	t.Logf("%d examples AWS-style in %s", len(runs), time.Since(start).Round(time.Millisecond))
	// Every sent message reached the fake provider, once.
	var sent int64
	for i, r := range runs {
		var sum struct {
			Activities map[string]struct {
				Ports map[string]int64 `json:"ports"`
			} `json:"activities"`
		}
		json.Unmarshal(outs[i].Output, &sum)
		for id, a := range sum.Activities {
			if spec, ok := r.program.Specs[id]; ok && spec.Family == activity.Channel {
				sent += a.Ports["out"]
			}
		}
	}
	email, push, sms := sh.sent()
	if got := int64(email + push + sms); got != sent {
		t.Errorf("providers received %d messages, the runs report %d sent", got, sent)
	}
	t.Logf("messages: %d email (SESv2), %d push (SNS), %d SMS", email, push, sms)
	retries := 0
	for i := range runs {
		sh.checkAgainst(t, localRuns[i], runs[i], outs[i])
		retries += len(outs[i].Retries())
	}
	if retries != faults {
		t.Errorf("%d retries, want %d (the injected failures)", retries, faults)
	}
	sh.logInvocations(t)
	return sh
}

// prepareExamples starts a shape for examples (with o) holding their data
// and uploads, and compiles each for both runtimes.
func prepareExamples(t *testing.T, o shapeOptions, examples []example) (sh *shape, runs, localRuns []run, need map[string]bool) {
	t.Helper()
	root := repoRoot(t)
	data := sampleData(t)
	local, remote := t.TempDir(), t.TempDir()
	copyTree(t, filepath.Join(root, "examples"), local)
	copyTree(t, filepath.Join(root, "examples"), remote)
	copyTree(t, data, filepath.Join(local, "data"))
	os.Remove(filepath.Join(local, "data", "catalog.yaml"))
	cat, err := os.ReadFile(filepath.Join(root, "examples", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s3cat := strings.ReplaceAll(string(cat), "source: data/", "source: s3://"+bucket+"/data/")
	if err := os.WriteFile(filepath.Join(remote, "catalog.yaml"), []byte(s3cat), 0o644); err != nil {
		t.Fatal(err)
	}

	need = map[string]bool{}
	for _, ex := range examples {
		lp := compileFile(t, filepath.Join(local, ex.file), filepath.Join(local, "catalog.yaml"))
		rp := compileFile(t, filepath.Join(remote, ex.file), filepath.Join(remote, "catalog.yaml"))
		fns := functionsOf(rp.JSON)
		if miss := missingHandlers(fns); len(miss) > 0 {
			t.Fatalf("%s: functions without handlers: %s", ex.file, strings.Join(miss, ", "))
		}
		for _, f := range fns {
			need[f] = true
		}
		id := state.NewRunID()
		runs = append(runs, run{name: ex.file, program: rp, params: ex.aws, runID: id})
		localRuns = append(localRuns, run{name: ex.file, program: lp, params: ex.local, runID: id})
	}
	var names []string
	for n := range need {
		names = append(names, n)
	}
	sort.Strings(names)
	sh = startShapeWith(t, o, names...)
	ctx := context.Background()
	for _, name := range []string{"customers", "purchases", "stores"} {
		f, err := os.Open(filepath.Join(data, name+".parquet"))
		if err != nil {
			t.Fatal(err)
		}
		err = sh.blob.Put(ctx, "data/"+name+".parquet", f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, ex := range examples {
		for _, u := range ex.uploaded {
			f, err := os.Open(filepath.Join(local, u))
			if err != nil {
				t.Fatal(err)
			}
			if err := sh.blob.Put(ctx, "uploads/"+u, f); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	return sh, runs, localRuns, need
}
