package dataset

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"golang.org/x/sync/errgroup"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// SchemaProbe reads the columns of catalog table sources from their metadata
// only — each Parquet file's footer, a CSV or TSV file's typed header — and
// remembers them per file version (local: path, size and modification time;
// S3: key, size, modification time and ETag), so that the validator and the
// executor of one process read each version once. It implements
// campaign.SchemaReader. Safe for concurrent use; the zero value is ready
// (local sources only).
//
// Types map to catalog types as DuckDB's reader and the dataset's canonical
// types do (FromDuckDBType), so the columns found here are those a run stages.
type SchemaProbe struct {
	// Buckets opens the bucket of an s3:// source; nil: S3 sources cannot
	// be read.
	Buckets func(bucket string) (blob.Store, error)
	// Open opens a local file for reading its metadata; nil: os.Open.
	Open func(path string) (ReadAtCloser, error)
	// WorkDir holds S3 objects downloaded when their store cannot read a
	// byte range; "": the system's temporary folder.
	WorkDir string

	mu    sync.Mutex
	cache map[fileVersion][]Column
}

// ReadAtCloser is a file opened for random reads.
type ReadAtCloser interface {
	io.ReaderAt
	io.Closer
}

// RangeReader is implemented by stores that read part of an object (S3's
// ranged GET), so that a Parquet footer is read without the data.
type RangeReader interface {
	GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
}

// fileVersion identifies one version of one file.
type fileVersion struct {
	loc  string
	size int64
	mod  int64
	etag string
}

// maxProbeCache bounds the cache; beyond it the cache starts afresh.
const maxProbeCache = 4096

// probeParallelism bounds the files of one source read at once.
const probeParallelism = 8

var _ campaign.SchemaReader = (*SchemaProbe)(nil)

// SourceColumns implements campaign.SchemaReader: the columns of the files
// at location, in the order of the first file (columns only later files have
// follow, as DuckDB's union by name reads them).
func (p *SchemaProbe) SourceColumns(ctx context.Context, location string) ([]Column, error) {
	loc, format, err := sourceLocation(Source{Location: location})
	if err != nil {
		return nil, err
	}
	var files []probeFile
	if loc.Scheme == "s3" {
		files, format, err = p.s3Files(ctx, loc, format)
	} else {
		files, format, err = p.localFiles(location, loc.Path, format)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, pe.Err // the caller names the source
	} else if err != nil {
		return nil, err
	}
	if format == FormatJSONL {
		return nil, fmt.Errorf("%w (JSON lines: types would be guessed from a sample of rows)", campaign.ErrNoSchema)
	}
	// Files are read concurrently (on S3 each is a round trip), merged in order.
	perFile := make([][]Column, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(probeParallelism)
	for i, f := range files {
		g.Go(func() error {
			cols, err := p.columns(gctx, f, format)
			if err != nil && len(files) > 1 {
				return fmt.Errorf("%s: %w", f.name, err)
			}
			perFile[i] = cols
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Column
	at := map[string]int{}
	first := map[string]string{}
	for i, f := range files {
		for _, c := range perFile[i] {
			i, seen := at[c.Name]
			if !seen {
				at[c.Name], first[c.Name] = len(out), f.name
				out = append(out, c)
				continue
			}
			if o := out[i]; o.Type != c.Type || o.Scale != c.Scale {
				return nil, fmt.Errorf("files disagree on the type of column %q: %s stores %s, %s stores %s; declare the column",
					c.Name, first[c.Name], typeLabel(o), f.name, typeLabel(c))
			}
		}
	}
	return out, nil
}

// probeFile is one file of a source.
type probeFile struct {
	name    string // for messages: the path or key
	version fileVersion
	open    func(ctx context.Context) (ReadAtCloser, error)
}

func (p *SchemaProbe) localFiles(location, path, format string) ([]probeFile, string, error) {
	patterns, format, err := localFiles(Source{Location: location}, path, format)
	if err != nil {
		return nil, "", err
	}
	paths, err := expandLocal(patterns)
	if err != nil {
		return nil, "", err
	}
	if len(paths) == 0 {
		return nil, "", errNoFile
	}
	open := p.Open
	if open == nil {
		open = func(path string) (ReadAtCloser, error) { return os.Open(path) }
	}
	files := make([]probeFile, len(paths))
	for i, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, "", err
		}
		files[i] = probeFile{name: path, version: fileVersion{loc: path, size: fi.Size(), mod: fi.ModTime().UnixNano()},
			open: func(context.Context) (ReadAtCloser, error) { return open(path) }}
	}
	return files, format, nil
}

func (p *SchemaProbe) s3Files(ctx context.Context, loc blob.URI, format string) ([]probeFile, string, error) {
	if p.Buckets == nil {
		return nil, "", errors.New("s3 sources are not configured here")
	}
	store, err := p.Buckets(loc.Bucket)
	if err != nil {
		return nil, "", err
	}
	objs, format, err := s3Objects(ctx, store, loc, format)
	if err != nil {
		return nil, "", err
	}
	files := make([]probeFile, len(objs))
	for i, o := range objs {
		uri := blob.URI{Scheme: "s3", Bucket: loc.Bucket, Path: o.Key}.String()
		files[i] = probeFile{name: uri, version: fileVersion{loc: uri, size: o.Size, mod: o.ModTime.UnixNano(), etag: o.ETag},
			open: func(ctx context.Context) (ReadAtCloser, error) { return p.openObject(ctx, store, o) }}
	}
	return files, format, nil
}

// openObject opens an S3 object for random reads: ranged GETs when the store
// reads ranges, else a download to WorkDir (removed on Close).
func (p *SchemaProbe) openObject(ctx context.Context, store blob.Store, o blob.Info) (ReadAtCloser, error) {
	if rr, ok := store.(RangeReader); ok {
		return &rangeFile{ctx: ctx, r: rr, key: o.Key, size: o.Size}, nil
	}
	dir := p.WorkDir
	if dir == "" {
		dir = os.TempDir()
	}
	tmp, err := os.MkdirTemp(dir, "schema-*")
	if err != nil {
		return nil, err
	}
	dst := filepath.Join(tmp, "object")
	if err := download(ctx, store, o.Key, dst); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	f, err := os.Open(dst)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &tempFile{File: f, dir: tmp}, nil
}

type tempFile struct {
	*os.File
	dir string
}

func (t *tempFile) Close() error {
	err := t.File.Close()
	os.RemoveAll(t.dir)
	return err
}

// rangeFile reads an object by ranged GETs.
type rangeFile struct {
	ctx  context.Context
	r    RangeReader
	key  string
	size int64
}

func (f *rangeFile) ReadAt(b []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	n := min(int64(len(b)), f.size-off)
	rc, err := f.r.GetRange(f.ctx, f.key, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	got, err := io.ReadFull(rc, b[:n])
	if err == nil && got < len(b) {
		err = io.EOF
	}
	return got, err
}

func (f *rangeFile) Close() error { return nil }

// columns returns the columns of one file, from the cache or its metadata.
func (p *SchemaProbe) columns(ctx context.Context, f probeFile, format string) ([]Column, error) {
	p.mu.Lock()
	cols, ok := p.cache[f.version]
	p.mu.Unlock()
	if ok {
		return cols, nil
	}
	r, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	switch format {
	case FormatParquet:
		cols, err = parquetColumns(r, f.version.size)
	case FormatCSV, FormatTSV:
		cols, err = csvHeaderColumns(io.NewSectionReader(r, 0, f.version.size), f.name, format)
	default:
		return nil, fmt.Errorf("unknown format %q", format)
	}
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.cache == nil || len(p.cache) >= maxProbeCache {
		p.cache = map[fileVersion][]Column{}
	}
	p.cache[f.version] = cols
	p.mu.Unlock()
	return cols, nil
}

// parquetColumns reads the top-level columns of a Parquet file from its
// footer.
func parquetColumns(r io.ReaderAt, size int64) ([]Column, error) {
	// The end of the file in one read holds most footers: one ranged GET
	// on S3. The footer's own magic bytes are checked; the head's need no
	// read.
	pf, err := parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.SkipMagicBytes(true), parquet.OptimisticRead(true), parquet.ReadBufferSize(16<<10))
	if err != nil {
		return nil, fmt.Errorf("not a readable Parquet file: %w", err)
	}
	fields := pf.Schema().Fields()
	cols := make([]Column, len(fields))
	for i, f := range fields {
		cols[i] = parquetColumn(f.Name(), f)
	}
	return cols, nil
}

// parquetColumn maps a Parquet field to the catalog type DuckDB's reader and
// the canonical types give it: strings and enums string; signed and unsigned
// integers integer; float, double and float16 number; decimals decimal with
// their scale (number beyond scale 18 or precision 38); boolean; date;
// timestamps of any unit, and INT96, timestamp; JSON json; groups, lists,
// maps and repeated fields json; everything else (binary, UUID, time of day,
// BSON) string.
func parquetColumn(name string, n parquet.Node) Column {
	col := func(t string) Column { return Column{Name: name, Type: t} }
	if !n.Leaf() || n.Repeated() {
		return col(campaign.TypeJSON)
	}
	t := n.Type()
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	switch v := lt.(type) {
	case *format.IntType:
		return col(campaign.TypeInteger)
	case *format.DecimalType:
		if v.Scale > maxDecimalScale || v.Precision > 38 {
			return col(campaign.TypeNumber)
		}
		return Column{Name: name, Type: campaign.TypeDecimal, Scale: int(v.Scale)}
	case *format.DateType:
		return col(campaign.TypeDate)
	case *format.TimestampType:
		return col(campaign.TypeTimestamp)
	case *format.JsonType:
		return col(campaign.TypeJSON)
	case *format.Float16Type:
		return col(campaign.TypeNumber)
	case nil:
	default: // string, enum, UUID, time of day, BSON...
		return col(campaign.TypeString)
	}
	switch t.Kind() {
	case parquet.Boolean:
		return col(campaign.TypeBoolean)
	case parquet.Int32, parquet.Int64:
		return col(campaign.TypeInteger)
	case parquet.Int96:
		return col(campaign.TypeTimestamp)
	case parquet.Float, parquet.Double:
		return col(campaign.TypeNumber)
	}
	return col(campaign.TypeString)
}

// csvHeaderColumns reads the typed header of a CSV or TSV file: every cell
// is name:type, type one of the catalog types or decimal(SCALE). A header
// without types is ErrNoSchema; a header typing some cells only, or naming
// an unknown type, is an error.
func csvHeaderColumns(r io.Reader, name, format string) ([]Column, error) {
	if strings.HasSuffix(strings.ToLower(name), ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		r = gz
	}
	cr := csv.NewReader(r)
	if format == FormatTSV {
		cr.Comma = '\t'
	}
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("the file is empty: no header")
	} else if err != nil {
		return nil, fmt.Errorf("cannot read the header: %w", err)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	cols := make([]Column, 0, len(header))
	var untyped []string
	var typeErr error
	for i, cell := range header {
		c, err := typedHeaderCell(cell)
		if err != nil {
			untyped = append(untyped, strconv.Quote(cell))
			if typeErr == nil && !errors.Is(err, errUntyped) {
				typeErr = fmt.Errorf("header cell %d: %w", i+1, err)
			}
			continue
		}
		cols = append(cols, c)
	}
	switch {
	case len(cols) == 0:
		return nil, fmt.Errorf("%w (the CSV header names no types; type it as name:type)", campaign.ErrNoSchema)
	case typeErr != nil:
		return nil, typeErr
	case len(untyped) > 0:
		return nil, fmt.Errorf("the header types some columns but not %s: type every column (name:type) or none", strings.Join(untyped, ", "))
	}
	return cols, nil
}

var errUntyped = errors.New("no type")

// typedHeaderCell parses a typed CSV header cell, name:type (type a catalog
// type, or decimal(SCALE)). A cell without a colon, or with an empty name,
// is errUntyped; an unknown type after the last colon is an error naming the
// valid ones.
func typedHeaderCell(cell string) (Column, error) {
	i := strings.LastIndexByte(cell, ':')
	if i <= 0 || strings.TrimSpace(cell[:i]) == "" {
		return Column{}, errUntyped
	}
	name, typ := strings.TrimSpace(cell[:i]), strings.TrimSpace(cell[i+1:])
	if s, ok := strings.CutPrefix(typ, campaign.TypeDecimal+"("); ok && strings.HasSuffix(s, ")") {
		scale, err := strconv.Atoi(strings.TrimSuffix(s, ")"))
		if err != nil || scale < 0 || scale > maxDecimalScale {
			return Column{}, fmt.Errorf("%q: decimal scale must be 0..%d", cell, maxDecimalScale)
		}
		return Column{Name: name, Type: campaign.TypeDecimal, Scale: scale}, nil
	}
	if typ != campaign.TypeDecimal && slices.Contains(campaign.ColumnTypes, typ) {
		return Column{Name: name, Type: typ}, nil
	}
	valid := slices.Clone(campaign.ColumnTypes)
	valid[slices.Index(valid, campaign.TypeDecimal)] = "decimal(SCALE)"
	return Column{}, fmt.Errorf("%q: unknown type %q%s; valid: %s", cell, typ, campaign.DidYouMean(typ, campaign.ColumnTypes), strings.Join(valid, ", "))
}

func typeLabel(c Column) string {
	if c.Type == campaign.TypeDecimal {
		return fmt.Sprintf("decimal(%d)", c.Scale)
	}
	return c.Type
}
