package template

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/osteele/liquid/parser"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Ref is a variable path read by a template, e.g. ["recipient", "firstName"].
type Ref struct {
	Path    []string
	Line    int  // 1-based line of the reference
	Dynamic bool // the path continues with a computed index, e.g. a[b] or a[0]
}

// String returns the dotted path.
func (r Ref) String() string { return strings.Join(r.Path, ".") }

// roots are the top-level names in scope of every template.
var roots = []string{"recipient", "params", "variables", "campaign", "run", "message"}

// maxRange bounds literal ranges such as (1..100), which drive loops.
const maxRange = 10000

// tokenRE is the library's default token matcher (parser.formTokenMatcher),
// used to find where the arguments start inside a token's source.
var tokenRE = regexp.MustCompile(`{{-?\s*(.+?)\s*-?}}|{%-?\s*(\w+)(?:\s+((?:[^%]|%[^}])+?))?\s*-?%}`)

// ignoredWords are identifiers that are keywords, never variables.
var ignoredWords = map[string]bool{
	"empty": true, "blank": true, "reversed": true, "not": true, "with": true,
}

type localKind int

const (
	localAssign localKind = iota + 1
	localCapture
	localLoop
)

// analyzer walks the scanned tokens: it lists references, checks
// filters and tags, and produces the source with {{ }} rewritten to output
// tags.
type analyzer struct {
	html    bool
	out     strings.Builder
	refs    []Ref
	locals  map[string]localKind
	loops   [][2]loopSave // per open for/tablerow: saved bindings of its names
	err     *Error
	seenRef map[string]bool
	prog    []segment // flat program; valid while tagless
	tagless bool
	// assigned holds the names that assign, for or tablerow set anywhere:
	// such a name is never treated as (already escaped) captured text.
	assigned map[string]bool
}

type loopSave struct {
	name string
	kind localKind
}

// analysis is what analyze finds in a template.
type analysis struct {
	source string    // {{ }} rewritten to output tags
	refs   []Ref     // names read
	prog   []segment // flat program when the template has no tags, else nil
}

// analyze examines a template that the library has already compiled.
func analyze(source string, html bool) (*analysis, *Error) {
	a := &analyzer{html: html, locals: map[string]localKind{}, seenRef: map[string]bool{}, tagless: true}
	a.out.Grow(len(source) + len(source)/8)
	toks := parser.Scan(source, parser.SourceLoc{LineNo: 1}, nil)
	a.assigned = map[string]bool{}
	for _, tok := range toks {
		switch tok.Name {
		case "assign", "for", "tablerow":
			if et := lexExpr(tok.Args); len(et) > 0 && et[0].kind == kIdent {
				a.assigned[et[0].text] = true
			}
		}
	}
	var (
		inRaw, inComment bool
		openLine         int
	)
	for _, tok := range toks {
		if a.err != nil {
			return nil, a.err
		}
		switch tok.Type {
		case parser.TrimLeftTokenType:
			a.prog = append(a.prog, segment{kind: segTrimLeft})
			continue // its "-" is part of the next token's source
		case parser.TrimRightTokenType:
			a.prog = append(a.prog, segment{kind: segTrimRight})
			continue
		}
		switch {
		case inComment:
			if tok.Type == parser.TagTokenType && tok.Name == "endcomment" {
				inComment = false
			}
			a.out.WriteString(tok.Source)
		case inRaw:
			if tok.Type == parser.TagTokenType && tok.Name == "endraw" {
				inRaw = false
			}
			a.out.WriteString(tok.Source)
		case tok.Type == parser.TextTokenType:
			a.text(tok)
			a.out.WriteString(tok.Source)
			a.prog = append(a.prog, segment{kind: segText, text: []byte(tok.Source)})
		case tok.Type == parser.ObjTokenType:
			a.object(tok)
		case tok.Type == parser.TagTokenType:
			a.tagless = false
			switch tok.Name {
			case "comment":
				inComment, openLine = true, tok.SourceLoc.LineNo
			case "raw":
				inRaw, openLine = true, tok.SourceLoc.LineNo
			}
			a.tag(tok)
			a.out.WriteString(tok.Source)
		}
	}
	if a.err != nil {
		return nil, a.err
	}
	switch {
	case inComment:
		return nil, &Error{Line: openLine, Msg: `unterminated "comment" block`}
	case inRaw:
		return nil, &Error{Line: openLine, Msg: `unterminated "raw" block`}
	}
	res := &analysis{source: a.out.String(), refs: a.refs}
	if a.tagless {
		res.prog = a.prog
	}
	return res, nil
}

func (a *analyzer) fail(line int, format string, args ...any) {
	if a.err == nil {
		a.err = &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
}

// text rejects delimiters that the scanner left in text: an object or tag
// that is not closed (objects must close on their line) would otherwise be
// sent verbatim.
func (a *analyzer) text(tok parser.Token) {
	for _, d := range []string{"{{", "{%"} {
		if i := strings.Index(tok.Source, d); i >= 0 {
			line := tok.SourceLoc.LineNo + strings.Count(tok.Source[:i], "\n")
			if d == "{{" {
				a.fail(line, `"{{" is not closed by "}}" on the same line (use {%% raw %%} for a literal "{{")`)
			} else {
				a.fail(line, `"{%%" does not start a valid tag closed by "%%}"`)
			}
			return
		}
	}
}

// argsOffset returns where the arguments start in a token's source.
func argsOffset(tok parser.Token) int {
	m := tokenRE.FindStringSubmatchIndex(tok.Source)
	if m == nil {
		return 0
	}
	if tok.Type == parser.ObjTokenType {
		return m[2]
	}
	if m[6] >= 0 {
		return m[6]
	}
	return len(tok.Source)
}

func (a *analyzer) object(tok parser.Token) {
	off := argsOffset(tok)
	line := tok.SourceLoc.LineNo + strings.Count(tok.Source[:off], "\n")
	args := tok.Args
	if strings.Contains(args, "%}") {
		a.fail(line, `"%%}" is not allowed inside {{ }}`)
		return
	}
	et := lexExpr(args)
	a.refsIn(et, lineFunc(args, line))

	escape := a.html
	if escape {
		if f := lastFilter(et); f == "raw" || f == "escape" || f == "escape_once" {
			escape = false
		} else if len(et) == 1 && et[0].kind == kIdent && a.locals[et[0].text] == localCapture && !a.assigned[et[0].text] {
			escape = false // captured text was escaped when captured
		}
	}
	name := tagText
	if escape {
		name = tagHTML
	}
	if a.tagless {
		seg, err := compileOutput(args, et, line, escape)
		if err != nil {
			a.fail(line, "%v", err)
			return
		}
		a.prog = append(a.prog, seg)
	}
	// {{-? ws ARGS ws -?}}  ->  {%-? ws NAME ARGS ws -?%}, keeping every
	// character that counts for lines and whitespace control.
	src := tok.Source
	end := off + len(args)
	a.out.WriteString("{%")
	a.out.WriteString(src[2:off])
	a.out.WriteString(name)
	a.out.WriteByte(' ')
	a.out.WriteString(args)
	a.out.WriteString(src[end : len(src)-2])
	a.out.WriteString("%}")
}

func (a *analyzer) tag(tok parser.Token) {
	off := argsOffset(tok)
	line := tok.SourceLoc.LineNo + strings.Count(tok.Source[:off], "\n")
	args := tok.Args
	switch tok.Name {
	case "include":
		a.fail(tok.SourceLoc.LineNo, `tag "include" is not supported`)
	case tagHTML, tagText:
		a.fail(tok.SourceLoc.LineNo, "undefined tag %q", tok.Name)
	case "assign":
		et := lexExpr(args)
		eq := 0
		for eq < len(et) && !(et[eq].kind == kPunct && et[eq].text == "=") {
			eq++
		}
		if eq < len(et) {
			a.refsIn(et[eq+1:], lineFunc(args, line))
		}
		if len(et) > 0 && et[0].kind == kIdent {
			a.define(et[0].text, localAssign, line)
		}
	case "capture":
		a.define(strings.TrimSpace(args), localCapture, line)
	case "for", "tablerow":
		et := lexExpr(args)
		save := [2]loopSave{{name: "forloop", kind: a.locals["forloop"]}}
		if len(et) > 0 && et[0].kind == kIdent {
			v := et[0].text
			save[1] = loopSave{name: v, kind: a.locals[v]}
			i := 1
			if i < len(et) && et[i].kind == kOp && et[i].text == "in" {
				i++
			}
			a.refsIn(et[i:], lineFunc(args, line))
			a.checkReserved(v, line)
			a.locals[v] = localLoop
		}
		a.locals["forloop"] = localLoop
		a.loops = append(a.loops, save)
	case "endfor", "endtablerow":
		if n := len(a.loops); n > 0 {
			for _, s := range a.loops[n-1] {
				if s.name == "" {
					continue
				}
				if s.kind == 0 {
					delete(a.locals, s.name)
				} else {
					a.locals[s.name] = s.kind
				}
			}
			a.loops = a.loops[:n-1]
		}
	case "if", "elsif", "unless", "case", "when", "cycle":
		a.refsIn(lexExpr(args), lineFunc(args, line))
	}
}

func (a *analyzer) define(name string, kind localKind, line int) {
	a.checkReserved(name, line)
	a.locals[name] = kind
}

func (a *analyzer) checkReserved(name string, line int) {
	for _, r := range roots {
		if name == r {
			a.fail(line, "cannot assign to %q: it is a reserved name", name)
		}
	}
}

// lineFunc returns the line of a position within src, which starts at line.
func lineFunc(src string, line int) func(int) int {
	return func(pos int) int { return line + strings.Count(src[:pos], "\n") }
}

// refsIn records the variable paths of an expression; lineAt maps token
// positions to lines.
func (a *analyzer) refsIn(et []etok, lineAt func(int) int) {
	for i := 0; i < len(et); {
		t := et[i]
		switch {
		case t.kind == kPunct && t.text == "|":
			if i+1 < len(et) && (et[i+1].kind == kIdent || et[i+1].kind == kKeyword) {
				f := et[i+1].text
				if !filterNames[f] {
					a.fail(lineAt(et[i+1].pos), "undefined filter %q%s", f, campaign.DidYouMean(f, filterList))
				}
				i += 2
				continue
			}
			i++
		case t.kind == kPunct && t.text == "(" && i+4 < len(et) && et[i+1].kind == kNum &&
			et[i+2].kind == kOp && et[i+2].text == ".." && et[i+3].kind == kNum:
			lo, _ := strconv.ParseFloat(et[i+1].text, 64)
			hi, _ := strconv.ParseFloat(et[i+3].text, 64)
			if hi-lo >= maxRange {
				a.fail(lineAt(t.pos), "range (%s..%s) is too large: at most %d items", et[i+1].text, et[i+3].text, maxRange)
			}
			i += 4
		case t.kind == kIdent:
			i = a.path(et, i, lineAt)
		default:
			i++
		}
	}
}

// path reads IDENT (.prop | [index])* from et[i] and returns the index after it.
func (a *analyzer) path(et []etok, i int, lineAt func(int) int) int {
	t := et[i]
	ref := Ref{Path: []string{t.text}, Line: lineAt(t.pos)}
	var indexes [][]etok // computed indexes, read after the path itself
	j := i + 1
	for j < len(et) {
		switch {
		case et[j].kind == kProp:
			if !ref.Dynamic {
				ref.Path = append(ref.Path, et[j].text)
			}
			j++
			continue
		case et[j].kind == kPunct && et[j].text == "[":
			k, depth := j+1, 1
			for ; k < len(et); k++ {
				if et[k].kind == kPunct && et[k].text == "[" {
					depth++
				} else if et[k].kind == kPunct && et[k].text == "]" {
					if depth--; depth == 0 {
						break
					}
				}
			}
			inner := et[j+1 : min(k, len(et))]
			if len(inner) == 1 && inner[0].kind == kString && !ref.Dynamic {
				ref.Path = append(ref.Path, inner[0].text)
			} else {
				ref.Dynamic = true
				indexes = append(indexes, inner)
			}
			j = k + 1
			continue
		}
		break
	}
	if !ignoredWords[t.text] && a.locals[t.text] == 0 {
		key := fmt.Sprint(ref.Line, ref.Dynamic, ref.Path)
		if !a.seenRef[key] {
			a.seenRef[key] = true
			a.refs = append(a.refs, ref)
		}
	}
	for _, in := range indexes {
		a.refsIn(in, lineAt)
	}
	return j
}

// lastFilter returns the name of the last top-level filter of an output.
func lastFilter(et []etok) string {
	depth, name := 0, ""
	for i, t := range et {
		if t.kind != kPunct {
			continue
		}
		switch t.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case "|":
			if depth == 0 && i+1 < len(et) && (et[i+1].kind == kIdent || et[i+1].kind == kKeyword) {
				name = et[i+1].text
			}
		}
	}
	return name
}
