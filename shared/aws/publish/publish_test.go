package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/aws/publish"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// motoServer starts moto_server for this test (testenv.Moto).
func motoServer(t *testing.T) string { return testenv.Moto(t) }

func clients(url string) (*sfn.Client, *scheduler.Client, *s3.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	return sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(url) }),
		scheduler.NewFromConfig(cfg, func(o *scheduler.Options) { o.BaseEndpoint = aws.String(url) }),
		s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(url); o.UsePathStyle = true })
}

const asl = `{"StartAt":"Start","States":{"Start":{"Type":"Task","Resource":"${StartRunFunctionArn}","Next":"Send"},` +
	`"Send":{"Type":"Task","Resource":"${EmailFunctionArn}","End":true}}}`

func newPublisher(sf *sfn.Client, sc *scheduler.Client) *publish.Publisher {
	return &publish.Publisher{SFN: sf, Scheduler: sc, RoleArn: "arn:aws:iam::123456789012:role/stepwise-sfn",
		SchedulerRoleArn: "arn:aws:iam::123456789012:role/stepwise-scheduler",
		FunctionArn:      func(n string) string { return "arn:aws:lambda:us-east-1:123456789012:function:stepwise-" + n }}
}

// day is the date d days after t in loc, as a campaign writes it.
func day(t time.Time, loc *time.Location, d int) string {
	return t.In(loc).AddDate(0, 0, d).Format("2006-01-02")
}

// midnight is the start of a date in loc.
func midnight(date string, loc *time.Location) time.Time {
	t, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		panic(err)
	}
	return t
}

// Publish, republish, schedule and stop against moto_server, read back with
// DescribeStateMachine, DescribeStateMachineAlias and GetSchedule. The schedule window
// is relative to the clock: moto, like EventBridge Scheduler, refuses a start date
// more than 5 minutes past.
func TestPublishOnMoto(t *testing.T) {
	ctx := context.Background()
	sf, sc, _ := clients(motoServer(t))
	p := newPublisher(sf, sc)
	paris, _ := time.LoadLocation("Europe/Paris")
	now := time.Now()
	from, until := day(now, paris, 10), day(now, paris, 70)

	d1, err := p.Deploy(ctx, api.Deployment{CampaignID: "winback-q4", Version: 1, ASL: []byte(asl),
		Schedule: &state.Schedule{Cron: "0 9 * * 1-5", From: from, Until: until, Timezone: "Europe/Paris"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d1.ASLRef, ":stateMachine:stepwise-winback-q4:1") || d1.ScheduleRef == "" {
		t.Fatalf("deployed: %+v", d1)
	}
	sm, err := sf.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(strings.TrimSuffix(d1.ASLRef, ":1"))})
	if err != nil {
		t.Fatal(err)
	}
	def := aws.ToString(sm.Definition)
	if strings.Contains(def, "${") || !strings.Contains(def, "function:stepwise-Email") || aws.ToString(sm.RoleArn) != p.RoleArn {
		t.Fatalf("definition: %s", def)
	}
	alias, err := sf.DescribeStateMachineAlias(ctx, &sfn.DescribeStateMachineAliasInput{StateMachineAliasArn: aws.String(aws.ToString(sm.StateMachineArn) + ":live")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(alias.RoutingConfiguration[0].StateMachineVersionArn); got != d1.ASLRef {
		t.Fatalf("alias → %s, want %s", got, d1.ASLRef)
	}
	s, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-winback-q4")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(s.ScheduleExpression) != "cron(0 9 ? * MON-FRI *)" || aws.ToString(s.ScheduleExpressionTimezone) != "Europe/Paris" ||
		!s.StartDate.Equal(midnight(from, paris)) || !s.EndDate.Equal(midnight(until, paris).AddDate(0, 0, 1)) {
		t.Fatalf("schedule: %s %s %v %v", aws.ToString(s.ScheduleExpression), aws.ToString(s.ScheduleExpressionTimezone), s.StartDate, s.EndDate)
	}
	if aws.ToString(s.Target.Arn) != aws.ToString(sm.StateMachineArn)+":live" || !strings.Contains(aws.ToString(s.Target.Input), `"version":1`) ||
		!strings.Contains(aws.ToString(s.Target.Input), "<aws.scheduler.scheduled-time>") || aws.ToInt32(s.Target.RetryPolicy.MaximumEventAgeInSeconds) != 900 {
		t.Fatalf("schedule target: %+v", s.Target)
	}

	// Republish (version 2, every 6h): a new version, the alias moves, the schedule changes.
	d2, err := p.Deploy(ctx, api.Deployment{CampaignID: "winback-q4", Version: 2, ASL: []byte(asl), Schedule: &state.Schedule{Every: "6h", Timezone: "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d2.ASLRef, ":2") {
		t.Fatalf("version 2: %s", d2.ASLRef)
	}
	alias, _ = sf.DescribeStateMachineAlias(ctx, &sfn.DescribeStateMachineAliasInput{StateMachineAliasArn: aws.String(aws.ToString(sm.StateMachineArn) + ":live")})
	if got := aws.ToString(alias.RoutingConfiguration[0].StateMachineVersionArn); got != d2.ASLRef {
		t.Fatalf("alias → %s, want %s", got, d2.ASLRef)
	}
	s, _ = sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-winback-q4")})
	if aws.ToString(s.ScheduleExpression) != "rate(6 hours)" || !strings.Contains(aws.ToString(s.Target.Input), `"version":2`) {
		t.Fatalf("schedule after republish: %s %s", aws.ToString(s.ScheduleExpression), aws.ToString(s.Target.Input))
	}

	// Trigger: an execution named by the run id on the pinned version; stop it.
	run := state.Run{ID: state.NewRunID(), CampaignID: "winback-q4", Version: 2, Params: map[string]any{"region": "FR"}, IdempotencyKey: "k1", Status: state.RunRunning}
	// AWS starts executions of a version ARN (runs pinned to it); moto 5.2.1 only of the
	// state machine itself, so the test points the version there.
	v := state.Version{CampaignID: "winback-q4", Number: 2, ASLRef: aws.ToString(sm.StateMachineArn)}
	if err := p.Start(ctx, run, &v, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, run, &v, nil); err != nil {
		t.Fatalf("a second start of the same run is a no-op: %v", err)
	}
	execArn := strings.Replace(aws.ToString(sm.StateMachineArn), ":stateMachine:", ":execution:", 1) + ":" + run.ID
	ex, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execArn)})
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	json.Unmarshal([]byte(aws.ToString(ex.Input)), &in)
	if in["runId"] != run.ID || in["version"].(float64) != 2 || in["idempotencyKey"] != "k1" {
		t.Fatalf("execution input: %s", aws.ToString(ex.Input))
	}
	run.Reason = "campaign stopped"
	if err := p.Stop(ctx, run); err != nil {
		t.Fatal(err)
	}
	ex, _ = sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(execArn)})
	if ex.Status != sfntypes.ExecutionStatusAborted {
		t.Fatalf("after stop: %s", ex.Status)
	}

	// Stop/close/archive remove the schedule.
	if err := p.Unschedule(ctx, "winback-q4"); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-winback-q4")}); err == nil {
		t.Fatal("the schedule is still there")
	}
	if err := p.Unschedule(ctx, "winback-q4"); err != nil {
		t.Fatalf("unscheduling twice: %v", err)
	}
}

func TestExpressions(t *testing.T) {
	for _, c := range []struct {
		s    state.Schedule
		want string
	}{
		{state.Schedule{Cron: "0 9 * * 1-5"}, "cron(0 9 ? * MON-FRI *)"},
		{state.Schedule{Cron: "30 8 1 * *"}, "cron(30 8 1 * ? *)"},
		{state.Schedule{Cron: "0 7 * * 0,6"}, "cron(0 7 ? * SUN,SAT *)"},
		{state.Schedule{Cron: "0 7 * * 7"}, "cron(0 7 ? * SUN *)"},
		{state.Schedule{Cron: "@daily"}, "cron(0 0 * * ? *)"},
		{state.Schedule{Every: "15m"}, "rate(15 minutes)"},
		{state.Schedule{Every: "1d"}, "rate(1 day)"},
		{state.Schedule{Every: "90m"}, "rate(90 minutes)"},
		{state.Schedule{At: "2026-12-01T09:00:00", Timezone: "Europe/Paris"}, "at(2026-12-01T09:00:00)"},
		{state.Schedule{At: "2026-12-01T08:00:00Z", Timezone: "Europe/Paris"}, "at(2026-12-01T09:00:00)"},
	} {
		got, err := publish.Expression(c.s)
		if err != nil || got != c.want {
			t.Errorf("%+v: %q %v, want %q", c.s, got, err, c.want)
		}
	}
	if _, err := publish.Expression(state.Schedule{Cron: "0 9 1 * 1"}); err == nil {
		t.Error("day of month and day of week together cannot be expressed")
	}
}

func TestPresignedUpload(t *testing.T) {
	_, _, s3c := clients("http://127.0.0.1:1")
	u := &publish.Uploads{Presign: s3.NewPresignClient(s3c), Bucket: "stepwise-data"}
	up, err := u.NewUpload(context.Background(), "leads.csv")
	if err != nil {
		t.Fatal(err)
	}
	if up.Method != "PUT" || !strings.HasPrefix(up.File, "s3://stepwise-data/uploads/") || !strings.HasSuffix(up.File, "/leads.csv") ||
		!strings.Contains(up.URL, "X-Amz-Signature=") || up.ExpiresAt == nil {
		t.Fatalf("upload: %+v", up)
	}
}

// Deploy sends the publisher's logging configuration to CreateStateMachine
// and UpdateStateMachine (read back with DescribeStateMachine on moto).
func TestPublishSendsLogging(t *testing.T) {
	ctx := context.Background()
	sf, sc, _ := clients(motoServer(t))
	p := newPublisher(sf, sc)
	const group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vendedlogs/states/stepwise:*"
	for v, l := range []publish.Logging{
		{LogGroupArn: group, Level: "ERROR"},                    // creates the state machine
		{LogGroupArn: group, Level: "ALL", ExecutionData: true}, // updates it
	} {
		p.Logging = &l
		d, err := p.Deploy(ctx, api.Deployment{CampaignID: "winback-q4", Version: v + 1, ASL: []byte(strings.Replace(asl, "Start", fmt.Sprint("Start", v), -1))})
		if err != nil {
			t.Fatal(err)
		}
		sm, err := sf.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(d.ASLRef[:strings.LastIndex(d.ASLRef, ":")])})
		if err != nil {
			t.Fatal(err)
		}
		lc := sm.LoggingConfiguration
		if lc == nil || string(lc.Level) != l.Level || lc.IncludeExecutionData != l.ExecutionData || len(lc.Destinations) != 1 ||
			aws.ToString(lc.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn) != group {
			t.Fatalf("version %d: logging %+v, want %+v", v+1, lc, l)
		}
	}
}

func TestLoggingValidate(t *testing.T) {
	group := "arn:aws:logs:us-east-1:123456789012:log-group:g:*"
	for _, tc := range []struct {
		l    publish.Logging
		want string // "" valid, else part of the error
	}{
		{publish.Logging{LogGroupArn: group, Level: "ERROR"}, ""},
		{publish.Logging{Level: "OFF"}, ""},
		{publish.Logging{LogGroupArn: group, Level: "error"}, `log level "error": want one of OFF, ERROR, FATAL, ALL`},
		{publish.Logging{LogGroupArn: "arn:aws:logs:us-east-1:123456789012:log-group:g", Level: "ALL"}, `ending in ":*"`},
	} {
		err := tc.l.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.l, err, tc.want)
		}
	}
}
