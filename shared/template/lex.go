package template

// A lexer for Liquid expressions that mirrors the rules of the library's
// Ragel scanner (osteele/liquid expressions/scanner.rl): longest match, and
// on equal length the earlier rule (literals and operators before identifiers).

type tokKind int

const (
	kPunct   tokKind = iota // any other single character: | : , ( ) [ ] = < >
	kIdent                  // identifier
	kKeyword                // identifier followed by ':' (filter with arguments, loop modifier)
	kProp                   // .identifier; text has no dot
	kString                 // string literal; text has no quotes
	kNum                    // int or float literal
	kLit                    // true, false, nil
	kOp                     // == != >= <= and or contains in ..
)

type etok struct {
	kind tokKind
	text string
	pos  int // byte offset in the expression
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// identLen returns the length of an identifier at s[i:], 0 if none.
func identLen(s string, i int) int {
	if i >= len(s) || !(isAlpha(s[i]) || s[i] == '_') {
		return 0
	}
	j := i + 1
	for j < len(s) && (isAlpha(s[j]) || isDigit(s[j]) || s[j] == '_' || s[j] == '-') {
		j++
	}
	if j < len(s) && s[j] == '?' {
		j++
	}
	return j - i
}

// lexExpr splits an expression into tokens.
func lexExpr(s string) []etok {
	var out []etok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isSpace(c):
			i++
			continue
		case isDigit(c) || c == '-' && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
				j += 2
				for j < len(s) && isDigit(s[j]) {
					j++
				}
			}
			out = append(out, etok{kNum, s[i:j], i})
			i = j
			continue
		case c == '"' || c == '\'':
			if j := indexByteFrom(s, c, i+1); j >= 0 {
				out = append(out, etok{kString, s[i+1 : j], i})
				i = j + 1
				continue
			}
		case c == '.':
			if i+1 < len(s) && s[i+1] == '.' {
				out = append(out, etok{kOp, "..", i})
				i += 2
				continue
			}
			if n := identLen(s, i+1); n > 0 {
				out = append(out, etok{kProp, s[i+1 : i+1+n], i})
				i += 1 + n
				continue
			}
		case isAlpha(c) || c == '_':
			n := identLen(s, i)
			w := s[i : i+n]
			switch {
			case i+n < len(s) && s[i+n] == ':':
				out = append(out, etok{kKeyword, w, i})
				i += n + 1
				continue
			case w == "true" || w == "false" || w == "nil":
				out = append(out, etok{kLit, w, i})
			case w == "and" || w == "or" || w == "contains" || w == "in":
				out = append(out, etok{kOp, w, i})
			default:
				out = append(out, etok{kIdent, w, i})
			}
			i += n
			continue
		case i+1 < len(s) && s[i+1] == '=' && (c == '=' || c == '!' || c == '<' || c == '>'):
			out = append(out, etok{kOp, s[i : i+2], i})
			i += 2
			continue
		}
		out = append(out, etok{kPunct, s[i : i+1], i})
		i++
	}
	return out
}

func indexByteFrom(s string, c byte, from int) int {
	for j := from; j < len(s); j++ {
		if s[j] == c {
			return j
		}
	}
	return -1
}
