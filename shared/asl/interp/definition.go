package interp

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/stepwise-run/stepwise/shared/asl"
)

// Machine is a compiled state machine definition, safe for concurrent
// executions.
type Machine struct {
	root    *machine
	timeout time.Duration
}

// machine is a top-level machine, a Parallel branch or a Map processor.
type machine struct {
	startAt string
	states  map[string]*state
}

// optPath is InputPath/OutputPath: unset means "$", null means {}.
type optPath struct {
	null bool
	p    *path
}

// optRef is ResultPath: unset means "$", null discards the result.
type optRef struct {
	null bool
	p    *refPath
}

type retrier struct {
	errors      []string
	interval    float64 // seconds
	maxAttempts int
	backoff     float64
	maxDelay    float64 // seconds; 0 = no cap
	jitter      bool
}

type catcher struct {
	errors     []string
	next       string
	resultPath optRef
}

// dynString is Fail's ErrorPath/CausePath: a path or an intrinsic.
type dynString struct {
	p    *path
	call *iCall
}

type state struct {
	name, typ  string
	next       string
	inputPath  optPath
	outputPath optPath
	resultPath optRef
	params     *tmpl
	selector   *tmpl // ResultSelector
	retry      []retrier
	catch      []catcher

	// Task
	resource    string
	timeout     time.Duration
	timeoutPath *path
	// Pass
	result    any
	hasResult bool
	// Choice
	choices []*choiceRule
	def     string
	// Wait
	seconds       int64
	hasSeconds    bool
	secondsPath   *path
	timestamp     time.Time
	hasTimestamp  bool
	timestampPath *path
	// Fail
	errName, cause       string
	errorPath, causePath *dynString
	// Parallel
	branches []*machine
	// Map
	itemsPath   *path
	itemSel     *tmpl
	processor   *machine
	maxConc     int
	maxConcPath *path
	// Distributed Map: items read from S3, results written there.
	distributed bool
	reader      *tmpl // ItemReader Parameters (Bucket, Key)
	maxItems    int
	writer      *tmpl // ResultWriter Parameters (Bucket, Prefix)
}

// DefinitionError reports an invalid or unsupported definition.
type DefinitionError struct{ Msg string }

func (e *DefinitionError) Error() string { return "interp: invalid state machine: " + e.Msg }

// Compile parses and validates a JSONPath ASL definition.
func Compile(definition []byte) (*Machine, error) {
	v, err := decodeJSON(definition)
	if err != nil {
		return nil, &DefinitionError{err.Error()}
	}
	o, ok := v.(*object)
	if !ok {
		return nil, &DefinitionError{"the definition must be a JSON object"}
	}
	c := &compiler{names: map[string]string{}}
	m := &Machine{}
	if err := c.checkFields(o, "", "StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"); err != nil {
		return nil, err
	}
	if t, ok := o.get("TimeoutSeconds"); ok {
		n, ok := toInt(t)
		if !ok || n <= 0 {
			return nil, c.errf("", "TimeoutSeconds must be a positive integer")
		}
		m.timeout = time.Duration(n) * timeoutUnit
	}
	if m.root, err = c.machine(o, ""); err != nil {
		return nil, err
	}
	return m, nil
}

type compiler struct {
	names map[string]string // state name -> where it is defined
}

func (c *compiler) errf(where, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if where != "" {
		msg = where + ": " + msg
	}
	return &DefinitionError{msg}
}

// Fields that name features this interpreter (like aws-local-stepfunctions)
// does not run.
var unsupported = map[string]string{
	"Assign":                         "Assign (workflow variables) is not supported",
	"Arguments":                      "Arguments is JSONata-only and not supported",
	"Output":                         "Output is JSONata-only and not supported",
	"Items":                          "Items is JSONata-only and not supported",
	"ItemBatcher":                    "ItemBatcher (distributed Map) is not supported",
	"ToleratedFailurePercentage":     "ToleratedFailurePercentage (distributed Map) is not supported",
	"ToleratedFailureCount":          "ToleratedFailureCount (distributed Map) is not supported",
	"ToleratedFailurePercentagePath": "ToleratedFailurePercentagePath (distributed Map) is not supported",
	"ToleratedFailureCountPath":      "ToleratedFailureCountPath (distributed Map) is not supported",
	"Label":                          "Label (distributed Map) is not supported",
	"Credentials":                    "Credentials is not supported",
}

func (c *compiler) checkFields(o *object, where string, allowed ...string) error {
	for _, k := range o.keys {
		if msg, ok := unsupported[k]; ok {
			return c.errf(where, "%s", msg)
		}
		if k == "QueryLanguage" {
			if v, _ := o.get(k); v != "JSONPath" {
				return c.errf(where, "QueryLanguage %s is not supported (JSONPath only)", string(encodeJSON(v)))
			}
			continue
		}
		found := false
		for _, a := range allowed {
			if a == k {
				found = true
				break
			}
		}
		if !found {
			return c.errf(where, "unknown field %q", k)
		}
	}
	return nil
}

func (c *compiler) machine(o *object, where string) (*machine, error) {
	m := &machine{states: map[string]*state{}}
	start, ok := o.get("StartAt")
	if m.startAt, _ = start.(string); !ok || m.startAt == "" {
		return nil, c.errf(where, "StartAt must be a non-empty string")
	}
	sv, _ := o.get("States")
	states, ok := sv.(*object)
	if !ok || states.len() == 0 {
		return nil, c.errf(where, "States must be a non-empty object")
	}
	for i, name := range states.keys {
		sw := "States." + name
		if where != "" {
			sw = where + "." + sw
		}
		if len([]rune(name)) > 128 {
			return nil, c.errf(sw, "state name longer than 128 characters")
		}
		if prev, dup := c.names[name]; dup {
			return nil, c.errf(sw, "duplicate state name (also at %s); names must be unique in the whole state machine", prev)
		}
		c.names[name] = sw
		so, ok := states.vals[i].(*object)
		if !ok {
			return nil, c.errf(sw, "a state must be an object")
		}
		st, err := c.state(name, so, sw)
		if err != nil {
			return nil, err
		}
		m.states[name] = st
	}
	if err := c.checkTransitions(m, where); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *compiler) checkTransitions(m *machine, where string) error {
	if m.states[m.startAt] == nil {
		return c.errf(where, "StartAt %q is not a state", m.startAt)
	}
	targets := func(st *state) []string {
		var t []string
		if st.next != "" {
			t = append(t, st.next)
		}
		for _, r := range st.choices {
			t = append(t, r.next)
		}
		if st.def != "" {
			t = append(t, st.def)
		}
		for _, ct := range st.catch {
			t = append(t, ct.next)
		}
		return t
	}
	names := make([]string, 0, len(m.states))
	for n := range m.states {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, t := range targets(m.states[n]) {
			if m.states[t] == nil {
				return c.errf(where, "state %q transitions to %q, which is not a state in the same scope", n, t)
			}
		}
	}
	seen := map[string]bool{m.startAt: true}
	queue := []string{m.startAt}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range targets(m.states[n]) {
			if !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	for _, n := range names {
		if !seen[n] {
			return c.errf(where, "state %q is not reachable", n)
		}
	}
	return nil
}

var stateFields = map[string][]string{
	"Task":     {"Resource", "Parameters", "ResultSelector", "ResultPath", "InputPath", "OutputPath", "Retry", "Catch", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Next", "End"},
	"Pass":     {"Result", "Parameters", "ResultPath", "InputPath", "OutputPath", "Next", "End"},
	"Choice":   {"Choices", "Default", "InputPath", "OutputPath"},
	"Wait":     {"Seconds", "SecondsPath", "Timestamp", "TimestampPath", "InputPath", "OutputPath", "Next", "End"},
	"Succeed":  {"InputPath", "OutputPath"},
	"Fail":     {"Error", "ErrorPath", "Cause", "CausePath"},
	"Parallel": {"Branches", "Parameters", "ResultSelector", "ResultPath", "InputPath", "OutputPath", "Retry", "Catch", "Next", "End"},
	"Map":      {"ItemsPath", "ItemSelector", "Parameters", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath", "ItemReader", "ResultWriter", "ResultSelector", "ResultPath", "InputPath", "OutputPath", "Retry", "Catch", "Next", "End"},
}

// state compiles one state: the fields every type shares, then its type's own.
func (c *compiler) state(name string, o *object, where string) (*state, error) {
	tv, _ := o.get("Type")
	typ, _ := tv.(string)
	fields, ok := stateFields[typ]
	if !ok {
		return nil, c.errf(where, "unknown state Type %s", string(encodeJSON(tv)))
	}
	if err := c.checkFields(o, where, append([]string{"Type", "Comment"}, fields...)...); err != nil {
		return nil, err
	}
	st := &state{name: name, typ: typ}
	if err := c.transition(st, o, where); err != nil {
		return nil, err
	}
	if err := c.common(st, o, where); err != nil {
		return nil, err
	}
	var err error
	switch typ {
	case "Task":
		err = c.taskState(st, o, where)
	case "Pass":
		st.result, st.hasResult = o.get("Result")
	case "Choice":
		err = c.choiceState(st, o, where)
	case "Wait":
		err = c.waitState(st, o, where)
	case "Fail":
		err = c.failState(st, o, where)
	case "Parallel":
		err = c.parallelState(st, o, where)
	case "Map":
		err = c.mapState(st, o, where)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// transition reads Next and End: exactly one of them, except for the
// types that end or branch by themselves.
func (c *compiler) transition(st *state, o *object, where string) error {
	switch st.typ {
	case "Choice", "Succeed", "Fail":
		return nil
	}
	next, hasNext := o.get("Next")
	end, hasEnd := o.get("End")
	if hasNext {
		if st.next, _ = next.(string); st.next == "" {
			return c.errf(where, "Next must be a non-empty string")
		}
	}
	isEnd := hasEnd && end == true
	if hasEnd && end != true {
		return c.errf(where, "End must be true when present")
	}
	if hasNext == isEnd {
		return c.errf(where, "exactly one of Next and End is required")
	}
	return nil
}

// common reads the fields several types share (stateFields says which
// types allow them): paths, Parameters, ResultSelector, Retry and Catch.
func (c *compiler) common(st *state, o *object, where string) error {
	var err error
	fail := func(e error) error { return c.errf(where, "%v", e) }
	if st.inputPath, err = optionalPath(o, "InputPath"); err != nil {
		return fail(err)
	}
	if st.outputPath, err = optionalPath(o, "OutputPath"); err != nil {
		return fail(err)
	}
	if st.resultPath, err = optionalRef(o, "ResultPath"); err != nil {
		return fail(err)
	}
	if v, ok := o.get("Parameters"); ok {
		if st.params, err = compileTemplate(v); err != nil {
			return fail(fmt.Errorf("Parameters: %v", err))
		}
	}
	if v, ok := o.get("ResultSelector"); ok {
		if st.selector, err = compileTemplate(v); err != nil {
			return fail(fmt.Errorf("ResultSelector: %v", err))
		}
	}
	if st.retry, err = c.retriers(o); err != nil {
		return fail(err)
	}
	if st.catch, err = c.catchers(o); err != nil {
		return fail(err)
	}
	return nil
}

func (c *compiler) taskState(st *state, o *object, where string) error {
	r, _ := o.get("Resource")
	if st.resource, _ = r.(string); st.resource == "" {
		return c.errf(where, "Resource must be a non-empty string")
	}
	if v, ok := o.get("TimeoutSeconds"); ok {
		n, ok := toInt(v)
		if !ok || n <= 0 {
			return c.errf(where, "TimeoutSeconds must be a positive integer")
		}
		st.timeout = time.Duration(n) * timeoutUnit
	}
	var err error
	if st.timeoutPath, err = optionalRefPath(o, "TimeoutSecondsPath"); err != nil {
		return c.errf(where, "%v", err)
	}
	return nil
}

func (c *compiler) choiceState(st *state, o *object, where string) error {
	cv, _ := o.get("Choices")
	arr, ok := cv.([]any)
	if !ok || len(arr) == 0 {
		return c.errf(where, "Choices must be a non-empty array")
	}
	for i, e := range arr {
		eo, ok := e.(*object)
		if !ok {
			return c.errf(where, "Choices[%d] must be an object", i)
		}
		r, err := compileChoice(eo, true)
		if err != nil {
			return c.errf(where, "Choices[%d]: %v", i, err)
		}
		st.choices = append(st.choices, r)
	}
	if d, ok := o.get("Default"); ok {
		if st.def, _ = d.(string); st.def == "" {
			return c.errf(where, "Default must be a non-empty string")
		}
	}
	return nil
}

func (c *compiler) waitState(st *state, o *object, where string) error {
	n := 0
	if v, ok := o.get("Seconds"); ok {
		s, ok := toInt(v)
		if !ok || s < 0 {
			return c.errf(where, "Seconds must be a non-negative integer")
		}
		st.seconds, st.hasSeconds = s, true
		n++
	}
	if v, ok := o.get("Timestamp"); ok {
		s, _ := v.(string)
		t, ok := parseTimestamp(s)
		if !ok {
			return c.errf(where, "Timestamp must be an RFC 3339 timestamp")
		}
		st.timestamp, st.hasTimestamp = t, true
		n++
	}
	var err error
	if st.secondsPath, err = optionalRefPath(o, "SecondsPath"); err != nil {
		return c.errf(where, "%v", err)
	}
	if st.timestampPath, err = optionalRefPath(o, "TimestampPath"); err != nil {
		return c.errf(where, "%v", err)
	}
	if st.secondsPath != nil {
		n++
	}
	if st.timestampPath != nil {
		n++
	}
	if n != 1 {
		return c.errf(where, "exactly one of Seconds, SecondsPath, Timestamp and TimestampPath is required")
	}
	return nil
}

// failState reads Error and Cause, each a literal or a path (or intrinsic).
func (c *compiler) failState(st *state, o *object, where string) error {
	for _, f := range []struct {
		lit, dyn string
		s        *string
		d        **dynString
	}{{"Error", "ErrorPath", &st.errName, &st.errorPath}, {"Cause", "CausePath", &st.cause, &st.causePath}} {
		lv, hasLit := o.get(f.lit)
		dv, hasDyn := o.get(f.dyn)
		if hasLit && hasDyn {
			return c.errf(where, "%s and %s are mutually exclusive", f.lit, f.dyn)
		}
		if hasLit {
			s, ok := lv.(string)
			if !ok {
				return c.errf(where, "%s must be a string", f.lit)
			}
			*f.s = s
		}
		if hasDyn {
			s, _ := dv.(string)
			t, err := compileDynamic(s)
			if err != nil {
				return c.errf(where, "%s: %v", f.dyn, err)
			}
			*f.d = &dynString{p: t.path, call: t.call}
		}
	}
	return nil
}

func (c *compiler) parallelState(st *state, o *object, where string) error {
	bv, _ := o.get("Branches")
	arr, ok := bv.([]any)
	if !ok || len(arr) == 0 {
		return c.errf(where, "Branches must be a non-empty array")
	}
	for i, b := range arr {
		bo, ok := b.(*object)
		bw := fmt.Sprintf("%s.Branches[%d]", where, i)
		if !ok {
			return c.errf(bw, "a branch must be an object")
		}
		if err := c.checkFields(bo, bw, "StartAt", "States", "Comment"); err != nil {
			return err
		}
		m, err := c.machine(bo, bw)
		if err != nil {
			return err
		}
		st.branches = append(st.branches, m)
	}
	return nil
}

func (c *compiler) mapState(st *state, o *object, where string) error {
	var err error
	if st.itemsPath, err = optionalRefPath(o, "ItemsPath"); err != nil {
		return c.errf(where, "%v", err)
	}
	sel, hasSel := o.get("ItemSelector")
	par, hasPar := o.get("Parameters")
	if hasSel && hasPar {
		return c.errf(where, "ItemSelector and Parameters are mutually exclusive")
	}
	st.params = nil // Map's Parameters is the legacy ItemSelector
	if hasPar {
		sel, hasSel = par, true
	}
	if hasSel {
		if st.itemSel, err = compileTemplate(sel); err != nil {
			return c.errf(where, "ItemSelector: %v", err)
		}
	}
	if st.processor, st.distributed, err = c.mapProcessor(o, where); err != nil {
		return err
	}
	if err := c.distributedMap(st, o, where); err != nil {
		return err
	}
	if v, ok := o.get("MaxConcurrency"); ok {
		n, ok := toInt(v)
		if !ok || n < 0 || n > math.MaxInt32 {
			return c.errf(where, "MaxConcurrency must be a non-negative integer")
		}
		st.maxConc = int(n)
	}
	if st.maxConcPath, err = optionalRefPath(o, "MaxConcurrencyPath"); err != nil {
		return c.errf(where, "%v", err)
	}
	return nil
}

// mapProcessor compiles a Map's ItemProcessor (or legacy Iterator) and
// reports whether it is distributed.
func (c *compiler) mapProcessor(o *object, where string) (*machine, bool, error) {
	pv, hasProc := o.get("ItemProcessor")
	iv, hasIter := o.get("Iterator")
	if hasProc == hasIter {
		return nil, false, c.errf(where, "exactly one of ItemProcessor and Iterator is required")
	}
	key := "ItemProcessor"
	if hasIter {
		pv, key = iv, "Iterator"
	}
	po, ok := pv.(*object)
	pw := where + "." + key
	if !ok {
		return nil, false, c.errf(pw, "must be an object")
	}
	if err := c.checkFields(po, pw, "StartAt", "States", "Comment", "ProcessorConfig"); err != nil {
		return nil, false, err
	}
	distributed := false
	if cfg, ok := po.get("ProcessorConfig"); ok {
		co, ok := cfg.(*object)
		if !ok {
			return nil, false, c.errf(pw, "ProcessorConfig must be an object")
		}
		if err := c.checkFields(co, pw+".ProcessorConfig", "Mode", "ExecutionType"); err != nil {
			return nil, false, err
		}
		mode, _ := co.get("Mode")
		et, hasET := co.get("ExecutionType")
		switch mode {
		case nil, "INLINE":
			if hasET {
				return nil, false, c.errf(pw, "ProcessorConfig.ExecutionType is for Mode DISTRIBUTED only")
			}
		case "DISTRIBUTED":
			// Child executions run here as iterations; EXPRESS children
			// differ on AWS only in duration and retention.
			if et != "STANDARD" && et != "EXPRESS" {
				return nil, false, c.errf(pw, "ProcessorConfig.ExecutionType must be STANDARD or EXPRESS with Mode DISTRIBUTED")
			}
			distributed = true
		default:
			return nil, false, c.errf(pw, "ProcessorConfig.Mode %s is not supported (INLINE or DISTRIBUTED)", string(encodeJSON(mode)))
		}
	}
	m, err := c.machine(po, pw)
	return m, distributed, err
}

// distributedMap compiles a Map's ItemReader and ResultWriter: only the
// forms Step Functions' S3 integrations take for a JSON array of items
// (s3:getObject, InputType JSON) and for the results (s3:putObject).
func (c *compiler) distributedMap(st *state, o *object, where string) error {
	rv, hasReader := o.get("ItemReader")
	wv, hasWriter := o.get("ResultWriter")
	if (hasReader || hasWriter) && !st.distributed {
		return c.errf(where, "ItemReader and ResultWriter need ItemProcessor.ProcessorConfig.Mode DISTRIBUTED")
	}
	if hasReader {
		rw := where + ".ItemReader"
		ro, ok := rv.(*object)
		if !ok {
			return c.errf(rw, "must be an object")
		}
		if st.itemsPath != nil {
			return c.errf(where, "ItemsPath and ItemReader are mutually exclusive")
		}
		if err := c.checkFields(ro, rw, "Resource", "ReaderConfig", "Parameters"); err != nil {
			return err
		}
		if r, _ := ro.get("Resource"); r != asl.S3GetObject {
			return c.errf(rw, "Resource %s is not supported (%s only)", string(encodeJSON(r)), asl.S3GetObject)
		}
		cv, _ := ro.get("ReaderConfig")
		co, ok := cv.(*object)
		if !ok {
			return c.errf(rw, "ReaderConfig with InputType JSON is required")
		}
		if err := c.checkFields(co, rw+".ReaderConfig", "InputType", "MaxItems"); err != nil {
			return err
		}
		if it, _ := co.get("InputType"); it != "JSON" {
			return c.errf(rw, "ReaderConfig.InputType %s is not supported (JSON only)", string(encodeJSON(it)))
		}
		if v, ok := co.get("MaxItems"); ok {
			n, ok := toInt(v)
			if !ok || n < 0 || n > 100_000_000 {
				return c.errf(rw, "ReaderConfig.MaxItems must be an integer from 0 to 100000000")
			}
			st.maxItems = int(n)
		}
		var err error
		if st.reader, err = c.s3Parameters(ro, rw, "Key"); err != nil {
			return err
		}
	}
	if hasWriter {
		ww := where + ".ResultWriter"
		wo, ok := wv.(*object)
		if !ok {
			return c.errf(ww, "must be an object")
		}
		if err := c.checkFields(wo, ww, "Resource", "Parameters"); err != nil {
			return err
		}
		if r, _ := wo.get("Resource"); r != asl.S3PutObject {
			return c.errf(ww, "Resource %s is not supported (%s only)", string(encodeJSON(r)), asl.S3PutObject)
		}
		var err error
		if st.writer, err = c.s3Parameters(wo, ww, "Prefix"); err != nil {
			return err
		}
	}
	return nil
}

// s3Parameters compiles the Parameters of an S3 reader or writer: Bucket
// and key (Key or Prefix), each a value or a path.
func (c *compiler) s3Parameters(o *object, where, key string) (*tmpl, error) {
	pv, ok := o.get("Parameters")
	po, isObj := pv.(*object)
	if !ok || !isObj {
		return nil, c.errf(where, "Parameters (Bucket, %s) are required", key)
	}
	for _, k := range []string{"Bucket", key} {
		_, a := po.get(k)
		_, b := po.get(k + ".$")
		if !a && !b {
			return nil, c.errf(where, "Parameters.%s is required", k)
		}
	}
	t, err := compileTemplate(pv)
	if err != nil {
		return nil, c.errf(where, "Parameters: %v", err)
	}
	return t, nil
}

func optionalPath(o *object, key string) (optPath, error) {
	v, ok := o.get(key)
	if !ok {
		return optPath{}, nil
	}
	if v == nil {
		return optPath{null: true}, nil
	}
	s, ok := v.(string)
	if !ok {
		return optPath{}, fmt.Errorf("%s must be a string or null", key)
	}
	p, err := parsePath(s)
	if err != nil {
		return optPath{}, fmt.Errorf("%s: %v", key, err)
	}
	if s == "$" {
		return optPath{}, nil
	}
	return optPath{p: p}, nil
}

func optionalRef(o *object, key string) (optRef, error) {
	v, ok := o.get(key)
	if !ok {
		return optRef{}, nil
	}
	if v == nil {
		return optRef{null: true}, nil
	}
	s, ok := v.(string)
	if !ok {
		return optRef{}, fmt.Errorf("%s must be a string or null", key)
	}
	r, err := parseRefPath(s)
	if err != nil {
		return optRef{}, err
	}
	if len(r.segs) == 0 {
		return optRef{}, nil
	}
	return optRef{p: r}, nil
}

func optionalRefPath(o *object, key string) (*path, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%s must be a path string", key)
	}
	p, err := parsePath(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", key, err)
	}
	return p, nil
}

func errorList(o *object, where string) ([]string, error) {
	v, _ := o.get("ErrorEquals")
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("%s: ErrorEquals must be a non-empty array", where)
	}
	var out []string
	for _, e := range arr {
		s, ok := e.(string)
		if !ok || s == "" {
			return nil, fmt.Errorf("%s: ErrorEquals entries must be non-empty strings", where)
		}
		out = append(out, s)
	}
	for _, s := range out {
		if s == ErrALL && len(out) > 1 {
			return nil, fmt.Errorf("%s: States.ALL must appear alone in ErrorEquals", where)
		}
	}
	return out, nil
}

func (c *compiler) retriers(o *object) ([]retrier, error) {
	v, ok := o.get("Retry")
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("Retry must be an array")
	}
	var out []retrier
	for i, e := range arr {
		where := fmt.Sprintf("Retry[%d]", i)
		ro, ok := e.(*object)
		if !ok {
			return nil, fmt.Errorf("%s must be an object", where)
		}
		if err := c.checkFields(ro, where, "ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"); err != nil {
			return nil, err
		}
		r := retrier{interval: 1, maxAttempts: 3, backoff: 2}
		var err error
		if r.errors, err = errorList(ro, where); err != nil {
			return nil, err
		}
		if containsALL(r.errors) && i != len(arr)-1 {
			return nil, fmt.Errorf("%s: States.ALL must be in the last retrier", where)
		}
		if v, ok := ro.get("IntervalSeconds"); ok {
			n, ok := toInt(v)
			if !ok || n < 1 {
				return nil, fmt.Errorf("%s: IntervalSeconds must be a positive integer", where)
			}
			r.interval = float64(n)
		}
		if v, ok := ro.get("MaxAttempts"); ok {
			n, ok := toInt(v)
			if !ok || n < 0 {
				return nil, fmt.Errorf("%s: MaxAttempts must be a non-negative integer", where)
			}
			r.maxAttempts = int(min(n, math.MaxInt32))
		}
		if v, ok := ro.get("BackoffRate"); ok {
			f, ok := toFloat(v)
			if !ok || f < 1 {
				return nil, fmt.Errorf("%s: BackoffRate must be a number >= 1", where)
			}
			r.backoff = f
		}
		if v, ok := ro.get("MaxDelaySeconds"); ok {
			n, ok := toInt(v)
			if !ok || n < 1 {
				return nil, fmt.Errorf("%s: MaxDelaySeconds must be a positive integer", where)
			}
			r.maxDelay = float64(n)
		}
		if v, ok := ro.get("JitterStrategy"); ok {
			switch v {
			case "FULL":
				r.jitter = true
			case "NONE":
			default:
				return nil, fmt.Errorf("%s: JitterStrategy must be FULL or NONE", where)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (c *compiler) catchers(o *object) ([]catcher, error) {
	v, ok := o.get("Catch")
	if !ok {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("Catch must be an array")
	}
	var out []catcher
	for i, e := range arr {
		where := fmt.Sprintf("Catch[%d]", i)
		co, ok := e.(*object)
		if !ok {
			return nil, fmt.Errorf("%s must be an object", where)
		}
		if err := c.checkFields(co, where, "ErrorEquals", "Next", "ResultPath", "Comment"); err != nil {
			return nil, err
		}
		var ct catcher
		var err error
		if ct.errors, err = errorList(co, where); err != nil {
			return nil, err
		}
		if containsALL(ct.errors) && i != len(arr)-1 {
			return nil, fmt.Errorf("%s: States.ALL must be in the last catcher", where)
		}
		n, _ := co.get("Next")
		if ct.next, _ = n.(string); ct.next == "" {
			return nil, fmt.Errorf("%s: Next must be a non-empty string", where)
		}
		if ct.resultPath, err = optionalRef(co, "ResultPath"); err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		out = append(out, ct)
	}
	return out, nil
}

func containsALL(errs []string) bool {
	for _, e := range errs {
		if e == ErrALL {
			return true
		}
	}
	return false
}
