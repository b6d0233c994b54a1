package campaign

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits of a document, checked before anything is decoded (docs/campaign-format.md,
// "Limits"). They bound the time and memory a hostile file can cost.
const (
	// MaxCampaignBytes is the largest campaign file.
	MaxCampaignBytes = 1 << 20
	// MaxCatalogBytes is the largest catalog file.
	MaxCatalogBytes = 2 << 20
	// MaxDepth is the deepest nesting of mappings and lists, aliases expanded.
	// It keeps every condition far below DuckDB's expression depth limit (1000)
	// at run time: a condition level costs at most about 10 SQL levels and at
	// least one document level.
	MaxDepth = 64
	// AliasSlack is how many nodes aliases may add to a small document; a
	// larger one may grow by its own node count (twice its size in all).
	AliasSlack = 10_000
)

// Source is a parsed YAML or JSON document with the position of every path in it.
type Source struct {
	File string
	Root *yaml.Node                    // the document's top node (a mapping for valid files)
	Data []byte                        // the bytes parsed
	keys map[*yaml.Node]map[string]int // key index of large mappings, built on demand
}

// Parse reads YAML or JSON (JSON is parsed as YAML 1.2, keeping positions).
// A syntax error, or a document over the limits (nesting deeper than MaxDepth,
// a recursive alias, aliases expanding past AliasSlack), is returned as a
// positioned diagnostic and leaves Root nil.
func Parse(file string, data []byte) (*Source, Diagnostics) {
	s := &Source{File: file, Data: data}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return s, Diagnostics{{Pos: Pos{File: file, Line: syntaxLine(err), Col: 1}, Message: "syntax error: " + cleanYAMLError(err), Severity: Error}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return s, Diagnostics{{Pos: Pos{File: file, Line: 1, Col: 1}, Message: "the file is empty", Severity: Error}}
	}
	if d := checkShape(file, doc.Content[0]); d != nil {
		return s, Diagnostics{*d}
	}
	s.Root = doc.Content[0]
	return s, nil
}

// checkSize reports a document larger than max bytes.
func checkSize(file, what string, data []byte, max int) Diagnostics {
	if len(data) <= max {
		return nil
	}
	return Diagnostics{{Pos: Pos{File: file, Line: 1, Col: 1}, Severity: Error,
		Message: fmt.Sprintf("the %s is larger than a %s may be: at most %d bytes (%d MiB)", what, what, max, max>>20)}}
}

// shape measures a document as a decoder sees it, aliases expanded, without
// expanding them: each anchored node is measured once.
type shape struct {
	file    string
	extents map[*yaml.Node]extent // anchored nodes measured so far
	open    map[*yaml.Node]bool   // anchored nodes being measured
	path    []any                 // keys and indexes down to the node being measured
	own     int                   // nodes as written
	extra   int                   // nodes the aliases measured so far add
	bad     *Diagnostic
}

type extent struct{ nodes, height int }

// checkShape returns the first violation of MaxDepth, a recursive alias, or
// an alias expansion beyond the document's own size plus AliasSlack.
func checkShape(file string, root *yaml.Node) *Diagnostic {
	s := &shape{file: file, extents: map[*yaml.Node]extent{}, open: map[*yaml.Node]bool{}, own: countNodes(root)}
	s.measure(root, 1)
	return s.bad
}

const saturated = 1 << 40 // node counts stop growing here (no overflow)

func (s *shape) measure(n *yaml.Node, depth int) extent {
	if s.bad != nil {
		return extent{}
	}
	if n.Kind == yaml.AliasNode {
		t := n.Alias
		if t == nil {
			return extent{nodes: 1}
		}
		if s.open[t] {
			s.fail(n, fmt.Sprintf("recursive alias *%s: the anchor &%s contains itself", n.Value, t.Anchor))
			return extent{}
		}
		e, ok := s.extents[t]
		if !ok { // anchors precede their aliases; measure defensively anyway
			e = s.measure(t, depth)
		}
		if isCollection(t) && depth+e.height-1 > MaxDepth {
			s.fail(n, fmt.Sprintf("the alias *%s nests %d levels deep here; a document nests at most %d levels of mappings and lists", n.Value, depth+e.height-1, MaxDepth))
		}
		// Each alias as written adds its target's expanded size: their sum
		// is what decoding the whole document expands.
		s.extra = min(s.extra+e.nodes-1, saturated)
		if allowed := max(s.own, AliasSlack); s.extra > allowed {
			s.fail(n, fmt.Sprintf("aliases expand this document of %d nodes by more than %d nodes (here, *%s adds %d); remove repeated aliases", s.own, allowed, n.Value, e.nodes-1))
		}
		return e
	}
	if isCollection(n) && depth > MaxDepth {
		s.fail(n, fmt.Sprintf("nested more than %d levels deep; a document nests at most %d levels of mappings and lists", MaxDepth, MaxDepth))
		return extent{}
	}
	if n.Anchor != "" {
		s.open[n] = true
		defer delete(s.open, n)
	}
	e := extent{nodes: 1}
	child := depth
	if isCollection(n) {
		child = depth + 1
	}
	for i, c := range n.Content {
		var elem any = i
		if n.Kind == yaml.MappingNode {
			if i%2 == 0 {
				elem = "" // a key: not part of the path
			} else {
				elem = n.Content[i-1].Value
			}
		}
		s.path = append(s.path, elem)
		ce := s.measure(c, child)
		s.path = s.path[:len(s.path)-1]
		e.nodes = min(e.nodes+ce.nodes, saturated)
		e.height = max(e.height, ce.height)
	}
	if isCollection(n) {
		e.height++
	}
	if n.Anchor != "" {
		s.extents[n] = e
	}
	return e
}

func (s *shape) fail(n *yaml.Node, msg string) {
	if s.bad != nil {
		return
	}
	path := ""
	for _, e := range s.path {
		if e != "" {
			path = JoinPath(path, e)
		}
	}
	s.bad = &Diagnostic{Pos: Pos{File: s.file, Line: n.Line, Col: n.Column}, Path: path, Message: msg, Severity: Error}
}

func isCollection(n *yaml.Node) bool {
	return n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode
}

// countNodes counts the nodes as written (an alias is one node).
func countNodes(n *yaml.Node) int {
	c := 1
	for _, ch := range n.Content {
		c += countNodes(ch)
	}
	return c
}

// PosOf returns the position of the value at path, or of its closest
// recorded ancestor.
func (s *Source) PosOf(path string) Pos {
	if s == nil {
		return Pos{}
	}
	_, n := s.find(path)
	if n == nil {
		return Pos{File: s.File, Line: 1, Col: 1}
	}
	return Pos{File: s.File, Line: n.Line, Col: n.Column}
}

// KeyPos returns the position of the key naming path, falling back to PosOf.
func (s *Source) KeyPos(path string) Pos {
	if s == nil {
		return Pos{}
	}
	if k, _ := s.find(path); k != nil {
		return Pos{File: s.File, Line: k.Line, Col: k.Column}
	}
	return s.PosOf(path)
}

// find walks path (as JoinPath writes it) from the root, following aliases.
// It returns the node at path and the key naming it when all of path is
// found, or else the deepest node found and a nil key.
func (s *Source) find(path string) (key, val *yaml.Node) {
	n := s.Root
	if n == nil {
		return nil, nil
	}
	rest := path
	for rest != "" {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		key = nil
		switch {
		case strings.HasPrefix(rest, "["):
			end := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[1:max(end, 1)])
			if n.Kind != yaml.SequenceNode || end < 0 || err != nil || i < 0 || i >= len(n.Content) {
				return nil, n
			}
			n, rest = n.Content[i], rest[end+1:]
		default:
			if n.Kind != yaml.MappingNode {
				return nil, n
			}
			rest = strings.TrimPrefix(rest, ".")
			// Keys may hold '.' or '[': take the shortest prefix naming a key.
			k := -1
			for end := 0; end <= len(rest) && k < 0; end++ {
				if end == len(rest) || rest[end] == '.' || rest[end] == '[' {
					k = s.keyIndex(n, rest[:end])
					if k >= 0 {
						rest = rest[end:]
					}
				}
			}
			if k < 0 {
				return nil, n
			}
			key, n = n.Content[k], n.Content[k+1]
		}
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return key, n
}

// keyIndex returns the index of key k in mapping m, or -1.
func (s *Source) keyIndex(m *yaml.Node, k string) int {
	if len(m.Content) <= 32 {
		last := -1 // a duplicated key is reported at its last occurrence
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == k {
				last = i
			}
		}
		return last
	}
	if s.keys == nil {
		s.keys = map[*yaml.Node]map[string]int{}
	}
	idx, ok := s.keys[m]
	if !ok {
		idx = make(map[string]int, len(m.Content)/2)
		for i := 0; i+1 < len(m.Content); i += 2 {
			idx[m.Content[i].Value] = i
		}
		s.keys[m] = idx
	}
	if i, ok := idx[k]; ok {
		return i
	}
	return -1
}

func syntaxLine(err error) int {
	var line int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		fmt.Sscanf(msg[i+5:], "%d", &line)
	}
	if line == 0 {
		line = 1
	}
	return line
}

func cleanYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(msg, "line "); i == 0 {
		if j := strings.Index(msg, ": "); j > 0 {
			msg = msg[j+2:]
		}
	}
	return msg
}
