// Package template parses, checks and renders Liquid message templates
// (email subject/html/text, SMS text, push title/body/data).
//
// It wraps github.com/osteele/liquid and adds what campaigns need:
//   - HTML auto-escaping: in an HTML template every {{ expr }} is escaped
//     unless its last filter is `raw` (or already `escape`/`escape_once`);
//   - a static list of the names a template reads (Names) and a check of
//     those names against the campaign scope (Check), so that a typo is a
//     validation error before any send;
//   - stable output formats (RFC 3339 times, plain decimal numbers, JSON for
//     objects) and render errors instead of panics.
//
// A Template is immutable and safe for concurrent Render calls.
package template

import (
	"fmt"
	"strings"

	"github.com/osteele/liquid/parser"
	"github.com/osteele/liquid/render"
)

// Options control how a template is parsed.
type Options struct {
	HTML      bool   // auto-escape every output for HTML
	Name      string // names the template in errors, e.g. "html" or "subject"
	MaxOutput int    // largest rendered output in bytes; 0 means DefaultMaxOutput
}

// DefaultMaxOutput bounds a rendered message unless Options.MaxOutput says otherwise.
const DefaultMaxOutput = 4 << 20

// Error is a template problem, located by its line within the template.
type Error struct {
	Template string // Options.Name, may be empty
	Line     int    // 1-based line within the template; 0 when unknown
	Msg      string
}

func (e Error) Error() string {
	var b strings.Builder
	if e.Template != "" {
		b.WriteString(e.Template)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Template is a parsed, immutable template.
type Template struct {
	name      string
	html      bool
	maxOutput int
	root      render.Node
	prog      []segment // flat program for templates without tags
	refs      []Ref
}

// Name returns Options.Name.
func (t *Template) Name() string { return t.name }

// HTML reports whether outputs are HTML-escaped.
func (t *Template) HTML() bool { return t.html }

// Names returns every variable path the template reads, in source order,
// excluding literals, filter names and local names (assign, capture, for).
func (t *Template) Names() []Ref {
	out := make([]Ref, len(t.refs))
	for i, r := range t.refs {
		out[i] = Ref{Path: append([]string(nil), r.Path...), Line: r.Line, Dynamic: r.Dynamic}
	}
	return out
}

// srcPath is the internal pathname given to the library so that it keeps
// the innermost line of a render error (it rewraps errors without a path).
const srcPath = "template"

// Parse parses a template. It fails on Liquid syntax errors, unclosed
// delimiters, unterminated raw/comment blocks, unknown filters and
// unsupported tags; the error is an *Error with the line.
func Parse(source string, opts Options) (t *Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, &Error{Template: opts.Name, Msg: fmt.Sprintf("invalid template: %v", r)}
		}
	}()
	loc := parser.SourceLoc{Pathname: srcPath, LineNo: 1}
	// Compile the source as written first: its errors name the author's text.
	if _, perr := engine.Compile(source, loc); perr != nil {
		return nil, liquidError(opts.Name, perr)
	}
	an, perr := analyze(source, opts.HTML)
	if perr != nil {
		perr.Template = opts.Name
		return nil, perr
	}
	if strings.Count(an.source, "\n") != strings.Count(source, "\n") {
		return nil, &Error{Template: opts.Name, Msg: "internal error: rewriting changed the line count"}
	}
	root, perr2 := engine.Compile(an.source, loc)
	if perr2 != nil {
		return nil, liquidError(opts.Name, perr2)
	}
	max := opts.MaxOutput
	if max <= 0 {
		max = DefaultMaxOutput
	}
	return &Template{name: opts.Name, html: opts.HTML, maxOutput: max, root: root, prog: an.prog, refs: an.refs}, nil
}

// MustParse is Parse that panics on error, for templates in tests and code.
func MustParse(source string, opts Options) *Template {
	t, err := Parse(source, opts)
	if err != nil {
		panic(err)
	}
	return t
}

// liquidError converts a library error to *Error.
func liquidError(name string, err interface {
	error
	LineNumber() int
	Cause() error
}) *Error {
	msg := ""
	if c := err.Cause(); c != nil {
		msg = rootCause(c).Error()
	} else {
		msg = err.Error()
		// "Liquid error (line N): MSG in template"
		if i := strings.Index(msg, "): "); strings.HasPrefix(msg, "Liquid error (line ") && i > 0 {
			msg = msg[i+3:]
		} else {
			msg = strings.TrimPrefix(msg, "Liquid error: ")
		}
		msg = strings.TrimSuffix(msg, " in "+srcPath)
	}
	return &Error{Template: name, Line: err.LineNumber(), Msg: msg}
}

// rootCause follows Cause() chains.
func rootCause(err error) error {
	for i := 0; i < 16; i++ {
		c, ok := err.(interface{ Cause() error })
		if !ok || c.Cause() == nil || c.Cause() == err {
			break
		}
		err = c.Cause()
	}
	return err
}
