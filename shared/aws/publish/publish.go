// Package publish deploys published campaigns on AWS: the compiled ASL becomes a
// version of the campaign's Step Functions state machine behind an alias, and a
// schedule becomes an EventBridge Scheduler schedule that starts executions. It also
// starts and stops executions (api.Executor) and presigns uploads (api.Uploads). AWS
// SDK types stay in this package.
package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/runner"
	swsched "github.com/stepwise-run/stepwise/shared/scheduler"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Defaults.
const (
	DefaultPrefix = "stepwise-"
	DefaultAlias  = "live"
	DefaultGroup  = "default"
	DefaultGrace  = 15 * time.Minute
)

// SFN is the part of the Step Functions API the publisher calls (*sfn.Client).
type SFN interface {
	sfn.ListStateMachinesAPIClient
	CreateStateMachine(context.Context, *sfn.CreateStateMachineInput, ...func(*sfn.Options)) (*sfn.CreateStateMachineOutput, error)
	UpdateStateMachine(context.Context, *sfn.UpdateStateMachineInput, ...func(*sfn.Options)) (*sfn.UpdateStateMachineOutput, error)
	DescribeStateMachine(context.Context, *sfn.DescribeStateMachineInput, ...func(*sfn.Options)) (*sfn.DescribeStateMachineOutput, error)
	DeleteStateMachine(context.Context, *sfn.DeleteStateMachineInput, ...func(*sfn.Options)) (*sfn.DeleteStateMachineOutput, error)
	DeleteStateMachineVersion(context.Context, *sfn.DeleteStateMachineVersionInput, ...func(*sfn.Options)) (*sfn.DeleteStateMachineVersionOutput, error)
	DescribeStateMachineAlias(context.Context, *sfn.DescribeStateMachineAliasInput, ...func(*sfn.Options)) (*sfn.DescribeStateMachineAliasOutput, error)
	CreateStateMachineAlias(context.Context, *sfn.CreateStateMachineAliasInput, ...func(*sfn.Options)) (*sfn.CreateStateMachineAliasOutput, error)
	UpdateStateMachineAlias(context.Context, *sfn.UpdateStateMachineAliasInput, ...func(*sfn.Options)) (*sfn.UpdateStateMachineAliasOutput, error)
	DeleteStateMachineAlias(context.Context, *sfn.DeleteStateMachineAliasInput, ...func(*sfn.Options)) (*sfn.DeleteStateMachineAliasOutput, error)
	StartExecution(context.Context, *sfn.StartExecutionInput, ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	StopExecution(context.Context, *sfn.StopExecutionInput, ...func(*sfn.Options)) (*sfn.StopExecutionOutput, error)
	ListExecutions(context.Context, *sfn.ListExecutionsInput, ...func(*sfn.Options)) (*sfn.ListExecutionsOutput, error)
	DescribeExecution(context.Context, *sfn.DescribeExecutionInput, ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
}

// Scheduler is the part of the EventBridge Scheduler API the publisher calls
// (*scheduler.Client).
type Scheduler interface {
	GetSchedule(context.Context, *scheduler.GetScheduleInput, ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	CreateSchedule(context.Context, *scheduler.CreateScheduleInput, ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error)
	UpdateSchedule(context.Context, *scheduler.UpdateScheduleInput, ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
	DeleteSchedule(context.Context, *scheduler.DeleteScheduleInput, ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error)
}

// Publisher deploys campaigns to Step Functions and EventBridge Scheduler.
type Publisher struct {
	SFN       SFN
	Scheduler Scheduler
	// RoleArn is the state machines' execution role (it invokes the Lambdas).
	RoleArn string
	// SchedulerRoleArn is the role EventBridge Scheduler assumes to call StartExecution.
	SchedulerRoleArn string
	// FunctionArn resolves a task function name (StartRun, BuildAudience, …) to its
	// Lambda ARN, replacing the ${NameFunctionArn} placeholders of compiled ASL.
	FunctionArn func(name string) string
	// Prefix of state machine and schedule names (default "stepwise-"); Alias names the
	// alias that points at the published version (default "live"); Group is the
	// schedule group (default "default").
	Prefix, Alias, Group string
	// Grace is the late-start guard: an invocation EventBridge Scheduler could not
	// deliver within it is dropped, not run late (default 15 m).
	Grace time.Duration
	// Now is the clock schedule windows are read against (default time.Now).
	Now func() time.Time
	// Logging is the state machines' CloudWatch Logs configuration; nil
	// leaves Step Functions' default (no logging).
	Logging *Logging

	mu   sync.Mutex
	arns map[string]string // state machine name → ARN
}

var (
	_ api.Deployer = (*Publisher)(nil)
	_ api.Executor = (*Publisher)(nil)
)

func (p *Publisher) prefix() string { return or(p.Prefix, DefaultPrefix) }
func (p *Publisher) alias() string  { return or(p.Alias, DefaultAlias) }
func (p *Publisher) group() string  { return or(p.Group, DefaultGroup) }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Logging sends a state machine's execution history to a CloudWatch Logs
// group (the template's StateMachineLogs).
type Logging struct {
	// LogGroupArn ends in ":*", as Step Functions requires.
	LogGroupArn string
	// Level is OFF, ERROR, FATAL or ALL (LogLevels).
	Level string
	// ExecutionData also logs states' input and output (customer data).
	ExecutionData bool
}

// LogLevels are the levels Step Functions accepts.
var LogLevels = []string{"OFF", "ERROR", "FATAL", "ALL"}

// Validate says whether Step Functions would accept l.
func (l *Logging) Validate() error {
	if !slices.Contains(LogLevels, l.Level) {
		return fmt.Errorf("log level %q: want one of %s", l.Level, strings.Join(LogLevels, ", "))
	}
	if l.Level != "OFF" && !strings.HasSuffix(l.LogGroupArn, ":*") {
		return fmt.Errorf("log level %s needs a log group ARN ending in \":*\", not %q", l.Level, l.LogGroupArn)
	}
	return nil
}

// configuration is l as the Step Functions API takes it.
func (l *Logging) configuration() *sfntypes.LoggingConfiguration {
	if l == nil {
		return nil
	}
	c := &sfntypes.LoggingConfiguration{Level: sfntypes.LogLevel(l.Level), IncludeExecutionData: l.ExecutionData}
	if l.LogGroupArn != "" {
		c.Destinations = []sfntypes.LogDestination{{CloudWatchLogsLogGroup: &sfntypes.CloudWatchLogsLogGroup{LogGroupArn: aws.String(l.LogGroupArn)}}}
	}
	return c
}

// StateMachineName is the name of a campaign's state machine (test: its draft's).
func (p *Publisher) StateMachineName(campaignID string, test bool) string {
	if test {
		return p.prefix() + campaignID + "-test"
	}
	return p.prefix() + campaignID
}

// ScheduleName is the name of a campaign's schedule.
func (p *Publisher) ScheduleName(campaignID string) string { return p.prefix() + campaignID }

var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]+)FunctionArn\}`)

// definition replaces the function placeholders of compiled ASL with ARNs.
func (p *Publisher) definition(asl []byte) (string, error) {
	if p.FunctionArn == nil {
		return "", errors.New("publish: FunctionArn is not set")
	}
	var missing string
	out := placeholder.ReplaceAllStringFunc(string(asl), func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		arn := p.FunctionArn(name)
		if arn == "" {
			missing = name
		}
		return arn
	})
	if missing != "" {
		return "", fmt.Errorf("publish: no function ARN for %s", missing)
	}
	return out, nil
}

// Deploy implements api.Deployer: create or update the state machine with the version's
// definition, publish a state machine version, point the alias at it, and create,
// update or delete the schedule. All or nothing: the schedule is checked before any
// change, and a failed step undoes the earlier ones (see rollback).
func (p *Publisher) Deploy(ctx context.Context, d api.Deployment) (api.Deployed, error) {
	def, err := p.definition(d.ASL)
	if err != nil {
		return api.Deployed{}, err
	}
	var sched *scheduleSpec
	if d.Schedule != nil {
		if sched, err = p.scheduleSpec(*d.Schedule); err != nil {
			return api.Deployed{}, err
		}
	}
	name := p.StateMachineName(d.CampaignID, false)
	prev, err := p.current(ctx, name)
	if err != nil {
		return api.Deployed{}, err
	}
	desc := fmt.Sprintf("%s version %d", d.CampaignID, d.Version)
	smArn, versionArn, err := p.upsert(ctx, name, prev.smArn, def, true, desc)
	if err != nil {
		return api.Deployed{}, err
	}
	done := deployed{name: name, smArn: smArn}
	if def != prev.definition || p.RoleArn != prev.roleArn {
		// Otherwise the revision is unchanged, and Step Functions may have answered
		// with a version published before (the live one): never delete that.
		done.versionArn = versionArn
	}
	routing := []sfntypes.RoutingConfigurationListItem{{StateMachineVersionArn: aws.String(versionArn), Weight: 100}}
	aliasArn := smArn + ":" + p.alias()
	if prev.routing != nil {
		_, err = p.SFN.UpdateStateMachineAlias(ctx, &sfn.UpdateStateMachineAliasInput{StateMachineAliasArn: aws.String(aliasArn),
			RoutingConfiguration: routing, Description: aws.String(desc)})
		if err != nil {
			return api.Deployed{}, p.rollback(ctx, prev, done, fmt.Errorf("publish: update alias %s: %w", aliasArn, err))
		}
	} else {
		out, err := p.SFN.CreateStateMachineAlias(ctx, &sfn.CreateStateMachineAliasInput{Name: aws.String(p.alias()),
			RoutingConfiguration: routing, Description: aws.String(desc)})
		if err != nil {
			return api.Deployed{}, p.rollback(ctx, prev, done, fmt.Errorf("publish: create alias of %s: %w", name, err))
		}
		aliasArn = aws.ToString(out.StateMachineAliasArn)
		done.aliasArn = aliasArn
	}
	dep := api.Deployed{ASLRef: versionArn}
	if sched == nil {
		err = p.Unschedule(ctx, d.CampaignID)
	} else {
		dep.ScheduleRef, err = p.schedule(ctx, d, sched, aliasArn)
	}
	if err != nil {
		return api.Deployed{}, p.rollback(ctx, prev, done, err)
	}
	return dep, nil
}

// published is a campaign's state machine as found before a deploy.
type published struct {
	smArn               string // "" when there is none
	definition, roleArn string
	// routing is the alias's, nil when there is no alias.
	routing   []sfntypes.RoutingConfigurationListItem
	aliasDesc *string
}

// deployed is what a deploy has changed so far.
type deployed struct {
	name, smArn string
	versionArn  string // set when the deploy published a new revision
	aliasArn    string // set when the deploy created the alias
}

// current reads the campaign's state machine and alias before a deploy changes them.
func (p *Publisher) current(ctx context.Context, name string) (published, error) {
	var prev published
	arn, err := p.stateMachineArn(ctx, name)
	if err != nil || arn == "" {
		return prev, err
	}
	sm, err := p.SFN.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
	var gone *sfntypes.StateMachineDoesNotExist
	if errors.As(err, &gone) { // remembered, then deleted (by another publisher's rollback)
		p.forget(name)
		return prev, nil
	}
	if err != nil {
		return prev, fmt.Errorf("publish: describe state machine %s: %w", name, err)
	}
	prev.smArn, prev.definition, prev.roleArn = arn, aws.ToString(sm.Definition), aws.ToString(sm.RoleArn)
	aliasArn := arn + ":" + p.alias()
	alias, err := p.SFN.DescribeStateMachineAlias(ctx, &sfn.DescribeStateMachineAliasInput{StateMachineAliasArn: aws.String(aliasArn)})
	var nf *sfntypes.ResourceNotFound
	switch {
	case err == nil:
		prev.routing, prev.aliasDesc = alias.RoutingConfiguration, alias.Description
		if prev.routing == nil {
			prev.routing = []sfntypes.RoutingConfigurationListItem{}
		}
	case !errors.As(err, &nf):
		return prev, fmt.Errorf("publish: describe alias %s: %w", aliasArn, err)
	}
	return prev, nil
}

// rollback undoes a failed deploy and returns its cause, joined with any step of the
// undoing that failed: a state machine the deploy created is deleted (with its
// version and alias); otherwise the alias routes back to the previous version (or is
// deleted if the deploy created it), the new version is deleted, and the state
// machine's definition is the previous one again. The schedule step is the last, so
// the schedule is as it was.
func (p *Publisher) rollback(ctx context.Context, prev published, done deployed, cause error) error {
	// The undoing runs even when the failure was the caller giving up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	errs := []error{cause}
	if prev.smArn == "" {
		if _, err := p.SFN.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(done.smArn)}); err != nil {
			errs = append(errs, fmt.Errorf("publish: rollback: delete state machine %s: %w", done.name, err))
		}
		p.forget(done.name)
		return errors.Join(errs...)
	}
	aliasArn := done.smArn + ":" + p.alias()
	switch {
	case prev.routing != nil:
		if _, err := p.SFN.UpdateStateMachineAlias(ctx, &sfn.UpdateStateMachineAliasInput{StateMachineAliasArn: aws.String(aliasArn),
			RoutingConfiguration: prev.routing, Description: prev.aliasDesc}); err != nil {
			errs = append(errs, fmt.Errorf("publish: rollback: route alias %s back: %w", aliasArn, err))
		}
	case done.aliasArn != "":
		if _, err := p.SFN.DeleteStateMachineAlias(ctx, &sfn.DeleteStateMachineAliasInput{StateMachineAliasArn: aws.String(done.aliasArn)}); err != nil {
			errs = append(errs, fmt.Errorf("publish: rollback: delete alias %s: %w", done.aliasArn, err))
		}
	}
	if len(errs) == 1 && done.versionArn != "" { // a version still behind the alias cannot be deleted
		if _, err := p.SFN.DeleteStateMachineVersion(ctx, &sfn.DeleteStateMachineVersionInput{StateMachineVersionArn: aws.String(done.versionArn)}); err != nil {
			errs = append(errs, fmt.Errorf("publish: rollback: delete version %s: %w", done.versionArn, err))
		}
	}
	if _, err := p.SFN.UpdateStateMachine(ctx, &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(done.smArn),
		Definition: aws.String(prev.definition), RoleArn: aws.String(prev.roleArn)}); err != nil {
		errs = append(errs, fmt.Errorf("publish: rollback: restore the definition of %s: %w", done.name, err))
	}
	return errors.Join(errs...)
}

// upsert creates (arn "") or updates a state machine and returns its ARN and, when
// publishing, the new version's ARN.
func (p *Publisher) upsert(ctx context.Context, name, arn, def string, publish bool, desc string) (string, string, error) {
	if arn == "" {
		in := &sfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(p.RoleArn),
			Type: sfntypes.StateMachineTypeStandard, Publish: publish, LoggingConfiguration: p.Logging.configuration()}
		if publish {
			in.VersionDescription = aws.String(desc)
		}
		out, err := p.SFN.CreateStateMachine(ctx, in)
		if err != nil {
			return "", "", fmt.Errorf("publish: create state machine %s: %w", name, err)
		}
		p.remember(name, aws.ToString(out.StateMachineArn))
		return aws.ToString(out.StateMachineArn), aws.ToString(out.StateMachineVersionArn), nil
	}
	in := &sfn.UpdateStateMachineInput{StateMachineArn: aws.String(arn), Definition: aws.String(def), RoleArn: aws.String(p.RoleArn), Publish: publish,
		LoggingConfiguration: p.Logging.configuration()}
	if publish {
		in.VersionDescription = aws.String(desc)
	}
	out, err := p.SFN.UpdateStateMachine(ctx, in)
	if err != nil {
		return "", "", fmt.Errorf("publish: update state machine %s: %w", name, err)
	}
	return arn, aws.ToString(out.StateMachineVersionArn), nil
}

func (p *Publisher) forget(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.arns, name)
}

func (p *Publisher) remember(name, arn string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.arns == nil {
		p.arns = map[string]string{}
	}
	p.arns[name] = arn
}

// stateMachineArn finds a state machine by name ("" when there is none).
func (p *Publisher) stateMachineArn(ctx context.Context, name string) (string, error) {
	p.mu.Lock()
	arn := p.arns[name]
	p.mu.Unlock()
	if arn != "" {
		return arn, nil
	}
	pg := sfn.NewListStateMachinesPaginator(p.SFN, &sfn.ListStateMachinesInput{})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("publish: list state machines: %w", err)
		}
		for _, sm := range out.StateMachines {
			if aws.ToString(sm.Name) == name {
				p.remember(name, aws.ToString(sm.StateMachineArn))
				return aws.ToString(sm.StateMachineArn), nil
			}
		}
	}
	return "", nil
}

// scheduleInput is the execution input of scheduled runs: the scheduled time makes
// the idempotency key, so a redelivered invocation is the same run.
func scheduleInput(version int) string {
	return fmt.Sprintf(`{"version":%d,"idempotencyKey":"schedule/<aws.scheduler.scheduled-time>"}`, version)
}

// scheduleSpec is a schedule as EventBridge Scheduler takes it.
type scheduleSpec struct {
	expr, tz   string
	start, end *time.Time
}

// scheduleSpec checks a schedule against the clock, before any change: one whose
// until (or at) has passed is an error; a start already past is moved to now, as
// EventBridge Scheduler refuses a StartDate more than 5 minutes past.
func (p *Publisher) scheduleSpec(s state.Schedule) (*scheduleSpec, error) {
	expr, err := Expression(s)
	if err != nil {
		return nil, err
	}
	loc, err := campaign.LoadLocation(s.Timezone)
	if err != nil {
		return nil, err
	}
	from, until, err := swsched.Window(s, loc)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	if err := swsched.CheckNotExpired(s, now); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	spec := &scheduleSpec{expr: expr, tz: or(s.Timezone, "UTC")}
	if !from.IsZero() {
		spec.start = &from
		if from.Before(now) {
			spec.start = &now
		}
	}
	if !until.IsZero() {
		spec.end = &until
	}
	return spec, nil
}

func (p *Publisher) schedule(ctx context.Context, d api.Deployment, spec *scheduleSpec, targetArn string) (string, error) {
	grace := p.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	name := p.ScheduleName(d.CampaignID)
	target := &schedtypes.Target{Arn: aws.String(targetArn), RoleArn: aws.String(p.SchedulerRoleArn), Input: aws.String(scheduleInput(d.Version)),
		RetryPolicy: &schedtypes.RetryPolicy{MaximumEventAgeInSeconds: aws.Int32(int32(max(grace, time.Minute).Seconds())), MaximumRetryAttempts: aws.Int32(10)}}
	flex := &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff}
	desc := fmt.Sprintf("stepwise campaign %s version %d", d.CampaignID, d.Version)
	_, err := p.Scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(p.group())})
	var nf *schedtypes.ResourceNotFoundException
	switch {
	case err == nil:
		out, err := p.Scheduler.UpdateSchedule(ctx, &scheduler.UpdateScheduleInput{Name: aws.String(name), GroupName: aws.String(p.group()),
			ScheduleExpression: aws.String(spec.expr), ScheduleExpressionTimezone: aws.String(spec.tz), StartDate: spec.start, EndDate: spec.end,
			FlexibleTimeWindow: flex, Target: target, Description: aws.String(desc), State: schedtypes.ScheduleStateEnabled})
		if err != nil {
			return "", fmt.Errorf("publish: update schedule %s: %w", name, err)
		}
		return aws.ToString(out.ScheduleArn), nil
	case errors.As(err, &nf):
		out, err := p.Scheduler.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String(name), GroupName: aws.String(p.group()),
			ScheduleExpression: aws.String(spec.expr), ScheduleExpressionTimezone: aws.String(spec.tz), StartDate: spec.start, EndDate: spec.end,
			FlexibleTimeWindow: flex, Target: target, Description: aws.String(desc), State: schedtypes.ScheduleStateEnabled})
		if err != nil {
			return "", fmt.Errorf("publish: create schedule %s: %w", name, err)
		}
		return aws.ToString(out.ScheduleArn), nil
	default:
		return "", fmt.Errorf("publish: get schedule %s: %w", name, err)
	}
}

// Unschedule implements api.Deployer: the campaign's schedule is deleted if present.
func (p *Publisher) Unschedule(ctx context.Context, campaignID string) error {
	_, err := p.Scheduler.DeleteSchedule(ctx, &scheduler.DeleteScheduleInput{Name: aws.String(p.ScheduleName(campaignID)), GroupName: aws.String(p.group())})
	var nf *schedtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("publish: delete schedule of %s: %w", campaignID, err)
	}
	return nil
}

// Start implements api.Executor: StartExecution named by the run id, on the version
// the run is pinned to; a test run executes the draft on the campaign's test state
// machine (updated to the draft, never published).
func (p *Publisher) Start(ctx context.Context, run state.Run, v *state.Version, prog *compile.Program) error {
	target := ""
	switch {
	case v != nil:
		target = v.ASLRef
	case prog != nil:
		def, err := p.definition(prog.JSON)
		if err != nil {
			return err
		}
		name := p.StateMachineName(run.CampaignID, true)
		arn, err := p.stateMachineArn(ctx, name)
		if err != nil {
			return err
		}
		if target, _, err = p.upsert(ctx, name, arn, def, false, ""); err != nil {
			return err
		}
	default:
		return fmt.Errorf("publish: nothing to run for %s", run.ID)
	}
	input, _ := json.Marshal(runner.ExecutionInput{Params: run.Params, Test: run.Test, RunID: run.ID, IdempotencyKey: run.IdempotencyKey, Version: run.Version})
	_, err := p.SFN.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(target), Name: aws.String(run.ID), Input: aws.String(string(input))})
	var exists *sfntypes.ExecutionAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("publish: start execution %s: %w", run.ID, err)
	}
	return nil
}

// Stop implements api.Executor: StopExecution of the run's execution (named by the run
// id; a scheduled run's execution is found by the run id in its input).
func (p *Publisher) Stop(ctx context.Context, run state.Run) error {
	smArn, err := p.stateMachineArn(ctx, p.StateMachineName(run.CampaignID, run.Test))
	if err != nil || smArn == "" {
		return err
	}
	cause := or(run.Reason, "stopped")
	execArn := strings.Replace(smArn, ":stateMachine:", ":execution:", 1) + ":" + run.ID
	_, err = p.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(execArn), Cause: aws.String(cause)})
	var nf *sfntypes.ExecutionDoesNotExist
	if err == nil || !errors.As(err, &nf) {
		return err
	}
	out, err := p.SFN.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(smArn), StatusFilter: sfntypes.ExecutionStatusRunning, MaxResults: 100})
	if err != nil {
		return fmt.Errorf("publish: list executions of %s: %w", smArn, err)
	}
	for _, e := range out.Executions {
		d, err := p.SFN.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
		if err != nil {
			continue
		}
		var in runner.ExecutionInput
		if json.Unmarshal([]byte(aws.ToString(d.Input)), &in) == nil && in.RunID == run.ID {
			_, err := p.SFN.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: e.ExecutionArn, Cause: aws.String(cause)})
			return err
		}
	}
	return nil // not running: nothing to stop
}

// Uploads presigns S3 PUT URLs for load-file uploads (api.Uploads).
type Uploads struct {
	Presign *s3.PresignClient
	Bucket  string
	Prefix  string // default "uploads/"
	Expires time.Duration
}

var _ api.Uploads = (*Uploads)(nil)

// NewUpload implements api.Uploads.
func (u *Uploads) NewUpload(ctx context.Context, name string) (api.Upload, error) {
	exp := u.Expires
	if exp <= 0 {
		exp = 15 * time.Minute
	}
	key := or(u.Prefix, "uploads/") + state.NewRunID() + "/" + name
	req, err := u.Presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.Bucket), Key: aws.String(key)}, s3.WithPresignExpires(exp))
	if err != nil {
		return api.Upload{}, fmt.Errorf("publish: presign upload: %w", err)
	}
	at := time.Now().Add(exp).UTC()
	headers := map[string]string{}
	for k, v := range req.SignedHeader {
		if !strings.EqualFold(k, "host") && len(v) > 0 {
			headers[k] = v[0]
		}
	}
	return api.Upload{File: "s3://" + u.Bucket + "/" + key, URL: req.URL, Method: req.Method, Headers: headers, ExpiresAt: &at}, nil
}
