package condition

import (
	"errors"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Checked is a condition Check accepted, with every name resolved: fields
// to their column and the one-links reaching it, links to their table,
// aggregates to their link, function and where, values to constants of the
// type they are compared as. Its ToSQL and ToChoice lower it without
// checking again.
type Checked struct {
	Mode Mode
	Root Node
	// gap says why the tree is incomplete although Check reported no error
	// (the population's columns were unknown; a problem the decoder
	// reported); "" when complete.
	gap string
}

// Node is a node of a checked condition: *Junction, *Negation, *Compare,
// *LinkExists, *InAudience, *DateWindow or *Weekday.
type Node interface{ checkedNode() }

// Junction is all of Items, or any of them when Any.
type Junction struct {
	Any   bool
	Items []Node
}

// Negation is not Item.
type Negation struct{ Item Node }

// Compare is `Subject Op Values`.
type Compare struct {
	Subject Subject
	// Type is the column type the subject has and its values compare as;
	// "" for a variable fact holding null.
	Type string
	Op   string
	// Values are the operands in order (a variable holding a list gives
	// one Const per item); none for isEmpty and isNotEmpty.
	Values []Operand
}

// LinkExists is exists (or not exists, when Negated) a row of Table linked
// through Link, matching Where (nil: any row).
type LinkExists struct {
	Link    campaign.Link
	Table   *campaign.Table
	Negated bool
	Where   Node
}

// InAudience is membership of the population's rows, rows of Table, in a
// saved audience, matched on Table's key.
type InAudience struct {
	Name  string
	Table *campaign.Table
}

// DateWindow is a date or timestamp field whose calendar date (an
// anniversary of it, for Op anniversary) falls within Days days of today:
// anniversary and inNext from today to today+Days, inLast from today-Days
// to today. Dates are in Zone's time zone, or the campaign's.
type DateWindow struct {
	Field *FieldRef
	Op    string // anniversary, inLast, inNext
	Days  int
	Zone  *FieldRef // the recipient's time zone column; nil: the campaign's
}

// Weekday is a test-activity fact: the run starts on one of Days.
type Weekday struct{ Days []string }

// Subject is what a Compare compares: *FieldRef, *AggregateRef, *DatePart, or a run
// fact of a test activity: *CountFact, *ParamFact, *VariableFact, *HourFact.
type Subject interface{ checkedSubject() }

// FieldRef is a column of the rows in scope, or of a row reached from them
// through Hops (cardinality-one links, in order). It is also an Operand.
type FieldRef struct {
	Name   string // as written, e.g. store.city
	Column campaign.Column
	Hops   []Hop
}

// Hop is one cardinality-one link followed to Table.
type Hop struct {
	Link  campaign.Link
	Table *campaign.Table
}

// AggregateRef is Func over the rows of Table linked through Link that match
// Where (nil: all of them), of Column (nil: count(*)). Type is the result's.
type AggregateRef struct {
	Link   campaign.Link
	Table  *campaign.Table
	Func   string
	Column *campaign.Column
	Where  Node
	Type   string
}

// DatePart is a part of a date or timestamp field's calendar date, in
// Zone's time zone or the campaign's: year, month (1-12), day (of the
// month, 1-31) or weekday (ISO: 1 Monday .. 7 Sunday). It compares as an
// integer.
type DatePart struct {
	Field *FieldRef
	Part  string
	Zone  *FieldRef
}

// CountFact is the row count of an activity's port (Port "" is out).
type CountFact struct{ Port campaign.Transition }

// ParamFact is a campaign parameter of type Type.
type ParamFact struct{ Name, Type string }

// VariableFact is a campaign variable; Value is its constant.
type VariableFact struct {
	Name  string
	Value any
}

// HourFact is the hour (0..23) the run starts at in the campaign time zone.
type HourFact struct{}

// Operand is a value compared with a subject: Const, *ParamRef, *FieldRef
// or *RelTime.
type Operand interface{ checkedOperand() }

// Const is a compile-time value (a literal, a campaign variable or an item
// of one) of the Go type its comparison's Type takes: string (dates as
// YYYY-MM-DD; timestamps as written, those without offset in the run's time
// zone, resolved when lowered), int64 or float64, or bool.
type Const struct{ Value any }

// ParamRef is the run's value of a campaign parameter of type Type.
type ParamRef struct{ Name, Type string }

// RelTime is the run's instant moved Ago back then Ahead forward (whole
// days as calendar days); zero durations leave it as is (now).
type RelTime struct{ Ago, Ahead time.Duration }

func (*Junction) checkedNode()   {}
func (*Negation) checkedNode()   {}
func (*Compare) checkedNode()    {}
func (*LinkExists) checkedNode() {}
func (*InAudience) checkedNode() {}
func (*Weekday) checkedNode()    {}
func (*DateWindow) checkedNode() {}

func (*FieldRef) checkedSubject()     {}
func (*AggregateRef) checkedSubject() {}
func (*CountFact) checkedSubject()    {}
func (*ParamFact) checkedSubject()    {}
func (*VariableFact) checkedSubject() {}
func (*HourFact) checkedSubject()     {}
func (*DatePart) checkedSubject()     {}

func (Const) checkedOperand()     {}
func (*ParamRef) checkedOperand() {}
func (*FieldRef) checkedOperand() {}
func (*RelTime) checkedOperand()  {}

// InvalidError is a condition that does not check. Its message is the first
// error, with its path; Diags holds every diagnostic Check reported.
type InvalidError struct {
	Path    string
	Message string
	Diags   campaign.Diagnostics
}

func (e *InvalidError) Error() string {
	if e.Path == "" {
		return "condition: invalid: " + e.Message
	}
	return "condition: invalid: " + e.Path + ": " + e.Message
}

// checkOnce checks c at path and returns its checked tree, or an
// *InvalidError naming the first problem.
func checkOnce(path string, c *Condition, env CheckEnv) (*Checked, error) {
	var diags campaign.Diagnostics
	ch := Check(campaign.Reporter{Diags: &diags}, path, c, env)
	if ch != nil {
		return ch, nil
	}
	for _, d := range diags {
		if d.Severity == campaign.Error {
			return nil, &InvalidError{Path: d.Path, Message: d.Message, Diags: diags}
		}
	}
	return nil, &InvalidError{Path: path, Message: "no condition", Diags: diags}
}

// complete returns an error unless the tree is complete and of mode m.
func (c *Checked) complete(m Mode) error {
	switch {
	case c == nil || c.Root == nil:
		return errors.New("condition: no condition")
	case c.gap != "":
		return errors.New("condition: " + c.gap)
	case c.Mode != m && m == TestMode:
		return errors.New("condition: a population condition does not lower to a Choice rule; a test activity compares run facts")
	case c.Mode != m:
		return errors.New("condition: a test-activity condition compares run facts, only valid in a test activity")
	}
	return nil
}
