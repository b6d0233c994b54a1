package flow

import (
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// SchedulerConfig is the campaign schedule written as a first activity.
type SchedulerConfig struct {
	campaign.Schedule
}

// AsSchedule returns the schedule the compiler lifts into the campaign.
func (s *SchedulerConfig) AsSchedule() campaign.Schedule { return s.Schedule }

// Scheduler is the scheduler type; the compiler lifts it into the campaign schedule.
var Scheduler = activity.Define(activity.Def[SchedulerConfig]{
	Type: "scheduler", Family: activity.Flow,
	Summary:  "Starts the campaign on a schedule (same as the campaign's schedule).",
	Inputs:   activity.Inputs{Max: -1},
	Describe: describeScheduler,
	Output: func(c *activity.Check, _ *SchedulerConfig, _ []campaign.Schema) map[string]campaign.Schema {
		return map[string]campaign.Schema{"out": {Dimension: c.Dimension}}
	},
	Lower: func(l activity.Lowerer, _ *SchedulerConfig) error {
		// The out port is activated with an empty ref: an event, no population.
		st := &asl.State{Type: "Pass", ResultPath: asl.Path(l.ResultPath()), Next: l.Next(),
			Result: map[string]any{"status": activity.StatusSucceeded, "ports": map[string]any{"out": ""}, "counts": map[string]any{"out": 0}}}
		l.Add(l.Name(""), st)
		return nil
	},
})
