package data

import (
	"fmt"
	"strings"
)

// strptimeLayout converts a Go time layout (the `format` of a date or
// timestamp column, e.g. "02/01/2006 15:04") to a DuckDB strptime format.
// zone reports whether the layout has a numeric zone (the parsed value is
// then an instant; otherwise it is wall-clock time in the campaign time
// zone); zulu whether it accepts "Z" for UTC (Go's Z07:00 forms), which
// DuckDB's %z does not, so callers rewrite a "Z" to "+00:00" first.
func strptimeLayout(layout string) (format string, zone, zulu bool, err error) {
	var b strings.Builder
	for i := 0; i < len(layout); {
		rest := layout[i:]
		tok, rep := "", ""
		for _, t := range layoutTokens {
			if strings.HasPrefix(rest, t.layout) && t.ok(layout, i) {
				tok, rep = t.layout, t.duck
				break
			}
		}
		switch {
		case tok == "":
			c := layout[i]
			if c == '%' {
				b.WriteString("%%")
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		case rep == "":
			return "", false, false, fmt.Errorf("format %q: %q is not supported; use numeric fields (2006 01 02 15 04 05), Jan/January, Mon/Monday, PM, fractions .000/.000000/.000000000 and zones -07:00 or Z07:00", layout, tok)
		}
		if strings.HasPrefix(rep, "%z") {
			zone = true
			zulu = zulu || tok[0] == 'Z'
		}
		b.WriteString(rep)
		i += len(tok)
	}
	return b.String(), zone, zulu, nil
}

type layoutToken struct {
	layout, duck string // duck "" means unsupported
	ok           func(layout string, i int) bool
}

func always(string, int) bool { return true }

// fraction matches ".000" only when not followed by another digit, as Go does.
func notDigitAfter(n int) func(string, int) bool {
	return func(l string, i int) bool {
		return i+n >= len(l) || l[i+n] < '0' || l[i+n] > '9'
	}
}

// layoutTokens are Go's layout elements, longest first where they share a
// prefix.
var layoutTokens = []layoutToken{
	{"January", "%B", always}, {"Jan", "%b", always},
	{"Monday", "%A", always}, {"Mon", "%a", always},
	{"MST", "", always},
	{"2006", "%Y", always}, {"_2006", "_%Y", always}, {"002", "%j", always}, {"__2", "", always}, {"_2", "", always},
	{"01", "%m", always}, {"02", "%d", always}, {"03", "%I", always}, {"04", "%M", always}, {"05", "%S", always}, {"06", "%y", always},
	{"15", "%H", always},
	{"Z07:00:00", "", always}, {"Z070000", "", always}, {"-07:00:00", "", always}, {"-070000", "", always},
	{"Z07:00", "%z", always}, {"Z0700", "%z", always}, {"Z07", "%z", always},
	{"-07:00", "%z", always}, {"-0700", "%z", always}, {"-07", "%z", always},
	{".000000000", ".%n", notDigitAfter(10)}, {".000000", ".%f", notDigitAfter(7)}, {".000", ".%g", notDigitAfter(4)},
	{",000000000", ",%n", notDigitAfter(10)}, {",000000", ",%f", notDigitAfter(7)}, {",000", ",%g", notDigitAfter(4)},
	{".9", "", always}, {",9", "", always},
	{"1", "%-m", always}, {"2", "%-d", always}, {"3", "%-I", always}, {"4", "%-M", always}, {"5", "%-S", always},
	{"PM", "%p", always}, {"pm", "%p", always},
}
