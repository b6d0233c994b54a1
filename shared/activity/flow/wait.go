package flow

import (
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"go.yaml.in/yaml/v3"
)

// WaitUntil is a fixed time or {param: name}.
type WaitUntil struct {
	Time  string
	Param string
}

// DecodeNode implements campaign.NodeDecoder.
func (w *WaitUntil) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		w.Time = n.Value
		return
	}
	var ref struct {
		Param string `json:"param" jsonschema:"required"`
	}
	d.Decode(n, path, &ref)
	w.Param = ref.Param
}

// WaitConfig pauses a branch for a duration or until a time.
type WaitConfig struct {
	Duration string     `json:"duration,omitempty" jsonschema:"description=e.g. 72h, 3d"`
	Until    *WaitUntil `json:"until,omitempty"`
}

// MaxWait is the longest wait: work tables expire after 5 days.
const MaxWait = 5 * 24 * time.Hour

// Wait is the wait type.
var Wait = activity.Define(activity.Def[WaitConfig]{
	Type: "wait", Family: activity.Flow,
	Summary:  "Waits for a duration or until a time, then passes the population on.",
	Inputs:   activity.Inputs{Min: 1, Max: 1},
	Describe: describeWait,
	Check: func(c *activity.Check, x *WaitConfig) {
		if (x.Duration == "") == (x.Until == nil) {
			c.Errorf(c.Path(), "wait needs exactly one of duration or until")
		}
		if x.Duration != "" {
			if d, err := campaign.ParseDuration(x.Duration); err != nil {
				c.Errorf(c.Path("duration"), "%v", err)
			} else if d > MaxWait {
				c.Errorf(c.Path("duration"), "wait %s is longer than %s: populations expire after 5 days", x.Duration, "5d")
			}
		}
		if u := x.Until; u != nil {
			if u.Param != "" {
				p, ok := c.Campaign.Parameters[u.Param]
				if !ok {
					c.Errorf(c.Path("until", "param"), "parameter %q is not declared", u.Param)
				} else if p.Type != campaign.TypeTimestamp && p.Type != campaign.TypeDate {
					c.Errorf(c.Path("until", "param"), "parameter %q must be a timestamp or date to wait until it", u.Param)
				}
			} else if _, err := untilTime(c.Campaign, u.Time); err != nil {
				c.Errorf(c.Path("until"), "%v", err)
			}
		}
	},
	Output: activity.SameInput[WaitConfig]("out"),
	Lower: func(l activity.Lowerer, x *WaitConfig) error {
		w := &asl.State{Type: "Wait", Next: l.Name("done")}
		switch {
		case x.Duration != "":
			d, err := campaign.ParseDuration(x.Duration)
			if err != nil {
				return err
			}
			w.Seconds = asl.Int(int(d / time.Second))
		case x.Until.Param != "":
			// StartRun normalizes timestamp parameters to RFC 3339 UTC.
			w.TimestampPath = l.RunPath() + ".params." + x.Until.Param
		default:
			t, err := untilTime(l.Campaign(), x.Until.Time)
			if err != nil {
				return err
			}
			w.Timestamp = t.UTC().Format(time.RFC3339)
		}
		l.Add(l.Name(""), w)
		l.Add(l.Name("done"), pass(l, map[string]activity.PortPaths{"out": l.InputPaths()[0]}))
		return nil
	},
})

func untilTime(c *campaign.Campaign, s string) (time.Time, error) {
	loc, err := campaign.LoadLocation(c.Timezone)
	if err != nil {
		loc = time.UTC
	}
	t, _, err := campaign.ParseTime(s, loc)
	return t, err
}
