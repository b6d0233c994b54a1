// Package channel holds the channel activity types: email, sms and push.
// Each lowers to plan → inline Map over slices (send) → finish.
package channel

import (
	"context"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Content is an inline template or {file: path} relative to the campaign.
type Content struct {
	Inline string
	File   string
}

// DecodeNode implements campaign.NodeDecoder.
func (c *Content) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		c.Inline = n.Value
		return
	}
	var ref struct {
		File string `json:"file" jsonschema:"required"`
	}
	d.Decode(n, path, &ref)
	c.File = ref.File
}

// Message is the content of a message; which fields apply depends on the channel.
type Message struct {
	From    string            `json:"from,omitempty"`
	ReplyTo string            `json:"replyTo,omitempty"`
	Subject string            `json:"subject,omitempty"`
	HTML    *Content          `json:"html,omitempty"`
	Text    *Content          `json:"text,omitempty"`
	Sender  string            `json:"sender,omitempty" jsonschema:"description=SMS sender id"`
	Title   string            `json:"title,omitempty"`
	Body    string            `json:"body,omitempty"`
	Data    map[string]string `json:"data,omitempty"`
}

// Capping limits messages per recipient and channel across campaigns.
type Capping struct {
	Max int    `json:"max" jsonschema:"required"`
	Per string `json:"per" jsonschema:"required"`
}

// QuietHours is a daily window, in the recipient's time zone, with no sends.
type QuietHours struct {
	Start string `json:"start" jsonschema:"required,pattern=^[0-2][0-9]:[0-5][0-9]$"`
	End   string `json:"end" jsonschema:"required,pattern=^[0-2][0-9]:[0-5][0-9]$"`
}

// Variant is one experiment arm; its fields override the message.
type Variant struct {
	Name    string   `json:"name" jsonschema:"required"`
	Weight  float64  `json:"weight" jsonschema:"required"`
	Subject string   `json:"subject,omitempty"`
	HTML    *Content `json:"html,omitempty"`
	Text    *Content `json:"text,omitempty"`
	Title   string   `json:"title,omitempty"`
	Body    string   `json:"body,omitempty"`
}

// Experiment splits recipients into variants and a holdout.
type Experiment struct {
	Holdout  string    `json:"holdout,omitempty" jsonschema:"description=percentage not sent, e.g. 5%"`
	Variants []Variant `json:"variants,omitempty"`
}

// Config is the configuration of email, sms and push.
type Config struct {
	Purpose     string      `json:"purpose,omitempty" jsonschema:"enum=marketing,enum=transactional"`
	Message     Message     `json:"message" jsonschema:"required"`
	Rate        float64     `json:"rate,omitempty" jsonschema:"description=messages per second for this activity"`
	Window      string      `json:"window,omitempty" jsonschema:"description=recipients not sent within this time are skipped, e.g. 12h"`
	Confirm     bool        `json:"confirm,omitempty"`
	Capping     *Capping    `json:"capping,omitempty"`
	QuietHours  *QuietHours `json:"quietHours,omitempty"`
	Experiment  *Experiment `json:"experiment,omitempty"`
	MaxErrors   int         `json:"maxErrors,omitempty" jsonschema:"description=failed sends in one slice after which the activity pauses (default 100)"`
	SliceSize   int         `json:"sliceSize,omitempty" jsonschema:"description=recipients per Map iteration (default 50000)"`
	Concurrency int         `json:"concurrency,omitempty" jsonschema:"description=slices sent at once (default 4)"`
}

// Marketing reports whether consent, unsubscribe and caps apply.
func (c *Config) Marketing() bool { return c.Purpose == "" || c.Purpose == "marketing" }

// Defaults.
const (
	DefaultSliceSize   = 50000
	DefaultConcurrency = 4
)

// Kind is what differs between channels: the address column, the message
// fields that apply, and the Lambda.
type Kind struct {
	Type     string
	Function string
	Summary  string
	// Address returns the catalog column holding the channel's address.
	Address func(*campaign.Targeting) string
	// CheckMessage validates the message fields of the channel.
	CheckMessage func(c *activity.Check, m *Message, tmpl func(field, src string), content func(field string, ct *Content))
}

// The three channels.
var (
	EmailKind = &Kind{Type: "email", Function: "Email", Summary: "Personalized email to each recipient.",
		Address: func(t *campaign.Targeting) string { return t.Email }, CheckMessage: checkEmail}
	SMSKind = &Kind{Type: "sms", Function: "SMS", Summary: "Personalized SMS to each recipient.",
		Address: func(t *campaign.Targeting) string { return t.SMS }, CheckMessage: checkSMS}
	PushKind = &Kind{Type: "push", Function: "Push", Summary: "Personalized push notification to each recipient.",
		Address: func(t *campaign.Targeting) string { return t.Push }, CheckMessage: checkPush}
)

// Kinds are the channels by activity type.
var Kinds = map[string]*Kind{EmailKind.Type: EmailKind, SMSKind.Type: SMSKind, PushKind.Type: PushKind}

// Register adds the channel types to r, their tasks bound to d.
func Register(r *activity.Registry, d *Deps) {
	r.Register(define(EmailKind, d), define(SMSKind, d), define(PushKind, d))
}

// define is the one definition of a channel type.
func define(k *Kind, d *Deps) *activity.Spec {
	return activity.Define(activity.Def[Config]{
		Type: k.Type, Family: activity.Channel, Function: k.Function, Summary: k.Summary,
		Inputs: activity.Inputs{Min: 1, Max: 1},
		Ports:  activity.Fixed[Config]("out", "skipped"),
		Check:  func(c *activity.Check, x *Config) { check(c, k, x) },
		Output: func(c *activity.Check, _ *Config, in []campaign.Schema) map[string]campaign.Schema {
			var s campaign.Schema
			if len(in) > 0 {
				s = in[0]
			}
			return map[string]campaign.Schema{
				"out":     s.With(campaign.Column{Name: "messageId", Type: campaign.TypeString}, campaign.Column{Name: "variant", Type: campaign.TypeString}),
				"skipped": s.With(campaign.Column{Name: "reason", Type: campaign.TypeString}),
			}
		},
		Lower:    lower,
		Describe: func(_ *campaign.Campaign, _ *campaign.Activity, x *Config) []string { return describe(k, x) },
		Run: func(ctx context.Context, call *activity.Call, x *Config) (*activity.Result, error) {
			return run(ctx, d, call, k, x)
		},
	})
}

// listsSlices reports whether a channel under the catalog's engine may
// list its slices in the run store (the Athena engine: athena or auto).
func listsSlices(cat *campaign.Catalog) bool {
	return cat != nil && (cat.Engine == campaign.EngineAthena || cat.Engine == campaign.EngineAuto)
}

// lowerFanout adds the sends over a listed plan: a Choice sends the slices
// returned inline through the inline Map (sendName) and the listed ones
// through a distributed Map, whose ItemReader reads the plan's JSON list
// of slices from S3 and whose children are the inline Map's item states
// under their own names. At most concurrency(x) children run at once: the
// sizing divided the rate by that number (NewSizing), so the rate holds.
// The children's results go to S3 (ResultWriter); the Map keeps only
// where (extra.fanout), and the finish gets no parts (it reads the parts
// from the run store, as after the inline Map).
func lowerFanout(l activity.Lowerer, x *Config, itemSel map[string]any, send *asl.State) {
	res := l.ResultPath()
	list := res + ".extra.sliceList"
	l.Add(l.Name("listed?"), &asl.State{Type: "Choice", Comment: "a plan of many slices lists them in the run store",
		Choices: []asl.ChoiceRule{{Variable: list, IsPresent: asl.Bool(true), Next: l.Name("fanout")}},
		Default: l.Name("send")})
	child := *send
	child.Next = l.Name("listed more")
	item := asl.Branch{ProcessorConfig: &asl.ProcessorConfig{Mode: "DISTRIBUTED", ExecutionType: "STANDARD"}, StartAt: l.Name("listed slice")}
	item.States.Add(l.Name("listed slice"), &child)
	item.States.Add(l.Name("listed more"), &asl.State{Type: "Choice", Comment: "a slice out of time leaves a remainder for its next invocation",
		Choices: []asl.ChoiceRule{{Variable: "$.sent.extra.remainder", IsPresent: asl.Bool(true), Next: l.Name("listed slice")}},
		Default: l.Name("listed sent")})
	item.States.Add(l.Name("listed sent"), &asl.State{Type: "Pass", OutputPath: "$.sent", End: true})
	l.Add(l.Name("fanout"), &asl.State{
		Type: "Map", Comment: "the listed slices, each a child execution; at most the sizing's concurrency at once",
		ItemReader: &asl.ItemReader{Resource: asl.S3GetObject, ReaderConfig: map[string]any{"InputType": "JSON"},
			Parameters: map[string]any{"Bucket.$": list + ".bucket", "Key.$": list + ".key"}},
		ItemSelector: itemSel, ItemProcessor: &item, MaxConcurrency: concurrency(x),
		ResultWriter: &asl.ResultWriter{Resource: asl.S3PutObject, Parameters: map[string]any{"Bucket.$": list + ".bucket", "Prefix.$": list + ".results"}},
		ResultPath:   asl.Path(res + ".extra.fanout"), Catch: l.Catch(), Next: l.Name("fanned out")})
	l.Add(l.Name("fanned out"), &asl.State{Type: "Pass", Comment: "the parts are in the run store: the finish reads them there",
		Result: []any{}, ResultPath: asl.Path(res + ".parts"), Next: l.Name("finish")})
}

// lowerUnload emits the plan's numbering on Athena with targeting's query
// states: the unload task writes the statement
// (extra.query) or says done; the query state runs it
// (athena:startQueryExecution.sync, retried on Athena's throttling); a
// failed query is AthenaQueryFailed with Athena's reason, then the
// activity's error path; plan is the plan task that records the output.
func lowerUnload(l activity.Lowerer, plan string) {
	res := l.ResultPath()
	unload := l.Task(PhaseUnload, nil)
	unload.Next = l.Name("unloaded?")
	l.Add(l.Name(""), unload)
	l.Add(l.Name("unloaded?"), &asl.State{Type: "Choice", Comment: "a plan recorded already, or on DuckDB, runs no query",
		Choices: []asl.ChoiceRule{{Variable: res + ".extra.done", BooleanEquals: asl.Bool(true), Next: plan}},
		Default: l.Name("query")})
	failed := athenastep.AddFailed(l)
	l.Add(l.Name("query"), athenastep.Query(l, "query", "athena",
		"the plan's numbering on Athena: an UNLOAD of its rows, sorted by row number, under the plan's ref", failed, plan))
}

// ConfirmPollSeconds is the wait between two checks of a held send.
const ConfirmPollSeconds = 60

// lower emits plan → [confirm loop] → Map(send over slices) → finish. The
// plan task writes the plan and returns its slices; each Map iteration
// sends one slice, invoking the send task again while it returns a
// remainder; finish merges the parts into the ports. A plan of one slice
// or none sends it and finishes in its own task and says so
// (extra.finished): a Choice after the plan then goes on past the finish
// (not with quietHours, whose waves have instants to wait for).
//
// With confirm: true the plan reports extra.held (live runs) and a poll loop
// (Choice → Wait 60 s → confirm task → Choice) holds the sends until the run
// is confirmed. With quietHours the slices come in waves (extra.waves): an
// outer Map, one wave at a time, waits until the wave's instant (the end of
// its recipients' quiet hours) and then sends the wave's slices.
func lower(l activity.Lowerer, x *Config) error {
	conc := concurrency(x)
	sendName := l.Name("send")
	if x.QuietHours != nil {
		sendName = l.Name("waves")
	}
	// A paced send (rate) keeps its send phase even for one slice: its time
	// is the rate's, and the send phase is where progress is reported.
	oneTask := x.QuietHours == nil && x.Rate == 0
	// Under the Athena engine (athena, auto) the plan may list its slices
	// in the run store instead (extra.sliceList): a distributed Map reads
	// them (see lowerFanout). Waves stay inline.
	listed := x.QuietHours == nil && listsSlices(l.Catalog())
	var whole map[string]any
	if oneTask || listed {
		whole = map[string]any{}
	}
	if oneTask {
		whole["finish"] = true
	}
	if listed {
		whole["list"] = true
	}
	plan := l.Task(PhasePlan, whole)
	// Under engine athena (without quietHours) the plan is numbered on
	// Athena first: unload → (query unless done) → the plan task, which
	// records the UNLOAD's output (see lowerUnload).
	planName := l.Name("")
	if x.QuietHours == nil && l.Catalog() != nil && l.Catalog().Engine == campaign.EngineAthena && l.Catalog().Athena != nil {
		planName = l.Name("plan")
		lowerUnload(l, planName)
	}
	// mapEntry is where the sends begin once the plan is done (and confirmed).
	mapEntry := sendName
	if listed {
		mapEntry = l.Name("listed?")
	}
	plan.Next = mapEntry
	l.Add(planName, plan)
	if oneTask {
		// A plan of one slice or none sends it and finishes in its own task
		// (extra.finished, see sendAndFinish).
		plan.Next = l.Name("planned")
		next := mapEntry
		if x.Confirm {
			next = l.Name("held")
		}
		l.Add(l.Name("planned"), &asl.State{Type: "Choice", Comment: "a plan of one slice or none has sent it and finished",
			Choices: []asl.ChoiceRule{{And: []asl.ChoiceRule{
				{Variable: l.ResultPath() + ".extra.finished", IsPresent: asl.Bool(true)},
				{Variable: l.ResultPath() + ".extra.finished", BooleanEquals: asl.Bool(true)},
			}, Next: l.Next()}},
			Default: next})
	}
	if x.Confirm {
		if !oneTask { // else the planned Choice leads to held
			plan.Next = l.Name("held")
		}
		l.Add(l.Name("held"), &asl.State{Type: "Choice", Comment: "confirm: true holds live sends until the run is confirmed",
			Choices: []asl.ChoiceRule{{Variable: l.ResultPath() + ".extra.held", BooleanEquals: asl.Bool(true), Next: l.Name("hold")}},
			Default: mapEntry})
		l.Add(l.Name("hold"), &asl.State{Type: "Wait", Seconds: asl.Int(ConfirmPollSeconds), Next: l.Name("confirm")})
		confirm := l.Task(PhaseConfirm, nil)
		confirm.Next = l.Name("held")
		l.Add(l.Name("confirm"), confirm)
	}

	send := l.Task(PhaseSend, map[string]any{"slice.$": "$$.Map.Item.Value"})
	send.ResultPath = "$.sent"
	send.Catch = nil
	send.Next = l.Name("more")
	// Inside the Map, the item selector supplies the whole request.
	itemSel := send.Parameters.(map[string]any)
	send.Parameters = nil
	send.InputPath = ""
	item := asl.Branch{ProcessorConfig: &asl.ProcessorConfig{Mode: "INLINE"}, StartAt: l.Name("slice")}
	item.States.Add(l.Name("slice"), send)
	// A slice that ran out of time hands its remainder on: the same request
	// again continues after the rows it settled (see runSend).
	item.States.Add(l.Name("more"), &asl.State{Type: "Choice", Comment: "a slice out of time leaves a remainder for its next invocation",
		Choices: []asl.ChoiceRule{{Variable: "$.sent.extra.remainder", IsPresent: asl.Bool(true), Next: l.Name("slice")}},
		Default: l.Name("sent")})
	item.States.Add(l.Name("sent"), &asl.State{Type: "Pass", OutputPath: "$.sent", End: true})
	if listed {
		lowerFanout(l, x, itemSel, send)
	}
	if x.QuietHours == nil {
		l.Add(sendName, &asl.State{
			Type: "Map", ItemsPath: l.ResultPath() + ".slices", ItemSelector: itemSel, ItemProcessor: &item,
			MaxConcurrency: conc, ResultPath: asl.Path(l.ResultPath() + ".parts"), Catch: l.Catch(), Next: l.Name("finish"),
		})
	} else {
		// The send phase reads the plan, not the inputs; inside a wave "$" is
		// the wave item.
		delete(itemSel, "inputs")
		wave := asl.Branch{ProcessorConfig: &asl.ProcessorConfig{Mode: "INLINE"}, StartAt: l.Name("until")}
		wave.States.Add(l.Name("until"), &asl.State{Type: "Wait", Comment: "the end of the quiet hours of this wave's recipients",
			TimestampPath: "$.at", Next: l.Name("send")})
		wave.States.Add(l.Name("send"), &asl.State{Type: "Map", ItemsPath: "$.slices", ItemSelector: itemSel, ItemProcessor: &item,
			MaxConcurrency: conc, End: true})
		l.Add(sendName, &asl.State{
			Type: "Map", ItemsPath: l.ResultPath() + ".extra.waves", MaxConcurrency: 1,
			ItemSelector:  map[string]any{"at.$": "$$.Map.Item.Value.at", "slices.$": "$$.Map.Item.Value.slices", "run.$": l.RunPath()},
			ItemProcessor: &wave, ResultPath: asl.Path(l.ResultPath() + ".parts"), Catch: l.Catch(), Next: l.Name("finish"),
		})
	}
	finish := l.Task(PhaseFinish, map[string]any{"parts.$": l.ResultPath() + ".parts"})
	finish.Next = l.Next()
	l.Add(l.Name("finish"), finish)
	return nil
}
