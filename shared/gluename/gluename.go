// Package gluename names the Glue tables Stepwise registers: a run's own
// tables start with RunPrefix(run), so that whatever ends the run can find
// and remove them; a managed table's Iceberg copy is Managed(table).
package gluename

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// RunPrefix is the start of every Glue table name of a run:
// sw_<16 hex digits of the run's hash>_ (a run reads its own tables).
func RunPrefix(run string) string {
	h := sha256.Sum256([]byte(run))
	return "sw_" + hex.EncodeToString(h[:8]) + "_"
}

// Run names a Glue table of a run: RunPrefix(run) + Ident(what).
func Run(run, what string) string { return RunPrefix(run) + Ident(what) }

// Managed names the Iceberg copy of a managed table, kept across runs. No
// run prefix starts like it ("m" is no hex digit).
func Managed(table string) string { return "sw_managed_" + Ident(table) }

// Ident is s as a Glue name part: lower case, letters and digits kept,
// anything else an underscore.
func Ident(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
