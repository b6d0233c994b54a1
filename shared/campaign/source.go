package campaign

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Source is a parsed YAML or JSON document with the position of every path in it.
type Source struct {
	File string
	Root *yaml.Node // the document's top node (a mapping for valid files)
	Data []byte     // the bytes parsed
	pos  map[string]Pos
	key  map[string]Pos
}

// Parse reads YAML or JSON (JSON is parsed as YAML 1.2, keeping positions).
// A syntax error is returned as a positioned diagnostic.
func Parse(file string, data []byte) (*Source, Diagnostics) {
	s := &Source{File: file, Data: data, pos: map[string]Pos{}, key: map[string]Pos{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return s, Diagnostics{{Pos: Pos{File: file, Line: syntaxLine(err), Col: 1}, Message: "syntax error: " + cleanYAMLError(err), Severity: Error}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return s, Diagnostics{{Pos: Pos{File: file, Line: 1, Col: 1}, Message: "the file is empty", Severity: Error}}
	}
	s.Root = doc.Content[0]
	s.index(s.Root, "")
	return s, nil
}

func (s *Source) index(n *yaml.Node, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	s.pos[path] = Pos{File: s.File, Line: n.Line, Col: n.Column}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := JoinPath(path, k.Value)
			s.key[p] = Pos{File: s.File, Line: k.Line, Col: k.Column}
			s.index(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			s.index(c, JoinPath(path, i))
		}
	}
}

// PosOf returns the position of the value at path, or of its closest
// recorded ancestor.
func (s *Source) PosOf(path string) Pos {
	if s == nil {
		return Pos{}
	}
	for p := path; ; p = parentPath(p) {
		if pos, ok := s.pos[p]; ok {
			return pos
		}
		if p == "" {
			return Pos{File: s.File, Line: 1, Col: 1}
		}
	}
}

// KeyPos returns the position of the key naming path, falling back to PosOf.
func (s *Source) KeyPos(path string) Pos {
	if s != nil {
		if p, ok := s.key[path]; ok {
			return p
		}
	}
	return s.PosOf(path)
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
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
