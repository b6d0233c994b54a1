// Package plan is the runtime plan of a compiled campaign: what its handlers
// need to run it, emitted by the compiler next to the ASL and identified by
// a digest the ASL carries. Handlers read the plan; they do not compile.
package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Version of the plan format.
const Version = 1

// Run-level functions: the state machine calls them around the activities.
const (
	FnStartRun    = "StartRun"    // validates parameters, records the run, computes run facts
	FnFinishRun   = "FinishRun"   // records every activity result and the run's success
	FnFailRun     = "FailRun"     // records the run's failure
	FnRecordError = "RecordError" // onError ignore: records a failed activity, enforces maxConsecutiveErrors
	FnSuspend     = "Suspend"     // onError suspend: marks the run suspended
	FnCheckResume = "CheckResume" // onError suspend: polled until the run is resumed
)

// RunFunctions lists the run-level functions.
var RunFunctions = []string{FnStartRun, FnFinishRun, FnFailRun, FnRecordError, FnSuspend, FnCheckResume}

// Placeholder is the Resource of a Task invoking a function: a Lambda ARN
// placeholder filled by SAM DefinitionSubstitutions or at publish time.
func Placeholder(function string) string { return "${" + function + "FunctionArn}" }

// ResourceFunction returns the function a Task Resource names: a
// placeholder, as compiled, or the ARN it becomes once deployed
// (arn:…:lambda:…:function:stepwise-Name[:alias], as the AWS-shape tests
// and the cross-checks deploy them).
func ResourceFunction(resource string) (string, bool) {
	if name, ok := strings.CutPrefix(resource, "${"); ok {
		return strings.CutSuffix(name, "FunctionArn}")
	}
	// arn:partition:lambda:region:account:function:name[:qualifier]
	p := strings.Split(resource, ":")
	if len(p) < 7 || len(p) > 8 || p[0] != "arn" || p[2] != "lambda" || p[5] != "function" || p[6] == "" {
		return "", false
	}
	return strings.TrimPrefix(p[6], "stepwise-"), true
}

// Plan is the part of a compiled campaign its handlers read. The digest
// covers all of it.
type Plan struct {
	Version int `json:"version"`
	// Campaign is the campaign file as validated; handlers parse it (no
	// checks, no schema reads) and decode only their own activity's config,
	// with the decoder that validated it.
	CampaignFile string `json:"campaignFile"`
	Campaign     string `json:"campaign"`
	// Catalog is the validated catalog with every table's columns resolved
	// (declared, or read from the source when the plan was made).
	Catalog *campaign.Catalog `json:"catalog"`
	// Activities are the compile-time facts of each activity, in campaign order.
	Activities []Activity `json:"activities"`
	// Schemas are the distinct port schemas the activities refer to by index
	// (most transitions of a campaign share a few).
	Schemas []campaign.Schema `json:"schemas"`
	// Files are the template files by path relative to the campaign file.
	Files map[string][]byte `json:"files,omitempty"`
}

// Activity is what the compiler decided about one activity.
type Activity struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function string `json:"function,omitempty"` // Task function; empty for pure-ASL types
	// Ports are the declared output ports, in order.
	Ports []string `json:"ports"`
	// Schemas are the ports' schemas, as indexes into Plan.Schemas (a port
	// whose schema is unknown is absent).
	Schemas map[string]int `json:"schemas,omitempty"`
}

// States are the naming conventions of the emitted state machine, as data.
type States struct {
	// Start is the state that starts the run (its output holds the run).
	Start string `json:"start"`
	// Activities maps every state of an activity to its role.
	Activities map[string]State `json:"activities"`
}

// State is one state of an activity.
type State struct {
	Activity string `json:"activity"`
	Role     Role   `json:"role"`
}

// Role of a state within its activity.
type Role string

// Roles.
const (
	RoleGuard Role = "guard" // the check that an inbound transition was activated
	RoleSkip  Role = "skip"  // records the activity as skipped
	RoleWork  Role = "work"  // the activity's own states and its failure path
)

// Where says where the plan's relative paths resolve on the host that made
// it. It is not covered by the digest: the same campaign compiled in two
// checkouts has one digest.
type Where struct {
	CampaignDir string `json:"campaignDir,omitempty"`
	CatalogDir  string `json:"catalogDir,omitempty"`
}

// stored is the plan's form in the blob store. The digest covers Plan, what
// handlers act on; the state names (for observers, made while the ASL that
// carries the digest is emitted) and Where (the host's) are beside it.
type stored struct {
	Digest string          `json:"digest"`
	Where  Where           `json:"where"`
	States States          `json:"states"`
	Plan   json.RawMessage `json:"plan"`
}

// Encode returns the plan's canonical bytes and its digest.
func (p *Plan) Encode() (data []byte, digest string, err error) {
	data, err = json.Marshal(p)
	if err != nil {
		return nil, "", fmt.Errorf("encode the plan: %w", err)
	}
	return data, Digest(data), nil
}

// Digest is the digest of a plan's canonical bytes.
func Digest(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])[:16]
}

// Key is the blob key of a plan.
func Key(campaignID, digest string) string {
	return "campaigns/" + campaignID + "/plans/" + digest + ".json"
}

// Marshal returns the stored form of an encoded plan: the plan's bytes are
// appended as they are (re-encoding them would re-validate the whole plan).
func Marshal(data []byte, digest string, where Where, states States) ([]byte, error) {
	head, err := json.Marshal(stored{Digest: digest, Where: where, States: states})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(data)+8)
	out = append(out, head[:len(head)-len(`"plan":null}`)]...)
	out = append(out, `"plan":`...)
	out = append(out, data...)
	return append(out, '}'), nil
}

// SchemaTable collects distinct schemas for a plan.
type SchemaTable struct {
	Schemas []campaign.Schema
	index   map[string]int
}

// Add returns the index of s, adding it when new.
func (t *SchemaTable) Add(s campaign.Schema) int {
	key, _ := json.Marshal(s)
	if i, ok := t.index[string(key)]; ok {
		return i
	}
	if t.index == nil {
		t.index = map[string]int{}
	}
	t.index[string(key)] = len(t.Schemas)
	t.Schemas = append(t.Schemas, s)
	return len(t.Schemas) - 1
}

// PortSchemas returns an activity's port schemas.
func (p *Plan) PortSchemas(a *Activity) (map[string]campaign.Schema, error) {
	if a.Schemas == nil {
		return nil, nil
	}
	out := make(map[string]campaign.Schema, len(a.Schemas))
	for port, i := range a.Schemas {
		if i < 0 || i >= len(p.Schemas) {
			return nil, fmt.Errorf("activity %s port %s: no schema %d", a.ID, port, i)
		}
		out[port] = p.Schemas[i]
	}
	return out, nil
}

// ErrTampered means a stored plan's contents do not match its digest.
var ErrTampered = errors.New("the plan does not match its digest")

// Loaded is a stored plan, read and checked.
type Loaded struct {
	Plan   *Plan
	Digest string
	Where  Where
	States States
}

// Unmarshal reads a stored plan and checks it against the digest the
// request named: a plan that was changed after it was compiled is refused.
func Unmarshal(data []byte, digest string) (*Loaded, error) {
	var s stored
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("plan %s is corrupt: %w", digest, err)
	}
	if got := Digest(s.Plan); got != digest || s.Digest != digest {
		return nil, fmt.Errorf("%w: plan %s hashes to %s", ErrTampered, digest, got)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(s.Plan))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan %s: %w", digest, err)
	}
	if p.Version != Version {
		return nil, fmt.Errorf("plan %s has format version %d; this build reads %d", digest, p.Version, Version)
	}
	return &Loaded{Plan: &p, Digest: digest, Where: s.Where, States: s.States}, nil
}

// Activity returns the facts of an activity.
func (p *Plan) Activity(id string) (*Activity, bool) {
	for i := range p.Activities {
		if p.Activities[i].ID == id {
			return &p.Activities[i], true
		}
	}
	return nil, false
}
