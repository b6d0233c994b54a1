package dataset

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Source formats.
const (
	FormatParquet = "parquet"
	FormatCSV     = "csv"
	FormatTSV     = "tsv"
	FormatJSONL   = "jsonl"
)

// Source is data outside the dataset store: a catalog table's initial data
// or a file to load.
type Source struct {
	// Location is a local file, folder or glob, or an s3:// URI of an
	// object, a folder (ending with /) or a glob. Relative paths are
	// relative to the process's working directory: resolve them first.
	// S3 objects are downloaded to the scratch folder; local files are read
	// in place.
	Location string
	// Format is parquet, csv, tsv or jsonl; "" infers it from the file
	// extension (.parquet, .csv, .tsv, .jsonl, .ndjson, .json).
	Format string
	CSV    CSVOptions
	// Columns, when set, are the columns of the staged view, in order,
	// taken by name from the source (by position for CSV without header)
	// and cast to their types. Without them every source column is kept,
	// with its type mapped to the closest Stepwise type.
	Columns []Column
	// Text reads every column as string, untouched, for callers that
	// validate and convert values themselves (load-file).
	Text bool
}

// CSVOptions describe delimited text; zero values are the usual defaults.
type CSVOptions struct {
	Delimiter string // default "," ("\t" for tsv)
	NoHeader  bool   // the first line is data
	Quote     string // default `"`
	Escape    string // default: same as Quote
	Encoding  string // utf-8 (default), utf-16 or latin-1
	SkipLines int    // lines to skip before the header
}

// StageDataset makes the dataset at ref queryable as the view named view
// and returns its manifest. Files are downloaded to the scratch folder unless
// the store keeps them as local files. ErrNotFound when the dataset is absent
// or incomplete.
func (e *Engine) StageDataset(ctx context.Context, view string, ref Ref) (*Manifest, error) {
	return e.stage(ctx, view, ref, true)
}

// StageInput is StageDataset without the row order: cheaper for narrow
// datasets, for queries that order their result themselves.
func (e *Engine) StageInput(ctx context.Context, view string, ref Ref) (*Manifest, error) {
	return e.stage(ctx, view, ref, false)
}

// StageOwn is StageInput with only the columns the dataset's files hold: for
// a narrow dataset its key and computed columns, without the base's (no
// join); all columns of a wide one. For queries that need no base column.
func (e *Engine) StageOwn(ctx context.Context, view string, ref Ref) (*Manifest, error) {
	return e.stageFiles(ctx, view, ref, false)
}

// StagePassThrough is StageInput for queries that pass rows through into a
// narrow write over the dataset's base (Output.PassThrough): they filter, join
// and sort on the dataset's own columns only. The base's columns are there,
// typed, but NULL, and the write takes them from the base; no join is made.
// A wide dataset is staged as StageInput does.
func (e *Engine) StagePassThrough(ctx context.Context, view string, ref Ref) (*Manifest, error) {
	return e.stageFiles(ctx, view, ref, true)
}

// stageFiles stages the files of a narrow dataset alone, with its base's
// columns as NULL placeholders or left out.
func (e *Engine) stageFiles(ctx context.Context, view string, ref Ref, placeholders bool) (*Manifest, error) {
	if e.store == nil {
		return nil, errors.New("dataset: engine has no store")
	}
	m, err := ReadManifest(ctx, e.store, ref)
	if err != nil {
		return nil, err
	}
	if m.Base == nil || !m.hasFiles() {
		return e.stage(ctx, view, ref, false)
	}
	paths, err := e.localPaths(ctx, ref, m)
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, c := range m.Columns {
		switch {
		case !slices.Contains(m.Base.Columns, c.Name):
			cols = append(cols, QuoteIdent(c.Name))
		case placeholders:
			t, _ := DuckDBType(c) // checked by ReadManifest
			cols = append(cols, "CAST(NULL AS "+t+") AS "+QuoteIdent(c.Name))
		}
	}
	from := "(SELECT " + strings.Join(cols, ", ") + " FROM read_parquet([" + strings.Join(quoteAll(paths), ", ") + "]))"
	return m, e.createView(ctx, view, ref, from)
}

func (e *Engine) stage(ctx context.Context, view string, ref Ref, ordered bool) (*Manifest, error) {
	m, from, err := e.open(ctx, ref, ordered)
	if err != nil {
		return nil, err
	}
	return m, e.createView(ctx, view, ref, from)
}

func (e *Engine) createView(ctx context.Context, view string, ref Ref, from string) error {
	if err := e.Exec(ctx, "CREATE OR REPLACE VIEW "+QuoteIdent(view)+" AS SELECT * FROM "+from); err != nil {
		return fmt.Errorf("dataset %s: stage: %w", ref, err)
	}
	return nil
}

// open reads the manifest of ref, makes its files local, and returns a FROM
// clause item that reads them, in order unless the dataset is narrow and
// ordered is false.
func (e *Engine) open(ctx context.Context, ref Ref, ordered bool) (*Manifest, string, error) {
	if e.store == nil {
		return nil, "", errors.New("dataset: engine has no store")
	}
	m, err := ReadManifest(ctx, e.store, ref)
	if err != nil {
		return nil, "", err
	}
	from, err := e.openManifest(ctx, ref, m, ordered)
	if err != nil {
		return nil, "", err
	}
	return m, from, nil
}

// openManifest is open for the manifest m of ref (or a window of it): the
// SQL relation reading its files.
func (e *Engine) openManifest(ctx context.Context, ref Ref, m *Manifest, ordered bool) (string, error) {
	if !m.hasFiles() {
		// No rows and no file to carry the schema: build it from the
		// manifest.
		sel := make([]string, len(m.Columns))
		for i, c := range m.Columns {
			t, _ := DuckDBType(c) // checked by ReadManifest
			sel[i] = fmt.Sprintf("CAST(NULL AS %s) AS %s", t, QuoteIdent(c.Name))
		}
		return "(SELECT " + strings.Join(sel, ", ") + " WHERE false) AS empty", nil
	}
	paths, err := e.localPaths(ctx, ref, m)
	if err != nil {
		return "", err
	}
	quoted := quoteAll(paths)
	switch {
	case m.Source != nil:
		return e.sourceFrom(ctx, m, string(ref), paths)
	case m.Base != nil:
		from, err := e.narrowFrom(ctx, m, quoted, ordered)
		if err != nil {
			return "", fmt.Errorf("dataset %s: %w", ref, err)
		}
		return from, nil
	}
	// The manifest's column order (a file written from Go orders its columns by name).
	cols := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		cols[i] = QuoteIdent(c.Name)
	}
	return "(SELECT " + strings.Join(cols, ", ") + " FROM read_parquet([" + strings.Join(quoted, ", ") + "]))", nil
}

// localPaths makes the files of a dataset local and returns their paths.
func (e *Engine) localPaths(ctx context.Context, ref Ref, m *Manifest) ([]string, error) {
	keys := m.FileKeys(ref)
	paths := make([]string, len(keys))
	for i, k := range keys {
		p, err := localFile(ctx, e.store, k, e.cache)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", ref, err)
		}
		paths[i] = p
	}
	return paths, nil
}

// quoteAll quotes each string as an SQL literal.
func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = QuoteLiteral(x)
	}
	return out
}

// StageSource makes a source queryable as the view named view and returns
// the view's columns.
func (e *Engine) StageSource(ctx context.Context, view string, src Source) ([]Column, error) {
	files, format, err := e.sourceFiles(ctx, src)
	if err != nil {
		return nil, err
	}
	from, names, types, err := e.readSource(ctx, files, format, src)
	if err != nil {
		return nil, err
	}
	var sel string
	var cols []Column
	switch {
	case len(src.Columns) > 0:
		sel, cols, err = declaredProjection(src, format, names)
		if err != nil {
			return nil, err
		}
	case src.Text:
		text := make([]string, len(names))
		for i, n := range names {
			text[i] = fmt.Sprintf("CAST(%s AS VARCHAR) AS %s", QuoteIdent(n), QuoteIdent(n))
			cols = append(cols, Column{Name: n, Type: campaign.TypeString})
		}
		sel = strings.Join(text, ", ")
	default:
		sel, cols = projection(names, types)
	}
	if err := e.Exec(ctx, "CREATE OR REPLACE VIEW "+QuoteIdent(view)+" AS SELECT "+sel+" FROM "+from); err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Location, err)
	}
	return cols, nil
}

// readSource returns the table function reading a source's files, and the
// names and DuckDB types of what it reads.
func (e *Engine) readSource(ctx context.Context, files []string, format string, src Source) (from string, names, types []string, err error) {
	if from, err = readFunction(files, format, src); err != nil {
		return "", nil, nil, err
	}
	if names, types, err = e.probe(ctx, "SELECT * FROM "+from); err != nil {
		return "", nil, nil, fmt.Errorf("source %s: %w", src.Location, err)
	}
	return from, names, types, nil
}

// declaredProjection selects the declared columns, cast to their types. In
// a CSV or TSV file with a typed header, the column of a header cell
// name:type is name.
func declaredProjection(src Source, format string, have []string) (string, []Column, error) {
	present := map[string]string{}
	for _, n := range have {
		present[n] = n
	}
	if format == FormatCSV || format == FormatTSV {
		for _, n := range have {
			if c, err := typedHeaderCell(n); err == nil {
				if _, clash := present[c.Name]; !clash {
					present[c.Name] = n
				}
			}
		}
	}
	sel := make([]string, len(src.Columns))
	cols := make([]Column, len(src.Columns))
	for i, c := range src.Columns {
		stored, ok := present[c.Name]
		if !ok {
			return "", nil, fmt.Errorf("source %s has no column %q%s (columns: %s)", src.Location, c.Name,
				campaign.DidYouMean(c.Name, have), strings.Join(have, ", "))
		}
		if src.Text {
			c = Column{Name: c.Name, Type: campaign.TypeString}
		}
		t, err := DuckDBType(c)
		if err != nil {
			return "", nil, err
		}
		sel[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", QuoteIdent(stored), t, QuoteIdent(c.Name))
		cols[i] = Column{Name: c.Name, Type: c.Type, Scale: c.Scale}
	}
	return strings.Join(sel, ", "), cols, nil
}

// readFunction returns the DuckDB table function call that reads files.
func readFunction(files []string, format string, src Source) (string, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = QuoteLiteral(f)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	switch format {
	case FormatParquet:
		return "read_parquet(" + list + ", union_by_name = true)", nil
	case FormatJSONL:
		return "read_json(" + list + ", format = 'newline_delimited', union_by_name = true)", nil
	case FormatCSV, FormatTSV:
		o := src.CSV
		delim := o.Delimiter
		if delim == "" {
			delim = ","
			if format == FormatTSV {
				delim = "\t"
			}
		}
		args := []string{
			list,
			"delim = " + QuoteLiteral(delim),
			fmt.Sprintf("header = %t", !o.NoHeader),
			fmt.Sprintf("skip = %d", o.SkipLines),
		}
		if o.Quote != "" {
			args = append(args, "quote = "+QuoteLiteral(o.Quote))
		}
		if o.Escape != "" {
			args = append(args, "escape = "+QuoteLiteral(o.Escape))
		}
		if o.Encoding != "" {
			args = append(args, "encoding = "+QuoteLiteral(strings.ToLower(o.Encoding)))
		}
		// Declared columns are converted from text by the view's casts,
		// so that values such as "00123" keep their leading zeros.
		if src.Text || len(src.Columns) > 0 {
			args = append(args, "all_varchar = true")
		}
		if o.NoHeader && len(src.Columns) > 0 {
			names := make([]string, len(src.Columns))
			for i, c := range src.Columns {
				names[i] = QuoteLiteral(c.Name)
			}
			args = append(args, "names = ["+strings.Join(names, ", ")+"]")
		}
		return "read_csv(" + strings.Join(args, ", ") + ")", nil
	}
	return "", fmt.Errorf("unknown format %q; valid: parquet, csv, tsv, jsonl", format)
}

// sourceFiles resolves a source location to local files and its format.
func (e *Engine) sourceFiles(ctx context.Context, src Source) ([]string, string, error) {
	loc, format, err := sourceLocation(src)
	if err != nil {
		return nil, "", err
	}
	if loc.Scheme == "s3" {
		return e.s3Files(ctx, loc, format)
	}
	return localFiles(src, loc.Path, format)
}

// sourceLocation parses a source's location and checks its format ("" when
// the file names tell it).
func sourceLocation(src Source) (blob.URI, string, error) {
	loc, err := blob.ParseURI(src.Location)
	if err != nil {
		return blob.URI{}, "", err
	}
	format := strings.ToLower(src.Format)
	if _, ok := extensions[format]; format != "" && !ok {
		return blob.URI{}, "", fmt.Errorf("source %s: unknown format %q; valid: parquet, csv, tsv, jsonl", src.Location, src.Format)
	}
	return loc, format, nil
}

// localFiles resolves the local path p of a source to the file, folder
// pattern (dir/**/*.ext, which DuckDB and expandLocal expand) or glob, and
// its format.
func localFiles(src Source, p, format string) ([]string, string, error) {
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		if format == "" {
			if format = formatOfDir(p); format == "" {
				return nil, "", fmt.Errorf("source %s: %w", src.Location, noFileError{"no parquet, csv, tsv or jsonl file in the folder"})
			}
		}
		// DuckDB expands ** (any depth) itself.
		return []string{filepath.Join(p, "**", "*"+extensions[format][0])}, format, nil
	} else if err != nil && !hasGlob(p) {
		return nil, "", fmt.Errorf("source %s: %w", src.Location, err)
	}
	if format == "" {
		if format = formatOf(p); format == "" {
			return nil, "", fmt.Errorf("source %s: cannot tell the format from the extension; set it (parquet, csv, tsv, jsonl)", src.Location)
		}
	}
	return []string{p}, format, nil
}

// s3Files downloads the objects of an s3:// object, folder or glob.
func (e *Engine) s3Files(ctx context.Context, loc blob.URI, format string) ([]string, string, error) {
	if e.buckets == nil {
		return nil, "", fmt.Errorf("source %s: s3 sources are not configured", loc)
	}
	store, err := e.buckets(loc.Bucket)
	if err != nil {
		return nil, "", fmt.Errorf("source %s: %w", loc, err)
	}
	objs, format, err := s3Objects(ctx, store, loc, format)
	if err != nil {
		return nil, "", err
	}
	dir := e.scratch("source")
	files := make([]string, len(objs))
	for i, o := range objs {
		files[i] = filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := download(ctx, store, o.Key, files[i]); err != nil {
			return nil, "", fmt.Errorf("source %s: %w", loc, err)
		}
	}
	return files, format, nil
}

// s3Objects lists the objects of an s3:// object, folder or glob, in key
// order, and their format.
func s3Objects(ctx context.Context, store blob.Store, loc blob.URI, format string) ([]blob.Info, string, error) {
	var objs []blob.Info
	switch {
	case hasGlob(loc.Path):
		prefix := loc.Path[:strings.IndexAny(loc.Path, "*?[")]
		for info, err := range store.List(ctx, prefix) {
			if err != nil {
				return nil, "", err
			}
			if ok, _ := path.Match(loc.Path, info.Key); ok {
				objs = append(objs, info)
			}
		}
	default:
		if loc.Path != "" && !strings.HasSuffix(loc.Path, "/") {
			info, err := store.Stat(ctx, loc.Path)
			if err == nil {
				objs = []blob.Info{info}
				break
			} else if !errors.Is(err, blob.ErrNotFound) {
				return nil, "", fmt.Errorf("source %s: %w", loc, err)
			}
		}
		folder := loc.Path
		if folder != "" && !strings.HasSuffix(folder, "/") {
			folder += "/"
		}
		for info, err := range store.List(ctx, folder) {
			if err != nil {
				return nil, "", err
			}
			f := formatOf(info.Key)
			if f != "" && (format == "" || f == format) {
				format = f
				objs = append(objs, info)
			}
		}
	}
	if len(objs) == 0 {
		return nil, "", fmt.Errorf("source %s: %w", loc, errNoFile)
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	if format == "" {
		if format = formatOf(objs[0].Key); format == "" {
			return nil, "", fmt.Errorf("source %s: cannot tell the format from the extension; set it (parquet, csv, tsv, jsonl)", loc)
		}
	}
	return objs, format, nil
}

// errNoFile: a source's location matches no file. It is fs.ErrNotExist and
// blob.ErrNotFound, so that callers tell an absent source from a store that
// failed.
var errNoFile = noFileError{"no file found"}

type noFileError struct{ msg string }

func (e noFileError) Error() string { return e.msg }

func (noFileError) Is(target error) bool {
	return target == fs.ErrNotExist || target == blob.ErrNotFound
}

var extensions = map[string][]string{
	FormatParquet: {".parquet"},
	FormatCSV:     {".csv"},
	FormatTSV:     {".tsv", ".tab"},
	FormatJSONL:   {".jsonl", ".ndjson", ".json"},
}

func formatOf(name string) string {
	ext := strings.ToLower(path.Ext(strings.TrimSuffix(name, ".gz")))
	for f, exts := range extensions {
		for _, x := range exts {
			if x == ext {
				return f
			}
		}
	}
	return ""
}

// formatOfDir returns the format of the first data file found in dir.
func formatOfDir(dir string) string {
	found := ""
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if found = formatOf(p); found != "" {
				return filepath.SkipAll
			}
		}
		return nil
	})
	return found
}

func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }
