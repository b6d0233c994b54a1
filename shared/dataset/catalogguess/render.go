package catalogguess

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// render writes the catalog YAML, every guess followed by its comment.
func render(tables []*Table) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# A starting catalog guessed from %d file(s) by `stepwise catalog init`.\n", len(tables))
	b.WriteString("# Check every line marked \"guessed\" (keys, links, targeting columns, and the\n")
	b.WriteString("# column types of files that carry none), then validate a campaign against it:\n")
	b.WriteString("#   stepwise validate --catalog CATALOG CAMPAIGN\n")
	b.WriteString("version: 1\n")
	b.WriteString("tables:\n")
	for _, t := range tables {
		fmt.Fprintf(&b, "  - name: %s\n", scalar(t.Name))
		fmt.Fprintf(&b, "    source: %s\n", scalar(t.Source))
		fmt.Fprintf(&b, "    key: [%s]  # %s\n", scalar(t.Key), t.keyNote)
		switch {
		case t.Guessed && t.Rows == 0:
			b.WriteString("    # guessed: column types (the file names none and has no rows: every column is a string)\n")
		case t.Guessed:
			fmt.Fprintf(&b, "    # guessed: column types (the file names none; sniffed from the first %d rows)\n", t.Rows)
		case t.Format == "parquet":
			b.WriteString("    # column types: read from the Parquet footer\n")
		default:
			b.WriteString("    # column types: read from the typed header\n")
		}
		b.WriteString("    columns:\n")
		for _, c := range t.Columns {
			fmt.Fprintf(&b, "      - { name: %s, type: %s", scalar(c.Name), c.Type)
			if c.Type == campaign.TypeDecimal {
				fmt.Fprintf(&b, ", scale: %d", c.Scale)
			}
			b.WriteString(" }")
			if n := t.note[c.Name]; n != "" {
				b.WriteString("  # " + n)
			}
			b.WriteString("\n")
		}
		if len(t.targeting) > 0 {
			b.WriteString("    targeting:\n")
			consent := false
			for _, l := range t.targeting {
				if l.consent {
					continue
				}
				fmt.Fprintf(&b, "      %s: %s  # %s\n", l.field, scalar(l.column), l.note)
			}
			for _, l := range t.targeting {
				if !l.consent {
					continue
				}
				if l.column == "" {
					fmt.Fprintf(&b, "      # %s\n", l.note)
					continue
				}
				if !consent {
					b.WriteString("      consent:\n")
					consent = true
				}
				fmt.Fprintf(&b, "        %s: %s  # %s\n", l.field, scalar(l.column), l.note)
			}
		}
		linked := false
		for _, l := range t.links {
			if l.Name == "" {
				fmt.Fprintf(&b, "    # %s\n", l.note)
			} else {
				linked = true
			}
		}
		if linked {
			b.WriteString("    links:\n")
			for _, l := range t.links {
				if l.Name == "" {
					continue
				}
				fmt.Fprintf(&b, "      # %s\n", l.note)
				var on []string
				for _, p := range l.OnPairs() {
					on = append(on, scalar(p[0])+": "+scalar(p[1]))
				}
				fmt.Fprintf(&b, "      - { name: %s, table: %s, on: { %s }, cardinality: %s }\n",
					scalar(l.Name), scalar(l.Table), strings.Join(on, ", "), l.Cardinality)
			}
		}
	}
	return []byte(b.String())
}

var plain = regexp.MustCompile(`^[A-Za-z_./][A-Za-z0-9_./-]*$`)

// reserved plain scalars YAML reads as something other than a string.
var reserved = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"y": true, "n": true, "null": true, "~": true, ".inf": true, ".nan": true}

// scalar writes s as a YAML string: plain when that reads back as the same
// string, else double-quoted.
func scalar(s string) string {
	if plain.MatchString(s) && !reserved[strings.ToLower(s)] {
		return s
	}
	q, _ := json.Marshal(s)
	return string(q)
}
