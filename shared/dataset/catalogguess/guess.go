// Package catalogguess writes a starting catalog for data files: one table
// per file with its columns and types, a guessed key, links guessed from
// matching key names and targeting columns guessed from their names, each
// guess marked with a YAML comment for the user to check.
package catalogguess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// DefaultSample is the number of rows read from each file to guess types
// (files without types), keys and link cardinalities.
const DefaultSample = 10000

// Options configure Guess.
type Options struct {
	// Out is the catalog file the result is meant for: sources are written
	// relative to its folder, and the result is checked as that file.
	Out string
	// Sample is the number of leading rows read from each file; 0:
	// DefaultSample.
	Sample int
	// Engine runs the sampling queries.
	Engine *dataset.Engine
	// Probe reads the columns of files that carry types; nil: a new one.
	Probe *dataset.SchemaProbe
}

// Table is what was found about one file.
type Table struct {
	Name    string
	File    string // as given
	Source  string // as written in the catalog
	Format  string
	Columns []campaign.Column
	Key     string
	Rows    int64 // rows in the sample
	// Guessed reports that the file carries no types: the column types
	// come from sniffing the sample.
	Guessed bool

	note      map[string]string // column name → comment
	keyNote   string
	unique    map[string]bool // distinct where not null, in the sample
	nonNull   map[string]bool // no null in the sample
	links     []link
	targeting []targetLine
}

type link struct {
	campaign.Link
	note string
}

type targetLine struct {
	field, column, note string
	consent             bool
}

// Result is a guessed catalog.
type Result struct {
	Tables []*Table
	YAML   []byte
}

// Guess reads files (local Parquet, CSV, TSV or JSON lines files) and returns
// a catalog for them. The catalog is checked as Options.Out before it is
// returned: a guess that does not validate is an error.
func Guess(ctx context.Context, files []string, o Options) (*Result, error) {
	if len(files) == 0 {
		return nil, errors.New("no file given")
	}
	if o.Sample <= 0 {
		o.Sample = DefaultSample
	}
	if o.Probe == nil {
		o.Probe = &dataset.SchemaProbe{}
	}
	if o.Out == "" {
		o.Out = "catalog.yaml"
	}
	outDir, err := filepath.Abs(filepath.Dir(o.Out))
	if err != nil {
		return nil, err
	}
	var tables []*Table
	byName := map[string]string{}
	for i, f := range files {
		t, err := readTable(ctx, f, i, outDir, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if prev, dup := byName[t.Name]; dup {
			return nil, fmt.Errorf("%s and %s would both be table %q: rename one of the files", prev, f, t.Name)
		}
		byName[t.Name] = f
		tables = append(tables, t)
	}
	for _, t := range tables {
		guessKey(t)
		guessTargeting(t)
	}
	guessLinks(tables)
	res := &Result{Tables: tables, YAML: render(tables)}
	if _, diags := campaign.ParseCatalogSchemas(ctx, o.Out, res.YAML, o.Probe); diags.HasErrors() {
		var msgs []string
		for _, d := range diags {
			msgs = append(msgs, d.String())
		}
		return nil, fmt.Errorf("the guessed catalog does not validate (please report this):\n%s", strings.Join(msgs, "\n"))
	}
	return res, nil
}

// formats by extension (a trailing .gz is ignored).
var formats = map[string]string{
	".parquet": dataset.FormatParquet,
	".csv":     dataset.FormatCSV,
	".tsv":     dataset.FormatTSV,
	".tab":     dataset.FormatTSV,
	".jsonl":   dataset.FormatJSONL,
	".ndjson":  dataset.FormatJSONL,
	".json":    dataset.FormatJSONL,
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// tableName derives a table name from a file name: the name without its
// extensions, characters other than letters, digits and _ replaced by _.
func tableName(file string) string {
	base := filepath.Base(file)
	base = strings.TrimSuffix(base, ".gz")
	base = strings.TrimSuffix(base, filepath.Ext(base))
	name := strings.Trim(nonIdent.ReplaceAllString(base, "_"), "_")
	if name == "" {
		name = "table"
	}
	if name[0] >= '0' && name[0] <= '9' {
		name = "t_" + name
	}
	return name
}

func readTable(ctx context.Context, file string, i int, outDir string, o Options) (*Table, error) {
	if strings.Contains(file, "://") {
		return nil, errors.New("catalog init reads local files only; copy the file here, or declare the table by hand")
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, errors.New("is a folder; name its files (one table per file)")
	}
	ext := strings.ToLower(filepath.Ext(strings.TrimSuffix(strings.ToLower(file), ".gz")))
	format, ok := formats[ext]
	if !ok {
		return nil, fmt.Errorf("unknown file type %q; valid: .parquet, .csv, .tsv, .jsonl (optionally .gz)", ext)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	src := filepath.ToSlash(abs)
	if rel, err := filepath.Rel(outDir, abs); err == nil {
		src = filepath.ToSlash(rel)
	}
	t := &Table{Name: tableName(file), File: file, Source: src, Format: format,
		note: map[string]string{}, unique: map[string]bool{}, nonNull: map[string]bool{}}

	cols, err := o.Probe.SourceColumns(ctx, abs)
	switch {
	case errors.Is(err, campaign.ErrNoSchema):
		t.Guessed = true
	case err != nil:
		return nil, err
	}
	e := o.Engine
	sample := fmt.Sprintf("catalog_guess_%d", i)
	reader := readFunction(abs, format, o.Sample, cols, t.Guessed)
	if err := e.Exec(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM %s LIMIT %d", sample, reader, o.Sample)); err != nil {
		return nil, err
	}
	if t.Guessed {
		if cols, err = e.Columns(ctx, "SELECT * FROM "+sample); err != nil {
			return nil, err
		}
		if format == dataset.FormatCSV || format == dataset.FormatTSV {
			if cols, err = checkCasts(ctx, e, abs, format, o.Sample, cols, t.note); err != nil {
				return nil, err
			}
		}
	}
	if len(cols) == 0 {
		return nil, errors.New("no column found")
	}
	t.Columns = cols
	return t, sampleStats(ctx, e, sample, t)
}

// readFunction returns the DuckDB table function reading the file as a run
// reads it; a CSV or TSV file with a typed header is read as text under the
// header's column names.
func readFunction(abs, format string, sample int, typed []campaign.Column, guessed bool) string {
	lit := dataset.QuoteLiteral(abs)
	switch format {
	case dataset.FormatParquet:
		return "read_parquet(" + lit + ")"
	case dataset.FormatJSONL:
		return fmt.Sprintf("read_json(%s, format = 'newline_delimited', sample_size = %d)", lit, sample)
	}
	delim := "','"
	if format == dataset.FormatTSV {
		delim = "'\t'"
	}
	if guessed {
		return fmt.Sprintf("read_csv(%s, delim = %s, header = true, sample_size = %d)", lit, delim, sample)
	}
	names := make([]string, len(typed))
	for i, c := range typed {
		names[i] = dataset.QuoteLiteral(c.Name)
	}
	return fmt.Sprintf("read_csv(%s, delim = %s, header = true, all_varchar = true, names = [%s])", lit, delim, strings.Join(names, ", "))
}

// checkCasts keeps a sniffed type only when every sampled value converts to
// it the way a run converts CSV text (a cast); other columns become
// strings, with a note.
func checkCasts(ctx context.Context, e *dataset.Engine, abs, format string, sample int, cols []campaign.Column, note map[string]string) ([]campaign.Column, error) {
	delim := "','"
	if format == dataset.FormatTSV {
		delim = "'\t'"
	}
	var checks []string
	var idx []int
	for i, c := range cols {
		if c.Type == campaign.TypeString {
			continue
		}
		t, err := dataset.DuckDBType(c)
		if err != nil {
			return nil, err
		}
		q := dataset.QuoteIdent(c.Name)
		checks = append(checks, fmt.Sprintf("count(*) FILTER (WHERE %s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL)", q, q, t))
		idx = append(idx, i)
	}
	if len(checks) == 0 {
		return cols, nil
	}
	row, err := e.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM (SELECT * FROM read_csv(%s, delim = %s, header = true, all_varchar = true) LIMIT %d)",
		strings.Join(checks, ", "), dataset.QuoteLiteral(abs), delim, sample))
	if err != nil {
		return nil, err
	}
	out := append([]campaign.Column(nil), cols...)
	for j, i := range idx {
		if bad := row[j].(int64); bad > 0 {
			note[cols[i].Name] = fmt.Sprintf("guessed: string (looked like %s, but %d values do not convert)", cols[i].Type, bad)
			out[i] = campaign.Column{Name: cols[i].Name, Type: campaign.TypeString}
		}
	}
	return out, nil
}

// keyTypes are the types a guessed key or link column may have.
var keyTypes = map[string]bool{campaign.TypeString: true, campaign.TypeInteger: true, campaign.TypeDate: true, campaign.TypeTimestamp: true, campaign.TypeDecimal: true}

// sampleStats counts, for every column that could be a key, whether its
// sampled values are distinct and non-null.
func sampleStats(ctx context.Context, e *dataset.Engine, sample string, t *Table) error {
	sel := []string{"count(*)"}
	var names []string
	for _, c := range t.Columns {
		if !keyTypes[c.Type] {
			continue
		}
		q := dataset.QuoteIdent(c.Name)
		sel = append(sel, fmt.Sprintf("count(%s)", q), fmt.Sprintf("count(DISTINCT %s)", q))
		names = append(names, c.Name)
	}
	row, err := e.QueryRow(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+sample)
	if err != nil {
		return err
	}
	t.Rows = row[0].(int64)
	for i, n := range names {
		nonNull, distinct := row[1+2*i].(int64), row[2+2*i].(int64)
		t.unique[n] = distinct == nonNull
		t.nonNull[n] = nonNull == t.Rows
	}
	return e.Exec(ctx, "DROP TABLE "+sample)
}

// singular returns a plural table name's singular form (customers →
// customer, categories → category, addresses → address).
func singular(name string) string {
	l := strings.ToLower(name)
	if s, ok := irregular[l]; ok {
		return s
	}
	switch {
	case strings.HasSuffix(l, "ies") && len(l) > 3:
		return name[:len(name)-3] + "y"
	case strings.HasSuffix(l, "sses"), strings.HasSuffix(l, "xes"), strings.HasSuffix(l, "ches"), strings.HasSuffix(l, "shes"):
		return name[:len(name)-2]
	case strings.HasSuffix(l, "s") && !strings.HasSuffix(l, "ss") && len(l) > 1:
		return name[:len(name)-1]
	}
	return name
}

var irregular = map[string]string{"people": "person", "children": "child", "men": "man", "women": "woman"}

// norm folds a name for comparison: lower case, without _ and -.
func norm(s string) string {
	return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
}

// idNames are the names a table's own identifier column may have.
func idNames(table string) []string {
	var out []string
	for _, base := range []string{table, singular(table)} {
		out = append(out, norm(base+"id"))
	}
	return out
}

// guessKey picks the table's key: a column named id or <table>Id, else the
// first column whose sampled values are distinct and non-null, else the
// first column (marked as not unique).
func guessKey(t *Table) {
	uniq := func(c string) bool { return t.unique[c] && t.nonNull[c] }
	scope := fmt.Sprintf("in the first %d rows", t.Rows)
	if t.Rows == 0 {
		scope = "(the file has no rows to check)"
	}
	ids := idNames(t.Name)
	for _, c := range t.Columns {
		n := norm(c.Name)
		if !keyTypes[c.Type] || (n != "id" && n != ids[0] && n != ids[1]) {
			continue
		}
		t.Key = c.Name
		if uniq(c.Name) || t.Rows == 0 {
			t.keyNote = fmt.Sprintf("guessed: key (by name; unique %s)", scope)
		} else {
			t.keyNote = fmt.Sprintf("guessed: key (by name) but NOT unique and non-null %s: correct it", scope)
		}
		return
	}
	for _, c := range t.Columns {
		if keyTypes[c.Type] && uniq(c.Name) && t.Rows > 0 {
			t.Key = c.Name
			t.keyNote = fmt.Sprintf("guessed: key (unique %s)", scope)
			return
		}
	}
	t.Key = t.Columns[0].Name
	t.keyNote = fmt.Sprintf("guessed: key, but no column is unique and non-null %s: correct it", scope)
}

// Targeting names, folded by norm.
var (
	emailNames    = []string{"email", "emailaddress", "mail", "emailaddr"}
	smsNames      = []string{"mobile", "mobilephone", "mobilenumber", "cellphone", "cell", "msisdn", "sms", "smsnumber", "phone", "phonenumber", "telephone", "tel"}
	pushNames     = []string{"pushtoken", "devicetoken", "fcmtoken", "apnstoken", "apnsdevicetoken", "pushid"}
	timezoneNames = []string{"timezone", "tz", "tzname", "ianatimezone"}
	consentWords  = []string{"optin", "consent", "subscribed", "subscription", "allowed", "accepts", "permission", "enabled", "marketing"}
	channelWords  = map[string][]string{"email": {"email", "mail"}, "sms": {"sms", "phone", "mobile", "text"}, "push": {"push", "notification"}}
)

// firstNamed returns the first of names (in their order) that a string
// column of t has.
func firstNamed(t *Table, names []string) string {
	for _, want := range names {
		for _, c := range t.Columns {
			if c.Type == campaign.TypeString && norm(c.Name) == want {
				return c.Name
			}
		}
	}
	return ""
}

// guessTargeting marks a table with an email, SMS or push column as a
// targeting dimension, with consent and time zone columns found by name.
func guessTargeting(t *Table) {
	email, sms, push := firstNamed(t, emailNames), firstNamed(t, smsNames), firstNamed(t, pushNames)
	if email == "" && sms == "" && push == "" {
		return
	}
	add := func(field, col, what string) {
		if col != "" {
			t.targeting = append(t.targeting, targetLine{field: field, column: col, note: "guessed: " + what + " (by name)"})
		}
	}
	add("email", email, "email address")
	add("sms", sms, "mobile number for SMS")
	add("push", push, "push token")
	for _, ch := range []string{"email", "sms", "push"} {
		if (ch == "email" && email == "") || (ch == "sms" && sms == "") || (ch == "push" && push == "") {
			continue
		}
		if c, ok := consentColumn(t, ch); ok {
			line := targetLine{field: ch, column: c.Name, consent: true, note: "guessed: " + chName[ch] + " consent (by name)"}
			if c.Type != campaign.TypeBoolean {
				line.note = fmt.Sprintf("%s looks like %s consent, but consent columns must be boolean and it is %s", c.Name, ch, c.Type)
				line.column = ""
			}
			t.targeting = append(t.targeting, line)
		}
	}
	add("timezone", firstNamed(t, timezoneNames), "IANA time zone of the recipient")
}

var chName = map[string]string{"email": "email", "sms": "SMS", "push": "push"}

// consentColumn finds the consent column of a channel: a name with the
// channel and a consent word (emailOptIn, sms_consent, pushEnabled).
func consentColumn(t *Table, ch string) (campaign.Column, bool) {
	var fallback *campaign.Column
	for i, c := range t.Columns {
		n := norm(c.Name)
		hasCh := false
		for _, w := range channelWords[ch] {
			hasCh = hasCh || strings.Contains(n, w)
		}
		hasConsent := false
		for _, w := range consentWords {
			hasConsent = hasConsent || strings.Contains(n, w)
		}
		if !hasCh || !hasConsent {
			continue
		}
		if c.Type == campaign.TypeBoolean {
			return c, true
		}
		if fallback == nil {
			fallback = &t.Columns[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return campaign.Column{}, false
}

// guessLinks links a column of one table to another table whose key has the
// same name (or whose key is id and the column is <table>Id), when their
// types agree: the referencing table gets a link of cardinality one, the
// referenced table one back, many unless the column is unique in the
// referencing table's sample.
func guessLinks(tables []*Table) {
	for _, from := range tables {
		for _, c := range from.Columns {
			if c.Name == from.Key || !keyTypes[c.Type] {
				continue
			}
			for _, to := range tables {
				if to == from || !refers(c.Name, to) {
					continue
				}
				kc, _ := (&campaign.Table{Columns: to.Columns}).Column(to.Key)
				if kc.Type != c.Type || kc.Scale != c.Scale {
					from.links = append(from.links, link{note: fmt.Sprintf("not linked: %s.%s is %s but the key %s.%s is %s; convert one to link them",
						from.Name, c.Name, c.Type, to.Name, to.Key, kc.Type)})
					continue
				}
				name := linkName(from, strings.TrimSuffix(strings.TrimSuffix(c.Name, "Id"), "_id"), singular(to.Name), to.Name)
				from.links = append(from.links, link{
					Link: campaign.Link{Name: name, Table: to.Name, On: map[string]string{c.Name: to.Key}, Cardinality: "one"},
					note: fmt.Sprintf("guessed: link (%s matches the key of %s)", c.Name, to.Name)})
				card, why := "many", fmt.Sprintf("not unique in the first %d rows of %s", from.Rows, from.Name)
				if from.unique[c.Name] && from.Rows > 0 {
					card, why = "one", fmt.Sprintf("unique in the first %d rows of %s", from.Rows, from.Name)
				}
				back := linkName(to, from.Name, from.Name+"By"+upperFirst(c.Name))
				to.links = append(to.links, link{
					Link: campaign.Link{Name: back, Table: from.Name, On: map[string]string{to.Key: c.Name}, Cardinality: card},
					note: fmt.Sprintf("guessed: link (%s.%s refers to this key; %s: %s)", from.Name, c.Name, card, why)})
			}
		}
	}
}

// refers reports whether column col of another table names table to's key.
func refers(col string, to *Table) bool {
	n, k := norm(col), norm(to.Key)
	if n == k {
		return true
	}
	if k == "id" {
		ids := idNames(to.Name)
		return n == ids[0] || n == ids[1]
	}
	return false
}

// linkName returns the first candidate that is neither a column nor a link
// of t (the last, numbered, when all are taken).
func linkName(t *Table, candidates ...string) string {
	taken := map[string]bool{}
	for _, c := range t.Columns {
		taken[c.Name] = true
	}
	for _, l := range t.links {
		taken[l.Name] = true
	}
	for _, c := range candidates {
		if c != "" && !taken[c] {
			return c
		}
	}
	last := candidates[len(candidates)-1]
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s%d", last, i); !taken[n] {
			return n
		}
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
