package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/values"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Campaign is the campaign.* namespace.
type Campaign struct{ ID, Name string }

// Run is the run.* namespace.
type Run struct{ ID string }

// Message is the message.* namespace.
type Message struct{ UnsubscribeURL string }

// Bindings are the values one message is rendered with. Map values are Go
// values as read from a dataset: string, int64, float64, bool, time.Time,
// nil, and for json columns map[string]any / []any. Build them with a
// Builder so that date columns render as YYYY-MM-DD; a time.Time renders
// as RFC 3339 otherwise.
type Bindings struct {
	Recipient map[string]any
	Params    map[string]any
	Variables map[string]any
	Campaign  Campaign
	Run       Run
	Message   Message

	shared *shared // prepared by a Builder; takes precedence over Params, Variables, Campaign, Run
}

// shared holds the maps a Builder prepares once for many messages.
type shared struct {
	params, variables, campaign, run map[string]any
}

// Shared are the values common to every message of one send.
type Shared struct {
	Params    map[string]any
	Variables map[string]any
	Campaign  Campaign
	Run       Run
}

// Builder makes Bindings for the recipients of one send, converting values
// by their declared type: date fields become "YYYY-MM-DD" strings and json
// fields given as JSON text are decoded. It is safe for concurrent use.
type Builder struct {
	dates, jsons map[string]bool // recipient columns
	shared       *shared
	s            Shared
}

// NewBuilder prepares the shared values; scope gives the field types.
func NewBuilder(scope Scope, s Shared) *Builder {
	b := &Builder{dates: map[string]bool{}, jsons: map[string]bool{}, s: s}
	for _, f := range scope.Recipient {
		switch f.Type {
		case campaign.TypeDate:
			b.dates[f.Name] = true
		case campaign.TypeJSON:
			b.jsons[f.Name] = true
		}
	}
	b.s.Params = convertMap(s.Params, scope.Params)
	b.s.Variables = convertMap(s.Variables, scope.Variables)
	b.shared = &shared{
		params:    b.s.Params,
		variables: b.s.Variables,
		campaign:  map[string]any{"id": s.Campaign.ID, "name": s.Campaign.Name},
		run:       map[string]any{"id": s.Run.ID},
	}
	return b
}

// convertMap returns m with its date and json fields converted (a copy when
// anything changes).
func convertMap(m map[string]any, fields []Field) map[string]any {
	var out map[string]any
	for _, f := range fields {
		v, ok := m[f.Name]
		if !ok {
			continue
		}
		if c, changed := convertValue(v, f.Type); changed {
			if out == nil {
				out = make(map[string]any, len(m))
				for k, v := range m {
					out[k] = v
				}
			}
			out[f.Name] = c
		}
	}
	if out == nil {
		return m
	}
	return out
}

// convertValue converts a value of the given type for rendering.
func convertValue(v any, typ string) (any, bool) {
	switch typ {
	case campaign.TypeDate:
		if t, ok := v.(time.Time); ok {
			return t.Format(time.DateOnly), true
		}
	case campaign.TypeJSON:
		var raw []byte
		switch x := v.(type) {
		case string:
			raw = []byte(x)
		case []byte:
			raw = x
		case json.RawMessage:
			raw = x
		default:
			return v, false
		}
		var d any
		if json.Unmarshal(raw, &d) == nil {
			return d, true
		}
	}
	return v, false
}

// Bindings returns the bindings of one recipient row. The row is not
// modified; it is copied only when a date or json column needs converting.
func (b *Builder) Bindings(row map[string]any, msg Message) Bindings {
	rec := row
	copied := false
	convert := func(names map[string]bool, typ string) {
		for k := range names {
			v, ok := row[k]
			if !ok {
				continue
			}
			c, changed := convertValue(v, typ)
			if !changed {
				continue
			}
			if !copied {
				rec = make(map[string]any, len(row))
				for k2, v2 := range row {
					rec[k2] = v2
				}
				copied = true
			}
			rec[k] = c
		}
	}
	// The scope's date and json columns are few; the row may be wide.
	convert(b.dates, campaign.TypeDate)
	convert(b.jsons, campaign.TypeJSON)
	return Bindings{
		Recipient: rec,
		Params:    b.s.Params,
		Variables: b.s.Variables,
		Campaign:  b.s.Campaign,
		Run:       b.s.Run,
		Message:   msg,
		shared:    b.shared,
	}
}

// scratch holds the per-render maps and buffers, reused across renders:
// the library copies the top-level map before rendering and keeps no
// reference to any of them afterwards.
type scratch struct {
	vars, message map[string]any
	buf           bytes.Buffer
	lw            limitWriter
	fw            fastWriter
}

var scratchPool = sync.Pool{New: func() any {
	return &scratch{vars: make(map[string]any, 8), message: make(map[string]any, 1)}
}}

// maxPooled is the largest buffer kept for reuse.
const maxPooled = 256 << 10

// ErrOutputTooLarge is returned when a render exceeds the template's MaxOutput.
var ErrOutputTooLarge = errors.New("rendered output too large")

// limitWriter fails once more than max bytes are written.
type limitWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.max {
		return 0, ErrOutputTooLarge
	}
	return w.buf.Write(p)
}

// lineError makes the *Error of a render failure at a line.
func lineError(name string, line int, err error, max int) *Error {
	cause := rootCause(err)
	msg := cause.Error()
	if errors.Is(cause, ErrOutputTooLarge) {
		msg = fmt.Sprintf("%s (more than %d bytes)", ErrOutputTooLarge, max)
	}
	return &Error{Template: name, Line: line, Msg: msg}
}

// Render renders the template. A missing value renders empty. Errors (a
// filter applied to a bad value, output over MaxOutput) are returned as
// *Error with the line; Render never panics.
func (t *Template) Render(b Bindings) (out string, err error) {
	err = t.render(b, t.prog != nil, func(p []byte) { out = string(p) })
	return out, err
}

// Blank renders the template as Render does, with the same errors, and
// reports whether the output is only white space, without keeping it (a
// test run renders every message and keeps a few).
func (t *Template) Blank(b Bindings) (blank bool, err error) {
	err = t.render(b, t.prog != nil, func(p []byte) { blank = len(bytes.TrimSpace(p)) == 0 })
	return blank, err
}

// render renders into scratch space and hands the output to use, which
// must not keep it.
func (t *Template) render(b Bindings, fast bool, use func([]byte)) (err error) {
	s := scratchPool.Get().(*scratch)
	defer func() {
		if r := recover(); r != nil {
			err = lineError(t.name, 0, panicError(r), t.maxOutput)
		}
		clear(s.vars)
		s.message["unsubscribeUrl"] = nil
		s.buf.Reset()
		s.fw.reset(0)
		if s.buf.Cap() <= maxPooled && cap(s.fw.out) <= maxPooled {
			scratchPool.Put(s)
		}
	}()
	vars := s.vars
	vars["recipient"] = b.Recipient
	s.message["unsubscribeUrl"] = b.Message.UnsubscribeURL
	vars["message"] = s.message
	if sh := b.shared; sh != nil {
		vars["params"], vars["variables"], vars["campaign"], vars["run"] = sh.params, sh.variables, sh.campaign, sh.run
	} else {
		vars["params"], vars["variables"] = b.Params, b.Variables
		vars["campaign"] = map[string]any{"id": b.Campaign.ID, "name": b.Campaign.Name}
		vars["run"] = map[string]any{"id": b.Run.ID}
	}
	if fast {
		s.fw.reset(t.maxOutput)
		if err := t.renderFast(&s.fw, vars); err != nil {
			return err
		}
		use(s.fw.out)
		return nil
	}
	s.lw = limitWriter{buf: &s.buf, max: t.maxOutput}
	if rerr := render.Render(t.root, &s.lw, vars, engine); rerr != nil {
		return lineError(t.name, rerr.LineNumber(), rerr, t.maxOutput)
	}
	use(s.buf.Bytes())
	return nil
}

// bytesPool holds scratch space for formatting one output value.
var bytesPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// writeValue writes an output value: strings as is, numbers in plain
// decimal, times as RFC 3339, maps as JSON, arrays element by element; nil
// writes nothing. escape applies HTML escaping.
func writeValue(w io.Writer, v any, escape bool) error {
	v = values.ToLiquid(v)
	if v == nil {
		return nil
	}
	bp := bytesPool.Get().(*[]byte)
	b := (*bp)[:0]
	plain := true // b holds text that needs no escaping
	switch x := v.(type) {
	case string:
		if escape {
			b = appendEscaped(b, x)
		} else {
			b = append(b, x...)
		}
	case []byte:
		if escape {
			b = appendEscaped(b, string(x))
		} else {
			b = append(b, x...)
		}
	case bool:
		b = strconv.AppendBool(b, x)
	case int:
		b = strconv.AppendInt(b, int64(x), 10)
	case int64:
		b = strconv.AppendInt(b, x, 10)
	case int32:
		b = strconv.AppendInt(b, int64(x), 10)
	case float64:
		b = strconv.AppendFloat(b, x, 'f', -1, 64)
	case float32:
		b = strconv.AppendFloat(b, float64(x), 'f', -1, 32)
	case time.Time:
		b = x.AppendFormat(b, time.RFC3339)
	case json.Number:
		b = append(b, x...)
	default:
		plain = false
	}
	if !plain {
		bytesPool.Put(bp)
		return writeOther(w, v, escape)
	}
	_, err := w.Write(b)
	*bp = b
	if cap(b) <= 64<<10 {
		bytesPool.Put(bp)
	}
	return err
}

// writeOther writes the values writeValue does not format itself.
func writeOther(w io.Writer, v any, escape bool) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return writeValue(w, string(j), escape)
	case reflect.Array, reflect.Slice:
		for i := range rv.Len() {
			if err := writeValue(w, rv.Index(i).Interface(), escape); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return writeValue(w, rv.Elem().Interface(), escape)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return writeValue(w, rv.Int(), escape)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return writeValue(w, strconv.FormatUint(rv.Uint(), 10), escape)
	case reflect.String:
		return writeValue(w, rv.String(), escape)
	default:
		return writeValue(w, fmt.Sprint(v), escape)
	}
}

// appendEscaped appends s with & < > " ' escaped, as html.EscapeString
// and the `escape` filter do.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&#34;"
		case '\'':
			esc = "&#39;"
		default:
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, esc...)
		last = i + 1
	}
	return append(b, s[last:]...)
}
