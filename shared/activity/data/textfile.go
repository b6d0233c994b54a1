package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text files (csv, tsv, jsonl) are read once, streaming, by a small Go
// parser that knows the physical line of every record, and rewritten as a
// normalized CSV that DuckDB reads with a fixed dialect and validates in SQL:
//
//	__line,__err,__raw,c0,c1,...
//
// __line is the 1-based physical line where the record starts (BOM, skipped
// lines, the header, blank lines and quoted line breaks all counted), __err a
// structural problem (wrong field count, text after a closing quote, invalid
// UTF-8, a JSONL line that is not an object), __raw the record as it was in
// the file, and c<i> the text of the i-th configured column. DuckDB's own
// read_csv is not used on the user's file directly: its sniffer rejects a
// whole file for one malformed line, it silently skips blank lines, and the
// line numbers it reports count a multi-line record as one line, so it
// cannot give exact line numbers. Memory stays bounded by one record.

// maxRecordBytes bounds one record (a quote left open would otherwise read
// the rest of the file as one field).
var maxRecordBytes = 8 << 20

// maxRawBytes bounds the raw text kept for a rejected record.
const maxRawBytes = 4096

// textOptions configure normalize.
type textOptions struct {
	Format    string // csv, tsv or jsonl
	Delim     byte
	Quote     byte
	Header    bool
	SkipLines int
	// Columns are the names to read: header names (csv with a header),
	// JSON keys (jsonl); csv without a header reads them by position.
	Columns []string
	// Name is the file as the user named it, for messages.
	Name string
}

// textStats summarizes a normalized file.
type textStats struct {
	Records int64 // data records written (blank lines excluded)
	Lines   int64 // physical lines read
	Header  []string
}

// FileError is a problem that makes a whole file unreadable.
type FileError struct {
	Name string
	Line int64 // 0 when not about a line
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return e.Name + ": " + e.Msg
}

// normalize reads a text file from r and writes its normalized CSV to w.
func normalize(r io.Reader, w io.Writer, o textOptions) (textStats, error) {
	lr := &lineReader{br: bufio.NewReaderSize(r, 256<<10), name: o.Name}
	bw := bufio.NewWriterSize(w, 256<<10)
	out := &normWriter{w: bw, cols: len(o.Columns)}
	var st textStats
	var err error
	if o.Format == "jsonl" {
		err = normalizeJSONL(lr, out, o, &st)
	} else {
		err = normalizeCSV(lr, out, o, &st)
	}
	st.Lines = lr.line
	if err != nil {
		return st, err
	}
	if out.err != nil {
		return st, out.err
	}
	return st, bw.Flush()
}

// lineReader yields physical lines (with their terminator) and counts them.
type lineReader struct {
	br      *bufio.Reader
	name    string
	line    int64 // number of the last line returned
	buf     []byte
	started bool // the first line was read (and its BOM dropped)
}

// next returns the next physical line including its "\n" (absent on the
// last line of a file without a final newline), or io.EOF. The slice is
// valid until the next call.
func (lr *lineReader) next(limit int) ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		lr.buf = append(lr.buf, chunk...)
		if len(lr.buf) > limit {
			return nil, &FileError{Name: lr.name, Line: lr.line + 1, Msg: fmt.Sprintf("line longer than %d MiB", limit>>20)}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if len(lr.buf) == 0 {
			return nil, io.EOF
		}
		lr.line++
		if !lr.started {
			lr.started = true
			lr.buf = bytes.TrimPrefix(lr.buf, []byte("\xef\xbb\xbf"))
		}
		return lr.buf, nil
	}
}

// trimEOL drops a final "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// blank reports whether a line holds only spaces (and tabs, unless tab is
// the delimiter).
func blank(line []byte, delim byte) bool {
	for _, c := range trimEOL(line) {
		if c != ' ' && (c != '\t' || delim == '\t') {
			return false
		}
	}
	return true
}

// csvRecord is one parsed record.
type csvRecord struct {
	line   int64
	fields [][]byte
	raw    []byte
	err    string
}

// csvParser splits records, RFC 4180 style: fields may be quoted, a doubled
// quote inside quotes is one quote, quoted fields may hold delimiters and
// line breaks. A quote inside an unquoted field is kept as text.
type csvParser struct {
	lr           *lineReader
	delim, quote byte
	raw, val     []byte
	bounds       []int
	rec          csvRecord
}

// next returns the next non-blank record, or io.EOF.
func (p *csvParser) next() (*csvRecord, error) {
	for {
		line, err := p.lr.next(maxRecordBytes)
		if err != nil {
			return nil, err
		}
		if blank(line, p.delim) {
			continue
		}
		return p.parse(line)
	}
}

func (p *csvParser) parse(line []byte) (*csvRecord, error) {
	start := p.lr.line
	p.raw = append(p.raw[:0], line...)
	p.val = p.val[:0]
	p.bounds = p.bounds[:0]
	p.rec = csvRecord{line: start, fields: p.rec.fields[:0]}
	pos := 0
	for {
		// At the start of a field.
		if p.quote != 0 && pos < len(line) && line[pos] == p.quote {
			pos++
			for {
				i := bytes.IndexByte(line[pos:], p.quote)
				if i < 0 {
					// The quoted field goes on to the next line.
					p.val = append(p.val, line[pos:]...)
					next, err := p.lr.next(maxRecordBytes)
					if errors.Is(err, io.EOF) {
						return nil, &FileError{Name: p.lr.name, Line: start, Msg: "a quoted field is never closed (unbalanced quote)"}
					}
					if err != nil {
						return nil, err
					}
					if len(p.raw)+len(next) > maxRecordBytes {
						return nil, &FileError{Name: p.lr.name, Line: start, Msg: fmt.Sprintf("record longer than %d MiB (unbalanced quote?)", maxRecordBytes>>20)}
					}
					p.raw = append(p.raw, next...)
					line, pos = p.raw[len(p.raw)-len(next):], 0
					continue
				}
				p.val = append(p.val, line[pos:pos+i]...)
				pos += i + 1
				if pos < len(line) && line[pos] == p.quote {
					p.val = append(p.val, p.quote)
					pos++
					continue
				}
				break
			}
			p.bounds = append(p.bounds, len(p.val))
			rest := line[pos:]
			switch {
			case len(trimEOL(rest)) == 0:
				return p.finish(), nil
			case rest[0] == p.delim:
				pos++
				continue
			default:
				p.rec.err = fmt.Sprintf("unexpected text after the closing quote of field %d", len(p.bounds))
				return p.finish(), nil
			}
		}
		i := bytes.IndexByte(line[pos:], p.delim)
		if i < 0 {
			p.val = append(p.val, trimEOL(line[pos:])...)
			p.bounds = append(p.bounds, len(p.val))
			return p.finish(), nil
		}
		p.val = append(p.val, line[pos:pos+i]...)
		p.bounds = append(p.bounds, len(p.val))
		pos += i + 1
	}
}

func (p *csvParser) finish() *csvRecord {
	r := &p.rec
	r.raw = trimEOL(p.raw)
	r.fields = r.fields[:0]
	from := 0
	for _, to := range p.bounds {
		r.fields = append(r.fields, p.val[from:to])
		from = to
	}
	if r.err == "" && !utf8.Valid(r.raw) {
		r.err = "the line is not valid UTF-8 text"
	}
	return r
}

func normalizeCSV(lr *lineReader, out *normWriter, o textOptions, st *textStats) error {
	for range o.SkipLines {
		if _, err := lr.next(maxRecordBytes); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
	p := &csvParser{lr: lr, delim: o.Delim, quote: o.Quote}
	pick := make([]int, len(o.Columns)) // field index of each column
	expect := len(o.Columns)
	for i := range pick {
		pick[i] = i
	}
	if o.Header {
		h, err := p.next()
		if errors.Is(err, io.EOF) {
			return nil // an empty file: no rows
		}
		if err != nil {
			return err
		}
		if h.err != "" {
			return &FileError{Name: o.Name, Line: h.line, Msg: "header: " + h.err}
		}
		for _, f := range h.fields {
			st.Header = append(st.Header, strings.TrimSpace(string(f)))
		}
		if pick, err = headerPositions(st.Header, o.Columns); err != nil {
			return &FileError{Name: o.Name, Line: h.line, Msg: err.Error()}
		}
		expect = len(st.Header)
	}
	vals := make([][]byte, len(o.Columns))
	for {
		r, err := p.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		st.Records++
		problem := r.err
		if problem == "" {
			n := len(r.fields)
			for n > expect && len(r.fields[n-1]) == 0 {
				n-- // trailing empty fields (a trailing delimiter) are harmless
			}
			if n != expect {
				problem = fmt.Sprintf("the line has %d fields, expected %d", len(r.fields), expect)
			}
		}
		for i, f := range pick {
			vals[i] = nil
			if problem == "" && f < len(r.fields) {
				vals[i] = r.fields[f]
			}
		}
		out.row(r.line, problem, r.raw, vals)
	}
}

// headerPositions finds each column in the header: by exact name, else
// ignoring case and surrounding spaces.
func headerPositions(header, cols []string) ([]int, error) {
	pos := make([]int, len(cols))
	for i, c := range cols {
		pos[i] = -1
		for j, h := range header {
			if h == c {
				pos[i] = j
				break
			}
		}
		if pos[i] < 0 {
			for j, h := range header {
				if strings.EqualFold(strings.TrimSpace(h), strings.TrimSpace(c)) {
					pos[i] = j
					break
				}
			}
		}
		if pos[i] < 0 {
			// The header's names are not listed: a file without one would
			// show its first record.
			return nil, fmt.Errorf("the header has no column %q (it has %d columns); set `source` to the header name, or `csv.header: false`", c, len(header))
		}
	}
	return pos, nil
}

func normalizeJSONL(lr *lineReader, out *normWriter, o textOptions, st *textStats) error {
	vals := make([][]byte, len(o.Columns))
	for {
		line, err := lr.next(maxRecordBytes)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if blank(line, 0) {
			continue
		}
		st.Records++
		raw := trimEOL(line)
		problem := ""
		var obj map[string]json.RawMessage
		if !utf8.Valid(raw) {
			problem = "the line is not valid UTF-8 text"
		} else if !json.Valid(raw) {
			// Not json's message: it quotes a character of the line.
			problem = "invalid JSON"
			var x any
			var se *json.SyntaxError
			if err := json.Unmarshal(raw, &x); errors.As(err, &se) {
				problem += fmt.Sprintf(" at character %d", se.Offset)
			}
		} else if json.Unmarshal(raw, &obj) != nil || obj == nil {
			problem = "not a JSON object"
		}
		for i, c := range o.Columns {
			vals[i] = nil
			if problem != "" {
				continue
			}
			v, ok := obj[c]
			if !ok {
				for k, x := range obj {
					if strings.EqualFold(k, c) {
						v, ok = x, true
						break
					}
				}
			}
			if ok {
				vals[i] = jsonText(v)
			}
		}
		out.row(lr.line, problem, raw, vals)
	}
}

// jsonText is the text of a JSON value: strings unquoted, null empty,
// numbers and booleans as written, objects and arrays compacted.
func jsonText(v json.RawMessage) []byte {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || string(v) == "null":
		return nil
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return []byte(s)
		}
	case v[0] == '{' || v[0] == '[':
		var b bytes.Buffer
		if json.Compact(&b, v) == nil {
			return b.Bytes()
		}
	}
	return v
}

// normWriter writes the normalized CSV: every non-empty value quoted, an
// empty value unquoted (DuckDB reads it as NULL).
type normWriter struct {
	w    *bufio.Writer
	cols int
	num  []byte
	err  error
}

func (n *normWriter) row(line int64, problem string, raw []byte, vals [][]byte) {
	if n.err != nil {
		return
	}
	n.num = strconv.AppendInt(n.num[:0], line, 10)
	n.w.Write(n.num)
	n.w.WriteByte(',')
	n.field([]byte(problem))
	n.w.WriteByte(',')
	if len(raw) > maxRawBytes {
		raw = append(bytes.Clone(raw[:maxRawBytes]), "…"...)
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	n.field(raw)
	for _, v := range vals {
		n.w.WriteByte(',')
		n.field(v)
	}
	_, n.err = n.w.Write([]byte{'\n'})
}

func (n *normWriter) field(v []byte) {
	if len(v) == 0 {
		return
	}
	n.w.WriteByte('"')
	for {
		i := bytes.IndexByte(v, '"')
		if i < 0 {
			n.w.Write(v)
			break
		}
		n.w.Write(v[:i+1])
		n.w.WriteByte('"')
		v = v[i+1:]
	}
	n.w.WriteByte('"')
}
