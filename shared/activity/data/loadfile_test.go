package data_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

const lfCatalog = `version: 1
tables:
  - name: customers
    key: [customerId]
    columns:
      - { name: customerId, type: string }
      - { name: email, type: string }
`

// lfCampaign wraps one load-file activity (id f) reading {param: file}.
func lfCampaign(activityYAML string) string {
	return `version: 1
id: lf-test
dimension: customers
timezone: Europe/Paris
parameters:
  file: { type: string }
activities:
  - id: f
    type: load-file
    file: { param: file }
` + activityYAML
}

type lfResult struct {
	res     *activity.Result
	err     error
	out     []string
	rejects []string
}

// loadFile runs load-file on data (written as file name beside the
// campaign) and returns its ports' rows.
func loadFile(t *testing.T, h *home, activityYAML, name string, data []byte) lfResult {
	t.Helper()
	p := h.compile(map[string]string{"campaign.yaml": lfCampaign(activityYAML), "catalog.yaml": lfCatalog, name: string(data)})
	runs++
	return h.runLoad(p, name, fmt.Sprintf("run-%d", runs))
}

var runs int

func (h *home) runLoad(p *compile.Program, file, runID string) lfResult {
	res, err := h.run(h.env, p, request(p, "f", runID, false, map[string]any{"file": file}))
	r := lfResult{res: res, err: err}
	if err == nil {
		r.out = h.rows(*res.Ports["out"])
		r.rejects = h.rows(*res.Ports["rejects"])
		if res.Counts["out"] != int64(len(r.out)) || res.Counts["rejects"] != int64(len(r.rejects)) {
			h.t.Errorf("counts %v do not match the rows (%d, %d)", res.Counts, len(r.out), len(r.rejects))
		}
	}
	return r
}

func TestLoadFileCSVEdges(t *testing.T) {
	h := newHome(t)
	// Line 1 header (after a BOM), 2 quoted comma, 3 blank, 4 bad integer,
	// 5-6 a quoted line break, 7 doubled quotes, 8 whitespace-only, 9 a
	// trailing delimiter, 10 one field too many, 11 one too few, 12 no final
	// newline. CRLF line ends throughout.
	data := "\xef\xbb\xbfemail,points,note\r\n" +
		"A@X.com,10,\"hello, world\"\r\n" +
		"\r\n" +
		"b@x.com,abc,plain\r\n" +
		"\"c@x.com\",5,\"multi\r\nline\"\r\n" +
		"d@x.com, 7 ,\"say \"\"hi\"\"\"\r\n" +
		"   \r\n" +
		"e@x.com,8,trailing,\r\n" +
		"f@x.com,9,x,extra\r\n" +
		"g@x.com,10\r\n" +
		",11,no email"
	r := loadFile(t, h, `    format: csv
    columns:
      - { name: email, type: string, required: true, transform: lower }
      - { name: points, type: integer }
      - { name: note }
`, "leads.csv", []byte(data))
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "out", r.out, []string{
		"a@x.com|10|hello, world",
		"c@x.com|5|multi\r\nline",
		`d@x.com|7|say "hi"`,
		"e@x.com|8|trailing",
	})
	equal(t, "rejects", r.rejects, []string{
		`4|points: the value is not an integer|b@x.com,abc,plain`,
		"10|the line has 4 fields, expected 3|f@x.com,9,x,extra",
		"11|the line has 2 fields, expected 3|g@x.com,10",
		"12|email: required value is missing|,11,no email",
	})
	if r.res.Counts["out"] != 4 || r.res.Counts["rejects"] != 4 {
		t.Errorf("counts %v", r.res.Counts)
	}
}

func TestLoadFileOnError(t *testing.T) {
	h := newHome(t)
	data := "id;n_reject;n_null;n_default;day;at;flag;amount\n" +
		"1;5;6;7;31/01/2026;2026-01-31 10:00;yes;2.5\n" +
		"2;x;x;x;31/02/2026;2026-07-01 10:00;no;1e3\n" +
		"3;;;;;2026-01-31T10:00:00Z;maybe;-4\n" +
		"4;9;9;9;01/12/2025;2026-01-31T10:00:00+02:00;0;x\n"
	r := loadFile(t, h, `    format: csv
    csv: { delimiter: ";" }
    columns:
      - { name: id, type: integer, required: true }
      - { name: n_reject, type: integer, onError: reject }
      - { name: n_null, type: integer, onError: "null" }
      - { name: n_default, type: integer, onError: default, default: -1 }
      - { name: day, type: date, format: "02/01/2006", onError: "null" }
      - { name: at, type: timestamp }
      - { name: flag, type: boolean, onError: "null" }
      - { name: amount, type: number, onError: "null" }
`, "in.csv", []byte(data))
	if r.err != nil {
		t.Fatal(r.err)
	}
	// Europe/Paris is UTC+1 in January, UTC+2 in July: naive timestamps are
	// campaign-zone wall time.
	equal(t, "out", r.out, []string{
		"1|5|6|7|2026-01-31T00:00:00Z|2026-01-31T09:00:00Z|true|2.5",
		"3|∅|∅|∅|∅|2026-01-31T10:00:00Z|∅|-4",
		"4|9|9|9|2025-12-01T00:00:00Z|2026-01-31T08:00:00Z|false|∅",
	})
	equal(t, "rejects", r.rejects, []string{
		`3|n_reject: the value is not an integer|2;x;x;x;31/02/2026;2026-07-01 10:00;no;1e3`,
	})
}

func TestLoadFileRejectReasonsAllColumns(t *testing.T) {
	h := newHome(t)
	data := "a,b,c\n,x,2026-13-01\n"
	r := loadFile(t, h, `    columns:
      - { name: a, required: true }
      - { name: b, type: integer }
      - { name: c, type: date }
`, "x.csv", []byte(data))
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "rejects", r.rejects, []string{
		`2|a: required value is missing; b: the value is not an integer; c: the value is not a date (YYYY-MM-DD)|,x,2026-13-01`,
	})
}

func TestLoadFileTransformsAndTSV(t *testing.T) {
	h := newHome(t)
	// Two lines skipped before the header; the header names differ in case
	// and order from the columns; `source` maps a renamed column.
	data := "exported by CRM\n# 2026-03-01\nEMAIL\tCode\tLabel\tignored\n  Ann@Example.COM  \tab-1\t  Mixed Case  \tz\n"
	r := loadFile(t, h, `    format: tsv
    csv: { skipLines: 2 }
    columns:
      - { name: code, transform: upper }
      - { name: email, transform: trim }
      - { name: label, source: Label, transform: lower }
`, "in.tsv", []byte(data))
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "out", r.out, []string{"AB-1|Ann@Example.COM|  mixed case  "})
	if len(r.rejects) != 0 {
		t.Errorf("rejects: %v", r.rejects)
	}
}

func TestLoadFileNoHeader(t *testing.T) {
	h := newHome(t)
	data := "x@y.z|3\n\"q|r\"|4\n"
	r := loadFile(t, h, `    csv: { header: false, delimiter: "|" }
    columns:
      - { name: email }
      - { name: n, type: integer }
`, "in.csv", []byte(data))
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "out", r.out, []string{"x@y.z|3", "q|r|4"})
	// Another quote character; the default quote is then plain text.
	r = loadFile(t, h, `    csv: { quote: "'" }
    columns:
      - { name: a }
      - { name: b }
`, "q.csv", []byte("a,b\n'x, y','it''s'\n\"z\",w\n"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "quote out", r.out, []string{"x, y|it's", `"z"|w`})
}

func TestLoadFileMaxErrors(t *testing.T) {
	h := newHome(t)
	var b strings.Builder
	b.WriteString("email,n\n")
	for i := 1; i <= 10; i++ {
		if i%3 == 0 {
			fmt.Fprintf(&b, "e%d@x.com,bad%d\n", i, i)
		} else {
			fmt.Fprintf(&b, "e%d@x.com,%d\n", i, i)
		}
	}
	// 3 bad lines (4, 7, 10): maxErrors 3 passes, 2 fails.
	cfg := func(max int) string {
		return fmt.Sprintf("    maxErrors: %d\n    columns:\n      - { name: email }\n      - { name: n, type: integer }\n", max)
	}
	r := loadFile(t, h, cfg(3), "in.csv", []byte(b.String()))
	if r.err != nil || r.res.Counts["rejects"] != 3 || r.res.Counts["out"] != 7 {
		t.Fatalf("maxErrors 3: %v %+v", r.err, r.res)
	}
	r = loadFile(t, h, cfg(2), "in.csv", []byte(b.String()))
	if r.err == nil {
		t.Fatal("maxErrors 2: expected a failure")
	}
	want := `load-file: in.csv: 3 lines rejected, more than maxErrors (2): line 4: n: the value is not an integer; line 7: n: the value is not an integer; line 10: n: the value is not an integer`
	if r.err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", r.err, want)
	}
	if _, ok := r.err.(*activity.InvalidInput); !ok {
		t.Errorf("error type %T, want *activity.InvalidInput", r.err)
	}
}

func TestLoadFileMaxErrorsNothingWritten(t *testing.T) {
	h := newHome(t)
	r := loadFile(t, h, "    maxErrors: 0\n    columns:\n      - { name: n, type: integer }\n", "in.csv", []byte("n\n1\nx\n"))
	if r.err == nil || !strings.Contains(r.err.Error(), "1 lines rejected, more than maxErrors (0): line 3: n: the value is not an integer") {
		t.Fatalf("err %v", r.err)
	}
	keys, err := blob.Keys(context.Background(), h.blob, "runs/")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("a failed load-file wrote %v", keys)
	}
}

func TestLoadFileBrokenFiles(t *testing.T) {
	h := newHome(t)
	cols := "    columns:\n      - { name: email }\n      - { name: n, type: integer }\n"
	for _, c := range []struct{ name, data, want string }{
		{"unbalanced", "email,n\na,1\nb,\"2\nc,3\n", "load-file: in.csv:3: a quoted field is never closed (unbalanced quote)"},
		{"header", "mail,n\na,1\n", `load-file: in.csv:1: the header has no column "email" (it has 2 columns); set ` + "`source`" + ` to the header name, or ` + "`csv.header: false`"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := loadFile(t, h, cols, "in.csv", []byte(c.data))
			if r.err == nil || r.err.Error() != c.want {
				t.Errorf("err:\n got %v\nwant %s", r.err, c.want)
			}
		})
	}
	// Text after a closing quote and invalid UTF-8 reject the line only.
	r := loadFile(t, h, cols, "in.csv", []byte("email,n\n\"a\"x,1\nb\xff,2\nc,3\n"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "out", r.out, []string{"c|3"})
	equal(t, "rejects", r.rejects, []string{
		`2|unexpected text after the closing quote of field 1|"a"x,1`,
		"3|the line is not valid UTF-8 text|b\uFFFD,2",
	})
}

// A record of several MiB (within the 8 MiB bound) loads; DuckDB's own
// 2 MB line limit does not apply.
func TestLoadFileLongRecord(t *testing.T) {
	h := newHome(t)
	long := strings.Repeat("x", 3<<20)
	r := loadFile(t, h, "    columns:\n      - { name: a }\n      - { name: n, type: integer }\n", "in.csv",
		[]byte("a,n\n\""+long+"\",1\n"+long+",x\n"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.out) != 1 || len(r.out[0]) != len(long)+2 || len(r.rejects) != 1 || !strings.HasPrefix(r.rejects[0], `3|n: the value is not an integer|xxx`) {
		t.Errorf("out %d rows, rejects %d", len(r.out), len(r.rejects))
	}
	if raw := r.rejects[0][strings.LastIndex(r.rejects[0], "|")+1:]; !strings.HasSuffix(raw, "…") || len(raw) != 4096+len("…") {
		t.Errorf("raw of a long line: %d bytes", len(raw))
	}
}

func TestLoadFileEmpty(t *testing.T) {
	h := newHome(t)
	cols := "    columns:\n      - { name: email }\n"
	for _, data := range []string{"", "email\n", "\xef\xbb\xbfemail\r\n\r\n"} {
		r := loadFile(t, h, cols, "in.csv", []byte(data))
		if r.err != nil || len(r.out) != 0 || len(r.rejects) != 0 {
			t.Errorf("%q: %v %v %v", data, r.err, r.out, r.rejects)
		}
	}
}

func TestLoadFileJSONL(t *testing.T) {
	h := newHome(t)
	data := "\xef\xbb\xbf{\"email\":\"A@x.com\",\"n\":1,\"tags\":{\"a\": [1, 2]},\"ok\":true}\n" +
		"\n" +
		"{\"email\":\"b@x.com\",\"n\":\"2\",\"ok\":false}\n" +
		"not json\n" +
		"[1,2]\n" +
		"{\"email\":null,\"n\":3.5}\n" +
		"{\"EMAIL\":\"c@x.com\",\"n\":-7}"
	r := loadFile(t, h, `    columns:
      - { name: email, transform: lower }
      - { name: n, type: integer }
      - { name: tags, type: json }
      - { name: ok, type: boolean }
`, "in.jsonl", []byte(data))
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "out", r.out, []string{
		`a@x.com|1|map[a:[1 2]]|true`,
		"b@x.com|2|∅|false",
		"c@x.com|-7|∅|∅",
	})
	if len(r.rejects) != 3 || !strings.HasPrefix(r.rejects[0], "4|invalid JSON") || r.rejects[1] != "5|not a JSON object|[1,2]" ||
		r.rejects[2] != `6|n: the value is not an integer|{"email":null,"n":3.5}` {
		t.Errorf("rejects: %q", r.rejects)
	}
}

func TestLoadFileParquet(t *testing.T) {
	h := newHome(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "in.parquet")
	if err := h.engine().Exec(context.Background(), "COPY (SELECT * FROM (VALUES (1, 'A@x.com', DATE '2026-01-02', '10'), (2, 'b@x.com', NULL, 'x'), (3, NULL, DATE '2026-01-03', '7')) t(id, email, day, n)) TO '"+file+"' (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// The date column is native: its format does not apply.
	r := loadFile(t, h, `    columns:
      - { name: id, type: integer }
      - { name: email, required: true, transform: lower }
      - { name: day, type: date, format: "02/01/2006" }
      - { name: n, type: integer }
`, "in.parquet", data)
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "out", r.out, []string{"1|a@x.com|2026-01-02T00:00:00Z|10"})
	equal(t, "rejects", r.rejects, []string{
		`2|n: the value is not an integer|{"id":2,"email":"b@x.com","day":null,"n":"x"}`,
		`3|email: required value is missing|{"id":3,"email":null,"day":"2026-01-03","n":"7"}`,
	})
	// Without columns, parquet keeps its own types.
	r = loadFile(t, h, "", "in.parquet", data)
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "untyped out", r.out, []string{"1|A@x.com|2026-01-02T00:00:00Z|10", "2|b@x.com|∅|x", "3|∅|2026-01-03T00:00:00Z|7"})
}

func TestLoadFileGzipAndS3(t *testing.T) {
	h := newHome(t)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("email\nA@x.com\n\nb@x.com\n"))
	w.Close()
	cols := "    columns:\n      - { name: email, transform: lower }\n"
	r := loadFile(t, h, cols, "in.csv.gz", gz.Bytes())
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "gzip out", r.out, []string{"a@x.com", "b@x.com"})

	bucket, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := bucket.Put(context.Background(), "in/leads.csv", strings.NewReader("email\nC@x.com\n")); err != nil {
		t.Fatal(err)
	}
	h.env.deps.Roots = &fileroot.Roots{S3: []string{"s3://partner/in/"}}
	h.env.deps.Data.Buckets = func(name string) (blob.Store, error) {
		if name != "partner" {
			return nil, fmt.Errorf("no bucket %s", name)
		}
		return bucket, nil
	}
	p := h.compile(map[string]string{"campaign.yaml": lfCampaign("    columns:\n      - { name: email, transform: lower }\n"), "catalog.yaml": lfCatalog})
	r = h.runLoad(p, "s3://partner/in/leads.csv", "run-s3")
	if r.err != nil {
		t.Fatal(r.err)
	}
	equal(t, "s3 out", r.out, []string{"c@x.com"})
	r = h.runLoad(p, "s3://partner/in/missing.csv", "run-s3-missing")
	if r.err == nil || r.err.Error() != "load-file: s3://partner/in/missing.csv not found" {
		t.Errorf("missing object: %v", r.err)
	}
	// Objects outside the configured prefixes are refused before any read.
	if err := bucket.Put(context.Background(), "private/leads.csv", strings.NewReader("email\nD@x.com\n")); err != nil {
		t.Fatal(err)
	}
	r = h.runLoad(p, "s3://partner/private/leads.csv", "run-s3-outside")
	if r.err == nil || !strings.Contains(r.err.Error(), `load-file: file (parameter "file"): "s3://partner/private/leads.csv" is outside`) ||
		!strings.Contains(r.err.Error(), "s3://partner/in/") {
		t.Errorf("object outside the prefixes: %v", r.err)
	}
}

// A retried task returns the same datasets without reading the file again.
func TestLoadFileRetry(t *testing.T) {
	h := newHome(t)
	p := h.compile(map[string]string{"campaign.yaml": lfCampaign("    columns:\n      - { name: n, type: integer }\n"), "catalog.yaml": lfCatalog,
		"a.csv": "n\n1\nx\n3\n"})
	r1 := h.runLoad(p, "a.csv", "run-r")
	if r1.err != nil {
		t.Fatal(r1.err)
	}
	// Another run on the same file writes the same bytes.
	r0 := h.runLoad(p, "a.csv", "run-other")
	for _, port := range []string{"out", "rejects"} {
		m1, err1 := dataset.ReadManifest(context.Background(), h.blob, dataset.Ref(*r1.res.Ports[port]))
		m0, err0 := dataset.ReadManifest(context.Background(), h.blob, dataset.Ref(*r0.res.Ports[port]))
		if err1 != nil || err0 != nil || fmt.Sprint(m1.Files) != fmt.Sprint(m0.Files) {
			t.Errorf("%s: files differ between runs: %v %v (%v %v)", port, m1, m0, err1, err0)
		}
	}
	os.Remove(filepath.Join(p.Campaign.Dir(), "a.csv"))
	r2 := h.runLoad(p, "a.csv", "run-r")
	if r2.err != nil {
		t.Fatal(r2.err)
	}
	if *r1.res.Ports["out"] != *r2.res.Ports["out"] || fmt.Sprint(r1.res.Counts) != fmt.Sprint(r2.res.Counts) {
		t.Errorf("retry differs: %+v vs %+v", r1.res, r2.res)
	}
	equal(t, "retry rows", r2.out, r1.out)
}

// Line numbers stay exact on a large file with quoted line breaks spread
// through it (DuckDB reads the normalized file in parallel).
func TestLoadFileLargeLineNumbers(t *testing.T) {
	if testing.Short() {
		t.Skip("large file")
	}
	h := newHome(t)
	var b strings.Builder
	b.WriteString("id,text\n")
	line := 2
	var wantRejects []string
	for i := 1; i <= 200000; i++ {
		switch {
		case i%50000 == 0:
			fmt.Fprintf(&b, "x%d,bad\n", i)
			wantRejects = append(wantRejects, fmt.Sprintf(`%d|id: the value is not an integer|x%d,bad`, line, i))
			line++
		case i%1000 == 0:
			fmt.Fprintf(&b, "%d,\"two\nlines\"\n", i)
			line += 2
		case i%777 == 0:
			b.WriteString("\n")
			fmt.Fprintf(&b, "%d,after a blank line\n", i)
			line += 2
		default:
			fmt.Fprintf(&b, "%d,row %d\n", i, i)
			line++
		}
	}
	r := loadFile(t, h, "    columns:\n      - { name: id, type: integer }\n      - { name: text }\n", "big.csv", []byte(b.String()))
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.res.Counts["out"] != 199996 {
		t.Errorf("out %d", r.res.Counts["out"])
	}
	equal(t, "rejects", r.rejects, wantRejects)
	// Spot-check that out keeps file order.
	got := h.query(*r.res.Ports["out"], "SELECT count(*) FROM (SELECT id, lag(id) OVER () AS prev FROM v) WHERE prev IS NOT NULL AND id < prev")
	equal(t, "order", got, []string{"0"})
}

// With `dimension`, the rows are rows of that table (its key); without, file
// rows.
func TestLoadFileDimension(t *testing.T) {
	h := newHome(t)
	for _, c := range []struct{ cfg, dim, key string }{
		{"    dimension: customers\n", "customers", "[customerId]"},
		{"", "", "[]"},
	} {
		r := loadFile(t, h, c.cfg+"    columns:\n      - { name: customerId }\n      - { name: email }\n", "in.csv", []byte("customerId,email\nC1,a@x.com\n"))
		if r.err != nil {
			t.Fatal(r.err)
		}
		m, err := dataset.ReadManifest(context.Background(), h.blob, dataset.Ref(*r.res.Ports["out"]))
		if err != nil || m.Dimension != c.dim || fmt.Sprint(m.Key) != c.key {
			t.Errorf("%q: manifest %+v %v", c.cfg, m, err)
		}
	}
}

// load-file reads the campaign folder and the configured roots only: an
// absolute path elsewhere, a `..` that climbs out, a symlink pointing out
// and the Stepwise home (but its uploads) are refused, whether the path is
// in the campaign or passed as a run parameter.
func TestLoadFileConfined(t *testing.T) {
	h := newHome(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.csv")
	if err := os.WriteFile(secret, []byte("email\nsecret-row@x.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cols := "    columns:\n      - { name: email }\n"
	p := h.compile(map[string]string{"campaign.yaml": lfCampaign(cols), "catalog.yaml": lfCatalog, "in.csv": "email\nok@x.com\n"})
	dir := p.Campaign.Dir()
	// A Stepwise home inside the campaign folder (the default .stepwise),
	// with an upload and its unsubscribe key.
	homeDir := filepath.Join(dir, ".stepwise")
	for name, data := range map[string]string{"unsubscribe.key": "email\nKEY-0123456789abcdef\n", "uploads/u1/up.csv": "email\nup@x.com\n"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(homeDir, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(homeDir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := fileroot.MarkHome(homeDir); err != nil {
		t.Fatal(err)
	}
	h.env.deps.Roots = &fileroot.Roots{Dirs: []string{filepath.Join(homeDir, fileroot.UploadsDir)}}
	for _, link := range [][2]string{{secret, "evil.csv"}, {filepath.Join(homeDir, "unsubscribe.key"), "key.csv"}, {outside, "evildir"}} {
		if err := os.Symlink(link[0], filepath.Join(dir, link[1])); err != nil {
			t.Fatal(err)
		}
	}
	for i, file := range []string{"in.csv", filepath.Join(dir, "in.csv"), filepath.Join(homeDir, "uploads", "u1", "up.csv"), ".stepwise/uploads/u1/up.csv"} {
		r := h.runLoad(p, file, fmt.Sprintf("run-ok-%d", i))
		if r.err != nil || len(r.out) != 1 {
			t.Errorf("%s: %v %v", file, r.out, r.err)
		}
	}
	for i, file := range []string{secret, "/etc/passwd", "../" + filepath.Base(outside) + "/secret.csv", "evil.csv", "evildir/secret.csv",
		".stepwise/unsubscribe.key", filepath.Join(homeDir, "unsubscribe.key"), "key.csv", "file://" + secret} {
		r := h.runLoad(p, file, fmt.Sprintf("run-out-%d", i))
		if r.err == nil {
			t.Errorf("%s: read %v", file, r.out)
			continue
		}
		msg := r.err.Error()
		if !strings.HasPrefix(msg, `load-file: file (parameter "file"): `) || !strings.Contains(msg, dir) || strings.Contains(msg, "secret-row") || strings.Contains(msg, "KEY-0123") {
			t.Errorf("%s: %s", file, msg)
		}
	}
	// Without the campaign folder as a root (AWS), a file beside the
	// campaign is not read from the disk.
	h.env.deps.Roots = &fileroot.Roots{NoCampaignFolder: true}
	if r := h.runLoad(p, "in.csv", "run-no-folder"); r.err == nil || !strings.Contains(r.err.Error(), "is outside") {
		t.Errorf("no campaign folder: %v %v", r.out, r.err)
	}
	// ... but from the bundle, whose files the compiler read confined.
	req := request(p, "f", "run-bundle", false, map[string]any{"file": "bundled.csv"})
	req.Plan = h.withFiles(p, map[string][]byte{"bundled.csv": []byte("email\nbundled@x.com\n")})
	if res, err := h.run(h.env, p, req); err != nil || res.Counts["out"] != 1 {
		t.Errorf("a bundled file: %v %v", res, err)
	}
	h.env.deps.Roots = nil
	// The same, written in the campaign.
	p = h.compile(map[string]string{"campaign.yaml": strings.Replace(lfCampaign(cols), "{ param: file }", secret, 1), "catalog.yaml": lfCatalog})
	if _, err := h.run(h.env, p, request(p, "f", "run-path", false, nil)); err == nil || !strings.HasPrefix(err.Error(), "load-file: file: ") {
		t.Errorf("absolute path in the campaign: %v", err)
	}
}
