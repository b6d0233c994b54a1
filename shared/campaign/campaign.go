package campaign

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxActivities is the most activities a campaign may have.
const MaxActivities = 500

// Campaign is a graph of activities.
type Campaign struct {
	Version              int                  `json:"version" jsonschema:"required,enum=1"`
	ID                   string               `json:"id" jsonschema:"required,pattern=^[a-z0-9-]{1\\,64}$"`
	Name                 string               `json:"name,omitempty"`
	Description          string               `json:"description,omitempty"`
	Dimension            string               `json:"dimension,omitempty" jsonschema:"description=default targeting dimension for activities"`
	Timezone             string               `json:"timezone,omitempty" jsonschema:"description=IANA time zone; default UTC"`
	Schedule             *Schedule            `json:"schedule,omitempty"`
	Parameters           map[string]Parameter `json:"parameters,omitempty"`
	Variables            map[string]any       `json:"variables,omitempty"`
	OnError              string               `json:"onError,omitempty" jsonschema:"enum=abort,enum=ignore,enum=suspend"`
	MaxConsecutiveErrors int                  `json:"maxConsecutiveErrors,omitempty"`
	Activities           []Activity           `json:"activities" jsonschema:"required"`

	File string  `json:"-"`
	Src  *Source `json:"-"`
}

// Schedule starts runs by time: exactly one of Cron, Every, At.
type Schedule struct {
	Cron  string `json:"cron,omitempty"`
	Every string `json:"every,omitempty" jsonschema:"description=period such as 6h; at least 15m"`
	At    string `json:"at,omitempty"`
	From  string `json:"from,omitempty"`
	Until string `json:"until,omitempty"`
}

// Parameter is a value supplied per run.
type Parameter struct {
	Type        string `json:"type" jsonschema:"required,enum=string,enum=integer,enum=number,enum=boolean,enum=date,enum=timestamp"`
	Required    bool   `json:"required,omitempty"`
	Default     any    `json:"default,omitempty"`
	Description string `json:"description,omitempty"`
}

// ParameterTypes lists the valid parameter types.
var ParameterTypes = []string{TypeString, TypeInteger, TypeNumber, TypeBoolean, TypeDate, TypeTimestamp}

// Activity is one node of the graph. Its type-specific configuration is kept
// as a node and decoded by the activity registry.
type Activity struct {
	ID    string   `json:"id" jsonschema:"required,pattern=^[a-zA-Z0-9_]{1\\,64}$"`
	Type  string   `json:"type" jsonschema:"required"`
	Label string   `json:"label,omitempty"`
	From  FromList `json:"from,omitempty"`

	Index  int        `json:"-"` // position in the activities list
	Node   *yaml.Node `json:"-"` // the whole activity mapping
	Config any        `json:"-"` // decoded by the registry
}

// HasKey reports whether the activity's mapping sets key (even to a zero value).
func (a *Activity) HasKey(key string) bool { return mapValue(a.Node, key) != nil }

// Path is the diagnostic path of the activity.
func (a *Activity) Path() string { return JoinPath("activities", a.Index) }

// CommonKeys are decoded by Activity itself; the rest is the type's config.
var CommonKeys = map[string]bool{"id": true, "type": true, "label": true, "from": true}

// Transition names an output port of an activity.
type Transition struct {
	Activity string
	Port     string // "" means the default port `out`
}

func (t Transition) String() string {
	if t.Port == "" {
		return t.Activity
	}
	return t.Activity + "." + t.Port
}

// PortOrOut returns the port, defaulting to out.
func (t Transition) PortOrOut() string {
	if t.Port == "" {
		return "out"
	}
	return t.Port
}

// FromList is `from: a`, `from: a.port` or `from: [a, b.port]`.
type FromList []Transition

// DecodeNode implements NodeDecoder.
func (f *FromList) DecodeNode(d *Decoder, n *yaml.Node, path string) {
	var items []string
	switch n.Kind {
	case yaml.ScalarNode:
		items = []string{n.Value}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				d.Errorf(JoinPath(path, i), "expected an activity id or activity.port, got %s", describe(c))
				continue
			}
			items = append(items, c.Value)
		}
	default:
		d.Errorf(path, "expected an activity id, activity.port, or a list of them, got %s", describe(n))
		return
	}
	for _, s := range items {
		act, port, _ := strings.Cut(s, ".")
		*f = append(*f, Transition{Activity: act, Port: port})
	}
}

// Activity returns the activity with id.
func (c *Campaign) Activity(id string) (*Activity, bool) {
	for i := range c.Activities {
		if c.Activities[i].ID == id {
			return &c.Activities[i], true
		}
	}
	return nil, false
}

// ActivityIDs lists activity ids in file order.
func (c *Campaign) ActivityIDs() []string {
	out := make([]string, len(c.Activities))
	for i, a := range c.Activities {
		out[i] = a.ID
	}
	return out
}

// Dir is the folder relative paths in the campaign are resolved against.
func (c *Campaign) Dir() string {
	if c.File == "" {
		return "."
	}
	return filepath.Dir(c.File)
}

var (
	campaignIDRe = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	activityIDRe = regexp.MustCompile(`^[a-zA-Z0-9_]{1,64}$`)
)

// ValidPortName reports whether a port name follows [a-zA-Z0-9_]{1,64}.
func ValidPortName(s string) bool { return activityIDRe.MatchString(s) }

// ValidCampaignID reports whether id follows [a-z0-9-]{1,64}.
func ValidCampaignID(id string) bool { return campaignIDRe.MatchString(id) }

// LoadCampaign reads and decodes a campaign file (structure only; the
// compiler validates activities, the graph and conditions).
func LoadCampaign(file string) (*Campaign, Diagnostics) {
	data, diags := readFile(file, "campaign", MaxCampaignBytes)
	if diags != nil {
		return nil, diags
	}
	return ParseCampaign(file, data)
}

// readFile reads at most max+1 bytes of file: enough to tell it is too large.
func readFile(file, what string, max int) ([]byte, Diagnostics) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		// The full path: a relative one does not say where it was looked for.
		abs, _ := filepath.Abs(file)
		return nil, Diagnostics{{Pos: Pos{File: file}, Message: fmt.Sprintf("%s file %s does not exist", what, abs), Severity: Error}}
	}
	if err != nil {
		return nil, Diagnostics{{Pos: Pos{File: file}, Message: err.Error(), Severity: Error}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, Diagnostics{{Pos: Pos{File: file}, Message: err.Error(), Severity: Error}}
	}
	if d := checkSize(file, what, data, max); d != nil {
		return nil, d
	}
	return data, nil
}

// ParseCampaign decodes campaign bytes. Activity configs stay undecoded.
// It returns a nil campaign only when the bytes are not a document within
// the limits; otherwise the campaign comes with every diagnostic found.
func ParseCampaign(file string, data []byte) (*Campaign, Diagnostics) {
	if d := checkSize(file, "campaign", data, MaxCampaignBytes); d != nil {
		return nil, d
	}
	src, diags := Parse(file, data)
	if diags.HasErrors() {
		return nil, diags
	}
	c := &Campaign{File: file, Src: src}
	d := NewDecoder(src, &diags)
	d.DecodeSkipping(src.Root, "", c, map[string]bool{"activities": true})
	if an := mapValue(src.Root, "activities"); an != nil {
		if an.Kind != yaml.SequenceNode {
			d.Errorf("activities", "expected a list of activities, got %s", describe(an))
		} else {
			for i, n := range an.Content {
				a := Activity{Index: i, Node: n}
				d.DecodeSkipping(n, JoinPath("activities", i), &a, nonCommonKeys(n))
				c.Activities = append(c.Activities, a)
			}
		}
	} else if src.Root != nil && src.Root.Kind == yaml.MappingNode {
		d.Errorf("", "missing required field %q", "activities")
	}
	c.checkHeader(d.Reporter)
	diags.Sort()
	return c, diags
}

// nonCommonKeys returns the keys of an activity mapping that belong to its config.
func nonCommonKeys(n *yaml.Node) map[string]bool {
	skip := map[string]bool{}
	if n.Kind != yaml.MappingNode {
		return skip
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !CommonKeys[k] {
			skip[k] = true
		}
	}
	return skip
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// checkHeader validates the campaign-level fields; activities and the graph are
// validated by the compiler.
func (c *Campaign) checkHeader(r Reporter) {
	if c.Version != 1 {
		r.Errorf("version", "unsupported campaign version %d; valid: 1", c.Version)
	}
	if c.ID != "" && !ValidCampaignID(c.ID) {
		r.Errorf("id", "campaign id %q must match [a-z0-9-]{1,64}", c.ID)
	}
	if c.OnError != "" && !contains([]string{"abort", "ignore", "suspend"}, c.OnError) {
		r.Errorf("onError", "onError must be abort, ignore or suspend, not %q%s", c.OnError, DidYouMean(c.OnError, []string{"abort", "ignore", "suspend"}))
	}
	if c.MaxConsecutiveErrors < 0 {
		r.Errorf("maxConsecutiveErrors", "maxConsecutiveErrors must be 0 or more")
	}
	if c.MaxConsecutiveErrors > 0 && c.OnError != "ignore" {
		r.Errorf("maxConsecutiveErrors", "maxConsecutiveErrors applies only with onError: ignore")
	}
	if _, err := LoadLocation(c.Timezone); err != nil {
		r.Errorf("timezone", "unknown time zone %q: use an IANA name such as Europe/Paris", c.Timezone)
	}
	for _, name := range SortedKeys(c.Variables) {
		if !activityIDRe.MatchString(name) {
			r.Errorf(JoinPath("variables", name), "variable name %q must match [a-zA-Z0-9_]{1,64}: templates and run state name it", name)
		}
	}
	for _, name := range SortedKeys(c.Parameters) {
		p := c.Parameters[name]
		pp := JoinPath("parameters", name)
		if !activityIDRe.MatchString(name) {
			r.Errorf(pp, "parameter name %q must match [a-zA-Z0-9_]{1,64}: templates and run state name it", name)
		}
		if !contains(ParameterTypes, p.Type) {
			r.Errorf(JoinPath(pp, "type"), "unknown parameter type %q%s; valid: %s", p.Type, DidYouMean(p.Type, ParameterTypes), strings.Join(ParameterTypes, ", "))
			continue
		}
		if p.Default != nil {
			if _, err := CoerceParam(p.Type, p.Default); err != nil {
				r.Errorf(JoinPath(pp, "default"), "default: %v", err)
			}
		}
	}
	if len(c.Activities) > MaxActivities {
		r.Errorf("activities", "a campaign has at most %d activities; this one has %d", MaxActivities, len(c.Activities))
	}
	seen := map[string]int{}
	for i, a := range c.Activities {
		p := JoinPath("activities", i)
		if a.ID == "" {
			continue // reported as missing by the decoder
		}
		if !activityIDRe.MatchString(a.ID) {
			r.Errorf(JoinPath(p, "id"), "activity id %q must match [a-zA-Z0-9_]{1,64}", a.ID)
		}
		if j, dup := seen[a.ID]; dup {
			r.Errorf(JoinPath(p, "id"), "duplicate activity id %q (first used at activities[%d])", a.ID, j)
			continue
		}
		seen[a.ID] = i
	}
	if c.Schedule != nil {
		c.CheckScheduleInto(r)
	}
}
