package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"go.yaml.in/yaml/v3"
)

// FileRef is a path or URI, or {param: name}.
type FileRef struct {
	Path  string
	Param string
}

// DecodeNode implements campaign.NodeDecoder.
func (f *FileRef) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		f.Path = n.Value
		return
	}
	var ref struct {
		Param string `json:"param" jsonschema:"required"`
	}
	d.Decode(n, path, &ref)
	f.Param = ref.Param
}

// CSVOptions describe delimited text.
type CSVOptions struct {
	Delimiter string `json:"delimiter,omitempty"`
	Header    *bool  `json:"header,omitempty"`
	Quote     string `json:"quote,omitempty"`
	Encoding  string `json:"encoding,omitempty" jsonschema:"enum=utf-8"`
	SkipLines int    `json:"skipLines,omitempty"`
}

// FileColumn types and cleans one column of a file.
type FileColumn struct {
	Name      string `json:"name" jsonschema:"required"`
	Type      string `json:"type,omitempty" jsonschema:"enum=string,enum=integer,enum=number,enum=decimal,enum=boolean,enum=date,enum=timestamp,enum=json"`
	Required  bool   `json:"required,omitempty"`
	Transform string `json:"transform,omitempty" jsonschema:"enum=lower,enum=upper,enum=trim"`
	OnError   string `json:"onError,omitempty" jsonschema:"enum=reject,enum=null,enum=default"`
	Default   any    `json:"default,omitempty"`
	Format    string `json:"format,omitempty" jsonschema:"description=Go time layout for date and timestamp columns"`
	Source    string `json:"source,omitempty" jsonschema:"description=header name in the file when it differs from name"`
}

// LoadFileConfig reads a file into a population.
type LoadFileConfig struct {
	File      FileRef      `json:"file" jsonschema:"required"`
	Format    string       `json:"format,omitempty" jsonschema:"enum=csv,enum=tsv,enum=jsonl,enum=parquet"`
	CSV       *CSVOptions  `json:"csv,omitempty"`
	Columns   []FileColumn `json:"columns,omitempty"`
	MaxErrors *int         `json:"maxErrors,omitempty" jsonschema:"description=more rejected lines than this fails the activity (default 100)"`
	Dimension string       `json:"dimension,omitempty" jsonschema:"description=treat the rows as rows of this table (the file must hold its key)"`
}

// loadFile is the load-file type.
func loadFile(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[LoadFileConfig]{
		Type: "load-file", Family: activity.Data, Function: "LoadFile",
		Summary: "Reads a CSV, TSV, JSONL or Parquet file; bad lines go to rejects.",
		Inputs:  activity.Inputs{ReadsOwnData: true},
		Ports:   activity.Fixed[LoadFileConfig]("out", "rejects"),
		// Under engine: athena too it reads its file in its function: its
		// output is a plain Parquet dataset, which Athena reads as it is.
		OnAthena: true,
		Check: func(c *activity.Check, x *LoadFileConfig) {
			if x.File.Param != "" {
				if p, ok := c.Campaign.Parameters[x.File.Param]; !ok {
					c.Errorf(c.Path("file", "param"), "parameter %q is not declared%s", x.File.Param, campaign.DidYouMean(x.File.Param, paramNames(c.Campaign)))
				} else if p.Type != campaign.TypeString {
					c.Errorf(c.Path("file", "param"), "parameter %q must be a string to name a file", x.File.Param)
				}
			} else if x.File.Path == "" {
				c.Errorf(c.Path("file"), "file is empty")
			}
			format := x.Format
			if format == "" && x.File.Param == "" {
				format = FormatOf(x.File.Path)
			}
			if format != "" {
				c.OneOf(format, c.Path("format"), "format", "csv", "tsv", "jsonl", "parquet")
			}
			// A file passed as a parameter without a format is checked at run time.
			if (format == "csv" || format == "tsv") && len(x.Columns) == 0 {
				c.Errorf(c.Path("columns"), "a %s file needs typed columns", format)
			}
			if x.CSV != nil && x.CSV.Encoding != "" && !strings.EqualFold(x.CSV.Encoding, "utf-8") && !strings.EqualFold(x.CSV.Encoding, "utf8") {
				c.Errorf(c.Path("csv", "encoding"), "unsupported encoding %q; valid: utf-8", x.CSV.Encoding)
			}
			if x.CSV != nil && len(x.CSV.Delimiter) > 1 && x.CSV.Delimiter != "\\t" {
				c.Errorf(c.Path("csv", "delimiter"), "delimiter must be one character")
			}
			names := map[string]bool{}
			for i, col := range x.Columns {
				cp := c.Path("columns", i)
				if names[col.Name] {
					c.Errorf(campaign.JoinPath(cp, "name"), "duplicate column %q", col.Name)
				}
				names[col.Name] = true
				if col.Type != "" {
					c.OneOf(col.Type, campaign.JoinPath(cp, "type"), "column type", campaign.ColumnTypes...)
				}
				if col.Transform != "" {
					c.OneOf(col.Transform, campaign.JoinPath(cp, "transform"), "transform", "lower", "upper", "trim")
				}
				if col.OnError != "" {
					c.OneOf(col.OnError, campaign.JoinPath(cp, "onError"), "onError", "reject", "null", "default")
				}
				if col.OnError == "default" && col.Default == nil {
					c.Errorf(campaign.JoinPath(cp, "default"), "onError: default needs a default value")
				}
				if col.Format != "" {
					if col.Type != campaign.TypeDate && col.Type != campaign.TypeTimestamp {
						c.Errorf(campaign.JoinPath(cp, "format"), "format applies to date and timestamp columns only")
					} else if _, _, _, err := strptimeLayout(col.Format); err != nil {
						c.Errorf(campaign.JoinPath(cp, "format"), "%v", err)
					}
				}
			}
			if x.MaxErrors != nil && *x.MaxErrors < 0 {
				c.Errorf(c.Path("maxErrors"), "maxErrors must be 0 or more")
			}
			if x.Dimension != "" {
				if t, ok := c.DimensionTable(x.Dimension, c.Path("dimension")); ok {
					for _, k := range t.Key {
						if !names[k] && len(x.Columns) > 0 {
							c.Errorf(c.Path("dimension"), "the file must have the key column %q of %q", k, t.Name)
						}
					}
				}
			}
		},
		Output: func(c *activity.Check, x *LoadFileConfig, _ []campaign.Schema) map[string]campaign.Schema {
			s := campaign.Schema{Dimension: x.Dimension}
			for _, col := range x.Columns {
				t := col.Type
				if t == "" {
					t = campaign.TypeString
				}
				s.Columns = append(s.Columns, campaign.Column{Name: col.Name, Type: t})
			}
			rej := campaign.Schema{Columns: []campaign.Column{
				{Name: "line", Type: campaign.TypeInteger}, {Name: "reason", Type: campaign.TypeString}, {Name: "raw", Type: campaign.TypeString}}}
			return map[string]campaign.Schema{"out": s, "rejects": rej}
		},
		Describe: describeLoadFile,
		Run: func(ctx context.Context, call *activity.Call, x *LoadFileConfig) (*activity.Result, error) {
			return runLoadFile(ctx, d, call, x)
		},
	})
}

// DefaultMaxErrors is load-file's maxErrors when unset.
const DefaultMaxErrors = 100

// runLoadFile reads the file into `out` (typed, cleaned rows, in file order)
// and `rejects` (line, reason, raw), both always activated. Validation is
// SQL over the file's text; more than maxErrors rejected lines fail the task
// and write nothing.
func runLoadFile(ctx context.Context, d *Deps, call *activity.Call, x *LoadFileConfig) (*activity.Result, error) {
	t, err := datatask.Open(ctx, &d.Data, call)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	res := activity.NewResult([]string{"out", "rejects"})
	if done, err := finished(t, res); err != nil || done {
		return orNil(res, err), err
	}
	src, err := fileSource(t, x, d.Roots)
	if err != nil {
		return nil, err
	}
	format := x.Format
	if format == "" {
		format = FormatOf(src.name)
	}
	work, err := os.MkdirTemp(workDir(call.Env), "load-file-")
	if err != nil {
		return nil, fmt.Errorf("load-file: scratch folder: %w", err)
	}
	defer os.RemoveAll(work)

	l := &loader{t: t, x: x, src: src, format: format, work: work}
	if len(x.Columns) == 0 {
		return l.untyped(res)
	}
	if err := l.stage(); err != nil {
		return nil, err
	}
	return l.validate(res)
}

// finished returns the ports of a task that already wrote both (a retry):
// the file is not read again.
func finished(t *datatask.Task, res *activity.Result) (bool, error) {
	ms := map[string]*dataset.Manifest{}
	for _, port := range []string{"out", "rejects"} {
		m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), t.Out(port))
		if errors.Is(err, dataset.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		ms[port] = m
	}
	for port, m := range ms {
		res.Set(port, string(t.Out(port)), m.Rows)
	}
	return true, nil
}

func workDir(env *activity.Env) string {
	if env.WorkDir != "" {
		os.MkdirAll(env.WorkDir, 0o700)
		return env.WorkDir
	}
	return os.TempDir()
}

// source is the file a load-file reads.
type source struct {
	name  string // for messages: an s3 URI, or the path in its root (never the machine's folders)
	local string // the local file, when there is one
	open  func(ctx context.Context) (io.ReadCloser, error)
}

// fileSource resolves the configured file: an s3:// URI, an absolute path,
// or a path relative to the campaign file, confined to the roots (see
// fileRoots). A relative file that is not on this machine (a Lambda) is read
// from the campaign bundle when the compiler embedded it there.
func fileSource(t *datatask.Task, x *LoadFileConfig, extra *fileroot.Roots) (*source, error) {
	name, field := x.File.Path, "file"
	if x.File.Param != "" {
		field = fmt.Sprintf("file (parameter %q)", x.File.Param)
		v, ok := t.Req.Run.Params[x.File.Param].(string)
		if !ok || v == "" {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: parameter %q names no file", x.File.Param)}
		}
		name = v
	}
	roots, dir := fileRoots(t, extra)
	if blob.IsS3(name) {
		u, err := blob.ParseURI(name)
		if err != nil || u.Path == "" {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s: %q is not an s3://bucket/key URI", field, name)}
		}
		if err := roots.CheckS3(name); err != nil {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s: %v", field, err)}
		}
		buckets := t.Deps.Buckets
		if buckets == nil {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file %s: s3:// files are not configured here", name)}
		}
		return &source{name: name, open: func(ctx context.Context) (io.ReadCloser, error) {
			store, err := buckets(u.Bucket)
			if err != nil {
				return nil, err
			}
			rc, err := store.Get(ctx, u.Path)
			if errors.Is(err, blob.ErrNotFound) {
				return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s not found", name)}
			}
			return rc, err
		}}, nil
	}
	p, err := roots.Resolve(dir, name)
	if err == nil {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return &source{name: roots.Display(dir, p), local: p, open: func(context.Context) (io.ReadCloser, error) { return roots.Open(dir, name) }}, nil
		}
	}
	// The bundle's files were read, confined, from the campaign folder.
	if data, ok := t.Comp.Files[name]; ok && filepath.IsLocal(name) {
		return &source{name: name, open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}}, nil
	}
	var outside *fileroot.OutsideError
	if errors.As(err, &outside) {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s: %v", field, err)}
	}
	// The campaign folder by its name only: messages carry no machine folders.
	return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s: %s not found in the campaign folder %q (relative paths are read there)", field, name, filepath.Base(dir))}
}

// fileRoots are the roots load-file reads from: the campaign folder (unless
// NoCampaignFolder) and the Env's fileroot.Service (a home's uploads,
// --file-root folders, s3:// prefixes); dir is the campaign folder.
func fileRoots(t *datatask.Task, extra *fileroot.Roots) (fileroot.Roots, string) {
	dir, err := filepath.Abs(t.Comp.Campaign.Dir())
	if err != nil {
		dir = t.Comp.Campaign.Dir()
	}
	var roots fileroot.Roots
	if r := extra; r != nil {
		roots = *r
	}
	if roots.NoCampaignFolder {
		return roots, dir
	}
	return roots.With(dir), dir
}

// loader is one load-file task.
type loader struct {
	t      *datatask.Task
	x      *LoadFileConfig
	src    *source
	format string
	work   string
	view   string // the staged text: __line, __err, __raw, c<i> [, n<i>]
	native map[int]string
}

// localFile returns a local copy of the source (s3 objects are downloaded,
// streamed to disk).
func (l *loader) localFile() (string, error) {
	if l.src.local != "" {
		return l.src.local, nil
	}
	rc, err := l.src.open(l.t.Ctx)
	if err != nil {
		return "", sourceErr(l.src.name, err)
	}
	defer rc.Close()
	p := filepath.Join(l.work, "source"+filepath.Ext(l.src.name))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("load-file: scratch file: %w", err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", sourceErr(l.src.name, err)
	}
	return p, nil
}

// readErr is the engine failing to read the file: its kind, without the
// local path or DuckDB's message (which may quote the file). An engine
// failure that may pass (I/O) is named by the engine error.
func (l *loader) readErr(err error) error {
	var ee *dataset.EngineError
	if errors.As(err, &ee) {
		return fmt.Errorf("load-file: %s: cannot read it as %s: %w", l.src.name, l.format, ee)
	}
	return &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s: cannot read it as %s", l.src.name, l.format)}
}

// sourceErr is a failure to read the source, without local paths.
func sourceErr(name string, err error) error {
	var ii *activity.InvalidInput
	if errors.As(err, &ii) {
		return err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("load-file: %s: %w", name, err)
	}
	return fmt.Errorf("load-file: read %s: %w", name, err)
}

// untyped loads a jsonl or parquet file without declared columns: its own
// column types, no validation, no rejects.
func (l *loader) untyped(res *activity.Result) (*activity.Result, error) {
	if l.format != dataset.FormatParquet && l.format != dataset.FormatJSONL {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: a %s file needs typed columns", l.format)}
	}
	p, err := l.localFile()
	if err != nil {
		return nil, err
	}
	view := l.t.View("file")
	if _, err := l.t.Engine.StageSource(l.t.Ctx, view, dataset.Source{Location: p, Format: l.format}); err != nil {
		return nil, l.readErr(err)
	}
	if _, err := l.t.Write(res, "out", l.x.Dimension, l.key(), "SELECT * FROM "+datatask.Q(view)); err != nil {
		return nil, err
	}
	if _, err := l.t.Write(res, "rejects", "", nil, emptyRejects); err != nil {
		return nil, err
	}
	return res, nil
}

const emptyRejects = "SELECT CAST(NULL AS BIGINT) AS line, CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS raw WHERE false"

func (l *loader) key() []string {
	if l.x.Dimension == "" {
		return nil
	}
	if tbl, ok := l.t.Comp.Catalog.Table(l.x.Dimension); ok {
		return tbl.Key
	}
	return nil
}

// stage makes the file's text queryable as l.view.
func (l *loader) stage() error {
	l.view = l.t.View("text")
	switch l.format {
	case dataset.FormatCSV, dataset.FormatTSV, dataset.FormatJSONL:
		return l.stageText()
	case dataset.FormatParquet:
		return l.stageParquet()
	}
	return &activity.InvalidInput{Msg: fmt.Sprintf("load-file: unknown format %q; valid: csv, tsv, jsonl, parquet", l.format)}
}

func (l *loader) sourceNames() []string {
	names := make([]string, len(l.x.Columns))
	for i, c := range l.x.Columns {
		names[i] = c.Name
		if c.Source != "" {
			names[i] = c.Source
		}
	}
	return names
}

// stageText normalizes a csv, tsv or jsonl file (see textfile.go) and
// stages the result.
func (l *loader) stageText() error {
	o := textOptions{Format: l.format, Delim: ',', Quote: '"', Header: true, Columns: l.sourceNames(), Name: l.src.name}
	if l.format == dataset.FormatTSV {
		o.Delim = '\t'
	}
	if c := l.x.CSV; c != nil {
		switch c.Delimiter {
		case "":
		case `\t`:
			o.Delim = '\t'
		default:
			o.Delim = c.Delimiter[0]
		}
		if c.Quote != "" {
			o.Quote = c.Quote[0]
		}
		if c.Header != nil {
			o.Header = *c.Header
		}
		o.SkipLines = c.SkipLines
	}
	rc, err := l.src.open(l.t.Ctx)
	if err != nil {
		return sourceErr(l.src.name, err)
	}
	defer rc.Close()
	var r io.Reader = ctxReader{l.t.Ctx, rc}
	if strings.HasSuffix(strings.ToLower(l.src.name), ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("load-file: %s: %w", l.src.name, err) // not gzip, or the read failed
		}
		defer gz.Close()
		r = gz
	}
	norm := filepath.Join(l.work, "normalized.csv")
	f, err := os.OpenFile(norm, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("load-file: scratch file: %w", err)
	}
	st, err := normalize(r, f, o)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			return &activity.InvalidInput{Msg: "load-file: " + fe.Error()}
		}
		if l.t.Ctx.Err() != nil {
			return l.t.Ctx.Err()
		}
		return sourceErr(l.src.name, err)
	}
	l.t.Logf("read %s: %d lines, %d records", l.src.name, st.Lines, st.Records)
	cols := []string{"'__line': 'BIGINT'", "'__err': 'VARCHAR'", "'__raw': 'VARCHAR'"}
	for i := range l.x.Columns {
		cols = append(cols, fmt.Sprintf("'c%d': 'VARCHAR'", i))
	}
	return l.t.Engine.Exec(l.t.Ctx, "CREATE OR REPLACE VIEW "+datatask.Q(l.view)+" AS SELECT * FROM read_csv("+dataset.QuoteLiteral(norm)+
		", columns = {"+strings.Join(cols, ", ")+"}, header = false, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "+
		fmt.Sprintf("max_line_size = %d)", 2*maxRecordBytes+2*maxRawBytes+1024))
}

// stageParquet stages a parquet file with its row numbers (1-based) as
// lines; columns of another type than VARCHAR keep their value (n<i>) and
// are converted from it, not from text.
func (l *loader) stageParquet() error {
	p, err := l.localFile()
	if err != nil {
		return err
	}
	from := "read_parquet(" + dataset.QuoteLiteral(p) + ", file_row_number = true)"
	have, err := l.t.Engine.Columns(l.t.Ctx, "SELECT * FROM "+from)
	if err != nil {
		return l.readErr(err)
	}
	types := map[string]string{}
	var names []string
	for _, c := range have {
		if c.Name != "file_row_number" {
			types[c.Name] = c.Type
			names = append(names, c.Name)
		}
	}
	sel := []string{"file_row_number + 1 AS __line", "CAST(NULL AS VARCHAR) AS __err"}
	var raw []string
	l.native = map[int]string{}
	for i, src := range l.sourceNames() {
		typ, ok := types[src]
		if !ok {
			for _, n := range names {
				if strings.EqualFold(n, src) {
					src, typ, ok = n, types[n], true
					break
				}
			}
		}
		if !ok {
			return &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s has no column %q%s (columns: %s)", l.src.name, src,
				campaign.DidYouMean(src, names), strings.Join(names, ", "))}
		}
		q := datatask.Q(src)
		sel = append(sel, fmt.Sprintf("CAST(%s AS VARCHAR) AS c%d", q, i))
		raw = append(raw, dataset.QuoteLiteral(src)+", "+q)
		if typ != campaign.TypeString {
			sel = append(sel, fmt.Sprintf("%s AS n%d", q, i))
			l.native[i] = fmt.Sprintf("n%d", i)
		}
	}
	sel = append(sel, "CAST(json_object("+strings.Join(raw, ", ")+") AS VARCHAR) AS __raw")
	return l.t.Engine.Exec(l.t.Ctx, "CREATE OR REPLACE VIEW "+datatask.Q(l.view)+" AS SELECT "+strings.Join(sel, ", ")+" FROM "+from)
}

// validate converts and checks every value in SQL, fails the task beyond
// maxErrors rejects, and writes out and rejects.
func (l *loader) validate(res *activity.Result) (*activity.Result, error) {
	t := l.t
	tz := t.Location().String()
	var texts, convs, finals, reasons []string
	for i, c := range l.x.Columns {
		col, err := newColumnSQL(c, tz)
		if err != nil {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: columns[%d] (%s): %v", i, c.Name, err)}
		}
		txt := fmt.Sprintf("c%d", i)
		switch c.Transform {
		case "lower", "upper", "trim":
			txt = c.Transform + "(" + txt + ")"
		}
		texts = append(texts, fmt.Sprintf("%s AS t%d", txt, i))
		ti, vi := fmt.Sprintf("t%d", i), fmt.Sprintf("v%d", i)
		missing := fmt.Sprintf("(%s IS NULL OR trim(%s) = '')", ti, ti)
		if n, ok := l.native[i]; ok {
			convs = append(convs, fmt.Sprintf("TRY_CAST(%s AS %s) AS %s", n, col.duck, vi))
			missing = fmt.Sprintf("(%s IS NULL)", n)
			texts = append(texts, n)
		} else {
			convs = append(convs, col.convert(ti)+" AS "+vi)
		}
		fallback := "NULL"
		if c.OnError == "default" {
			def := fmt.Sprint(c.Default)
			row, err := t.Engine.QueryRow(t.Ctx, "SELECT "+col.convert(dataset.QuoteLiteral(def)))
			if err != nil {
				return nil, err
			}
			if row[0] == nil {
				return nil, &activity.InvalidInput{Msg: fmt.Sprintf("load-file: columns[%d] (%s): default %q is not %s", i, c.Name, def, col.what)}
			}
			fallback = col.convert(dataset.QuoteLiteral(def))
		}
		finals = append(finals, fmt.Sprintf("CAST(CASE WHEN %s THEN NULL WHEN %s IS NULL THEN %s ELSE %s END AS %s) AS %s",
			missing, vi, fallback, vi, col.duck, datatask.Q(c.Name)))
		label := dataset.QuoteLiteral(c.Name + ": ")
		reason := "CASE"
		if c.Required {
			reason += fmt.Sprintf(" WHEN %s THEN %s || 'required value is missing'", missing, label)
		} else {
			reason += fmt.Sprintf(" WHEN %s THEN NULL", missing)
		}
		if c.OnError == "" || c.OnError == "reject" || (c.Required && c.OnError == "null") {
			// Reasons never quote the value (they reach errors and logs);
			// the rejects' raw column holds the line.
			reason += fmt.Sprintf(" WHEN %s IS NULL THEN %s || 'the value is not %s'", vi, label, strings.ReplaceAll(col.what, "'", "''"))
		}
		reasons = append(reasons, reason+" END")
	}
	reasonSQL := "COALESCE(__err, NULLIF(concat_ws('; ', " + strings.Join(reasons, ", ") + "), ''))"
	if len(reasons) == 0 {
		reasonSQL = "__err"
	}
	tbl := t.View("valid") + "_t"
	defer t.Engine.Exec(context.WithoutCancel(t.Ctx), "DROP TABLE IF EXISTS "+datatask.Q(tbl))
	// The raw text is kept for rejected lines only.
	query := "CREATE OR REPLACE TABLE " + datatask.Q(tbl) + " AS SELECT * REPLACE (CASE WHEN __reason IS NOT NULL THEN __raw END AS __raw) FROM (SELECT __line, " + reasonSQL + " AS __reason, __raw, " + strings.Join(finals, ", ") +
		" FROM (SELECT *, " + strings.Join(convs, ", ") + " FROM (SELECT __line, __err, __raw, " + strings.Join(texts, ", ") + " FROM " + datatask.Q(l.view) + ")))"
	if err := t.Engine.Exec(t.Ctx, query); err != nil {
		return nil, fmt.Errorf("load-file: %s: %w", l.src.name, err)
	}
	row, err := t.Engine.QueryRow(t.Ctx, "SELECT count(*), count(__reason) FROM "+datatask.Q(tbl))
	if err != nil {
		return nil, err
	}
	total, rejected := row[0].(int64), row[1].(int64)
	maxErrors := DefaultMaxErrors
	if l.x.MaxErrors != nil {
		maxErrors = *l.x.MaxErrors
	}
	if rejected > int64(maxErrors) {
		return nil, l.tooMany(tbl, rejected, maxErrors)
	}
	names := make([]string, len(l.x.Columns))
	for i, c := range l.x.Columns {
		names[i] = datatask.Q(c.Name)
	}
	if _, err := t.Write(res, "out", l.x.Dimension, l.key(), "SELECT "+strings.Join(names, ", ")+" FROM "+datatask.Q(tbl)+" WHERE __reason IS NULL ORDER BY __line"); err != nil {
		return nil, err
	}
	if _, err := t.Write(res, "rejects", "", nil, "SELECT __line AS line, __reason AS reason, __raw AS raw FROM "+datatask.Q(tbl)+" WHERE __reason IS NOT NULL ORDER BY __line"); err != nil {
		return nil, err
	}
	t.Logf("%s: %d rows loaded, %d rejected (maxErrors %d)", l.src.name, total-rejected, rejected, maxErrors)
	return res, nil
}

// tooMany is the failure beyond maxErrors: the count and the first reasons.
func (l *loader) tooMany(tbl string, rejected int64, maxErrors int) error {
	var first []string
	err := l.t.Engine.Query(l.t.Ctx, 10, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			first = append(first, fmt.Sprintf("line %d: %s", r[0], r[1]))
		}
		return nil
	}, "SELECT __line, __reason FROM "+datatask.Q(tbl)+" WHERE __reason IS NOT NULL ORDER BY __line LIMIT 5")
	if err != nil {
		return err
	}
	more := ""
	if rejected > int64(len(first)) {
		more = "; …"
	}
	return &activity.InvalidInput{Msg: fmt.Sprintf("load-file: %s: %d lines rejected, more than maxErrors (%d): %s%s",
		l.src.name, rejected, maxErrors, strings.Join(first, "; "), more)}
}

// columnSQL converts the text of one column to its type.
type columnSQL struct {
	typ, duck string
	what      string // "an integer", for reasons
	convert   func(text string) string
}

func newColumnSQL(c FileColumn, tz string) (*columnSQL, error) {
	typ := c.Type
	if typ == "" {
		typ = campaign.TypeString
	}
	duck, err := dataset.DuckDBType(campaign.Column{Name: c.Name, Type: typ})
	if err != nil {
		return nil, err
	}
	col := &columnSQL{typ: typ, duck: duck}
	if c.Format != "" && typ != campaign.TypeDate && typ != campaign.TypeTimestamp {
		return nil, fmt.Errorf("format applies to date and timestamp columns only")
	}
	// match guards DuckDB's lenient casts ('1e3' or '0x10' as integers).
	match := func(s, re, then string) string {
		return fmt.Sprintf("CASE WHEN regexp_full_match(trim(%s), '%s') THEN %s END", s, re, then)
	}
	switch typ {
	case campaign.TypeString:
		col.what = "a string"
		col.convert = func(s string) string { return s }
	case campaign.TypeInteger:
		col.what = "an integer"
		col.convert = func(s string) string { return match(s, `[+-]?[0-9]+`, "TRY_CAST(trim("+s+") AS BIGINT)") }
	case campaign.TypeNumber:
		col.what = "a number"
		col.convert = func(s string) string {
			return match(s, `[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?`, "TRY_CAST(trim("+s+") AS DOUBLE)")
		}
	case campaign.TypeDecimal:
		// load-file columns have no scale: whole numbers only, never rounded.
		col.what = "a whole decimal number"
		col.convert = func(s string) string { return match(s, `[+-]?[0-9]+(\.0*)?`, "TRY_CAST(trim("+s+") AS "+duck+")") }
	case campaign.TypeBoolean:
		col.what = "a boolean (true/false, yes/no, 1/0)"
		col.convert = func(s string) string {
			return fmt.Sprintf("CASE WHEN lower(trim(%s)) IN ('true', 't', 'yes', 'y', '1') THEN true WHEN lower(trim(%s)) IN ('false', 'f', 'no', 'n', '0') THEN false END", s, s)
		}
	case campaign.TypeJSON:
		col.what = "JSON"
		col.convert = func(s string) string {
			return fmt.Sprintf("CASE WHEN json_valid(trim(%s)) THEN CAST(trim(%s) AS JSON) END", s, s)
		}
	case campaign.TypeDate, campaign.TypeTimestamp:
		return col, col.times(c, typ, tz)
	default:
		return nil, fmt.Errorf("unknown type %q", typ)
	}
	return col, nil
}

// times sets the conversion of a date or timestamp column: ISO 8601 / RFC
// 3339 by default, or the Go layout in `format`. A timestamp without an
// offset is wall-clock time in the campaign time zone.
func (col *columnSQL) times(c FileColumn, typ, tz string) error {
	zone := dataset.QuoteLiteral(tz)
	if c.Format == "" {
		if typ == campaign.TypeDate {
			col.what = "a date (YYYY-MM-DD)"
			col.convert = func(s string) string {
				return fmt.Sprintf("CASE WHEN regexp_full_match(trim(%s), '[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN TRY_CAST(trim(%s) AS DATE) END", s, s)
			}
			return nil
		}
		col.what = "a timestamp (RFC 3339, e.g. 2026-01-31T09:00:00Z)"
		col.convert = func(s string) string {
			s = "trim(" + s + ")"
			return fmt.Sprintf(`CASE WHEN NOT regexp_full_match(%[1]s, '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ].*)?') THEN NULL
				WHEN regexp_matches(%[1]s, '[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$') THEN TRY_CAST(%[1]s AS TIMESTAMPTZ)
				ELSE timezone(%[2]s, TRY_CAST(%[1]s AS TIMESTAMP)) END`, s, zone)
		}
		return nil
	}
	f, hasZone, zulu, err := strptimeLayout(c.Format)
	if err != nil {
		return err
	}
	col.what = fmt.Sprintf("a %s in the format %s", typ, strings.ReplaceAll(c.Format, "'", "''"))
	fl := dataset.QuoteLiteral(f)
	col.convert = func(s string) string {
		s = "trim(" + s + ")"
		if zulu {
			s = "regexp_replace(" + s + ", '[Zz]$', '+00:00')"
		}
		parsed := fmt.Sprintf("TRY_STRPTIME(%s, %s)", s, fl)
		switch {
		case typ == campaign.TypeDate:
			return "CAST(" + parsed + " AS DATE)"
		case hasZone:
			return parsed
		}
		return fmt.Sprintf("timezone(%s, %s)", zone, parsed)
	}
	return nil
}

// orNil returns res, or nil with an error.
func orNil(res *activity.Result, err error) *activity.Result {
	if err != nil {
		return nil
	}
	return res
}

// ctxReader stops reading when the context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
