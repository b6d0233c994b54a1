// Package asl holds the Amazon States Language types the compiler emits.
// Only JSONPath constructs are modelled: no JSONata, no Assign. A
// distributed Map (ItemReader, ResultWriter) runs on AWS and in the
// in-process interpreter, not in aws-local-stepfunctions (which ignores
// ItemReader). JSON output is deterministic (states keep their order).
package asl

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// StateMachine is a whole definition.
type StateMachine struct {
	Comment        string `json:"Comment,omitempty"`
	StartAt        string `json:"StartAt"`
	TimeoutSeconds int    `json:"TimeoutSeconds,omitempty"`
	States         States `json:"States"`
}

// Branch is a Parallel branch or a Map item processor.
type Branch struct {
	ProcessorConfig *ProcessorConfig `json:"ProcessorConfig,omitempty"`
	StartAt         string           `json:"StartAt"`
	States          States           `json:"States"`
}

// ProcessorConfig selects inline or distributed Map processing; a
// distributed Map's items run as child executions of ExecutionType.
type ProcessorConfig struct {
	Mode          string `json:"Mode"`
	ExecutionType string `json:"ExecutionType,omitempty"`
}

// ItemReader is where a distributed Map reads its items: Resource
// S3GetObject with ReaderConfig InputType JSON reads a JSON array.
type ItemReader struct {
	Resource     string         `json:"Resource"`
	ReaderConfig map[string]any `json:"ReaderConfig,omitempty"`
	Parameters   map[string]any `json:"Parameters"`
}

// ResultWriter is where a distributed Map writes its children's results
// (Resource S3PutObject, Parameters Bucket and Prefix); the Map's own
// result is then the location of their manifest.
type ResultWriter struct {
	Resource   string         `json:"Resource"`
	Parameters map[string]any `json:"Parameters"`
}

// Step Functions' S3 integrations for ItemReader and ResultWriter.
const (
	S3GetObject = "arn:aws:states:::s3:getObject"
	S3PutObject = "arn:aws:states:::s3:putObject"
)

// States is an ordered set of named states.
type States []NamedState

// NamedState is a state and its name.
type NamedState struct {
	Name  string
	State *State
}

// Add appends a state; a duplicate name is a programming error.
func (s *States) Add(name string, st *State) {
	for _, n := range *s {
		if n.Name == name {
			panic(fmt.Sprintf("asl: duplicate state %q", name))
		}
	}
	*s = append(*s, NamedState{name, st})
}

// Get returns a state by name.
func (s States) Get(name string) *State {
	for _, n := range s {
		if n.Name == name {
			return n.State
		}
	}
	return nil
}

// MarshalJSON writes the states as an object in insertion order.
func (s States) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n.Name)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(n.State)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads states keeping the document order.
func (s *States) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("asl: States must be an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		st := &State{}
		if err := dec.Decode(st); err != nil {
			return err
		}
		*s = append(*s, NamedState{t.(string), st})
	}
	_, err := dec.Token()
	return err
}

// Path is a JSONPath, or Null for an explicit JSON null (discard / empty).
type Path string

// Null marks an explicit null path.
const Null Path = "\x00null"

// MarshalJSON implements json.Marshaler.
func (p Path) MarshalJSON() ([]byte, error) {
	if p == Null {
		return []byte("null"), nil
	}
	return json.Marshal(string(p))
}

// UnmarshalJSON implements json.Unmarshaler.
func (p *Path) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*p = Null
		return nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	*p = Path(s)
	return err
}

// State is any ASL state; unused fields are omitted.
type State struct {
	Type    string `json:"Type"`
	Comment string `json:"Comment,omitempty"`

	// Task
	Resource         string `json:"Resource,omitempty"`
	TimeoutSeconds   int    `json:"TimeoutSeconds,omitempty"`
	HeartbeatSeconds int    `json:"HeartbeatSeconds,omitempty"`

	// Choice
	Choices []ChoiceRule `json:"Choices,omitempty"`
	Default string       `json:"Default,omitempty"`

	// Wait
	Seconds       *int   `json:"Seconds,omitempty"`
	SecondsPath   string `json:"SecondsPath,omitempty"`
	Timestamp     string `json:"Timestamp,omitempty"`
	TimestampPath string `json:"TimestampPath,omitempty"`

	// Parallel
	Branches []Branch `json:"Branches,omitempty"`

	// Map (inline, or distributed with ItemReader and ResultWriter)
	ItemsPath      string        `json:"ItemsPath,omitempty"`
	ItemReader     *ItemReader   `json:"ItemReader,omitempty"`
	ItemSelector   any           `json:"ItemSelector,omitempty"`
	ItemProcessor  *Branch       `json:"ItemProcessor,omitempty"`
	MaxConcurrency int           `json:"MaxConcurrency,omitempty"`
	ResultWriter   *ResultWriter `json:"ResultWriter,omitempty"`

	// Pass
	Result any `json:"Result,omitempty"`

	// Fail
	Error string `json:"Error,omitempty"`
	Cause string `json:"Cause,omitempty"`
	// CausePath (Fail): the cause is read from the state input.
	CausePath string `json:"CausePath,omitempty"`

	// Input and output processing
	InputPath      Path `json:"InputPath,omitempty"`
	Parameters     any  `json:"Parameters,omitempty"`
	ResultSelector any  `json:"ResultSelector,omitempty"`
	ResultPath     Path `json:"ResultPath,omitempty"`
	OutputPath     Path `json:"OutputPath,omitempty"`

	Retry []Retrier `json:"Retry,omitempty"`
	Catch []Catcher `json:"Catch,omitempty"`

	Next string `json:"Next,omitempty"`
	End  bool   `json:"End,omitempty"`
}

// Retrier retries a failed Task, Parallel or Map.
type Retrier struct {
	ErrorEquals     []string `json:"ErrorEquals"`
	IntervalSeconds int      `json:"IntervalSeconds,omitempty"`
	MaxAttempts     *int     `json:"MaxAttempts,omitempty"`
	BackoffRate     float64  `json:"BackoffRate,omitempty"`
	MaxDelaySeconds int      `json:"MaxDelaySeconds,omitempty"`
}

// Catcher routes an error to a recovery state.
type Catcher struct {
	ErrorEquals []string `json:"ErrorEquals"`
	ResultPath  Path     `json:"ResultPath,omitempty"`
	Next        string   `json:"Next"`
}

// ChoiceRule is a Choice rule: a comparison on Variable, or And/Or/Not.
type ChoiceRule struct {
	Variable string `json:"Variable,omitempty"`

	And []ChoiceRule `json:"And,omitempty"`
	Or  []ChoiceRule `json:"Or,omitempty"`
	Not *ChoiceRule  `json:"Not,omitempty"`

	IsNull    *bool `json:"IsNull,omitempty"`
	IsPresent *bool `json:"IsPresent,omitempty"`

	BooleanEquals *bool `json:"BooleanEquals,omitempty"`

	StringEquals            *string `json:"StringEquals,omitempty"`
	StringEqualsPath        string  `json:"StringEqualsPath,omitempty"`
	StringGreaterThan       *string `json:"StringGreaterThan,omitempty"`
	StringGreaterThanEquals *string `json:"StringGreaterThanEquals,omitempty"`
	StringLessThan          *string `json:"StringLessThan,omitempty"`
	StringLessThanEquals    *string `json:"StringLessThanEquals,omitempty"`
	StringMatches           *string `json:"StringMatches,omitempty"`

	NumericEquals            *float64 `json:"NumericEquals,omitempty"`
	NumericGreaterThan       *float64 `json:"NumericGreaterThan,omitempty"`
	NumericGreaterThanEquals *float64 `json:"NumericGreaterThanEquals,omitempty"`
	NumericLessThan          *float64 `json:"NumericLessThan,omitempty"`
	NumericLessThanEquals    *float64 `json:"NumericLessThanEquals,omitempty"`

	TimestampEquals            *string `json:"TimestampEquals,omitempty"`
	TimestampGreaterThan       *string `json:"TimestampGreaterThan,omitempty"`
	TimestampGreaterThanEquals *string `json:"TimestampGreaterThanEquals,omitempty"`
	TimestampLessThan          *string `json:"TimestampLessThan,omitempty"`
	TimestampLessThanEquals    *string `json:"TimestampLessThanEquals,omitempty"`

	Next string `json:"Next,omitempty"`
}

// Marshal returns the indented, deterministic JSON of a state machine.
func Marshal(sm *StateMachine) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sm); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Helpers for pointer fields.
func Bool(b bool) *bool      { return &b }
func Str(s string) *string   { return &s }
func Num(f float64) *float64 { return &f }
func Int(i int) *int         { return &i }
