package data

import (
	"fmt"
	"path"
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Plain-words describers of the data types (what the console shows).

func describeLoadFile(_ *campaign.Campaign, _ *campaign.Activity, x *LoadFileConfig) []string {
	file := path.Base(x.File.Path)
	if x.File.Param != "" {
		file = "the file named by the parameter " + x.File.Param
	}
	format := x.Format
	if format == "" && x.File.Param == "" {
		format = FormatOf(x.File.Path)
	}
	var how []string
	if format != "" {
		how = append(how, strings.ToUpper(format))
	}
	if format == "csv" || format == "tsv" {
		if x.CSV == nil || x.CSV.Header == nil || *x.CSV.Header {
			how = append(how, "header row")
		} else {
			how = append(how, "no header row")
		}
		if x.CSV != nil && x.CSV.Delimiter != "" && x.CSV.Delimiter != "," && format == "csv" {
			how = append(how, "separated by "+quoted(x.CSV.Delimiter))
		}
		if x.CSV != nil && x.CSV.SkipLines > 0 {
			how = append(how, fmt.Sprintf("%d lines skipped first", x.CSV.SkipLines))
		}
	}
	s := "Load " + file
	if len(how) > 0 {
		s += " (" + strings.Join(how, ", ") + ")"
	}
	var rejects []string
	for _, c := range x.Columns {
		// Any text is a string: only other types can be bad.
		typed := c.Type != "" && c.Type != campaign.TypeString
		rejectsBad := typed && (c.OnError == "" || c.OnError == "reject" || (c.Required && c.OnError == "null"))
		switch {
		case c.Required && rejectsBad:
			rejects = append(rejects, "a missing or bad "+c.Name)
		case c.Required:
			rejects = append(rejects, "a missing "+c.Name)
		case rejectsBad:
			rejects = append(rejects, "a bad "+c.Name)
		}
	}
	if len(rejects) > 0 {
		s += ", reject rows with " + and(rejects)
	}
	out := []string{s + "."}
	var cols []string
	for _, c := range x.Columns {
		col := c.Name
		var notes []string
		if c.Type != "" {
			notes = append(notes, c.Type)
		}
		if c.Source != "" && c.Source != c.Name {
			notes = append(notes, "from "+c.Source)
		}
		switch c.Transform {
		case "lower":
			notes = append(notes, "lower-cased")
		case "upper":
			notes = append(notes, "upper-cased")
		case "trim":
			notes = append(notes, "trimmed")
		}
		if c.Format != "" {
			notes = append(notes, "as "+c.Format)
		}
		switch c.OnError {
		case "null":
			if !c.Required {
				notes = append(notes, "empty when bad")
			}
		case "default":
			notes = append(notes, fmt.Sprintf("%v when bad", c.Default))
		}
		if len(notes) > 0 {
			col += " (" + strings.Join(notes, ", ") + ")"
		}
		cols = append(cols, col)
	}
	if len(cols) > 0 {
		out = append(out, "Columns: "+strings.Join(cols, "; ")+".")
	}
	maxErrors := DefaultMaxErrors
	if x.MaxErrors != nil {
		maxErrors = *x.MaxErrors
	}
	out = append(out, fmt.Sprintf("Fails beyond %d rejected rows.", maxErrors))
	if x.Dimension != "" {
		out = append(out, "The rows are rows of "+x.Dimension+".")
	}
	return out
}

func describeUpdateData(_ *campaign.Campaign, _ *campaign.Activity, x *UpdateDataConfig) []string {
	var keys []string
	for _, k := range campaign.SortedKeys(x.Key) {
		if x.Key[k] == k {
			keys = append(keys, k)
		} else {
			keys = append(keys, k+" (the input's "+x.Key[k]+")")
		}
	}
	var sets []string
	for _, k := range campaign.SortedKeys(x.Set) {
		v := x.Set[k]
		switch {
		case v.Increment != nil:
			sets = append(sets, fmt.Sprintf("add %g to %s", *v.Increment, k))
		case v.Field == k:
			sets = append(sets, "set "+k+" from the input")
		case v.Field != "":
			sets = append(sets, "set "+k+" to the input's "+v.Field)
		default:
			sets = append(sets, "set "+k+" to "+v.Value.Describe())
		}
	}
	s := "Update " + x.Table
	by := " by " + and(keys)
	switch x.Operation {
	case "insert":
		s = "Insert the input into " + x.Table + " (key " + and(keys) + ")"
	case "update":
		s += by
	case "upsert":
		s += by + ", insert new rows"
	case "delete":
		s = "Delete from " + x.Table + " the rows of the input" + by
	}
	if len(sets) > 0 {
		s += ": " + strings.Join(sets, ", ")
	}
	out := []string{s + "."}
	switch x.Operation {
	case "insert":
		out = append(out, "Rows whose key is already there go to rejects.")
	case "update", "delete":
		out = append(out, "Rows whose key is not in "+x.Table+" go to rejects.")
	}
	return out
}

func quoted(s string) string {
	if s == "\\t" || s == "\t" {
		return "tabs"
	}
	return "'" + s + "'"
}

func and(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
