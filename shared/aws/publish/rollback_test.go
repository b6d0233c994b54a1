package publish_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/aws/publish"
	swsched "github.com/stepwise-run/stepwise/shared/scheduler"
	"github.com/stepwise-run/stepwise/shared/state"
)

var errInjected = errors.New("injected fault")

// faultySchedules is the Scheduler API with its writes failing while broken is set
// (and cancelling the caller's context first, when cancel is set).
type faultySchedules struct {
	publish.Scheduler
	broken bool
	cancel context.CancelFunc
	writes int
}

func (f *faultySchedules) fail() error {
	if f.cancel != nil {
		f.cancel()
	}
	return errInjected
}

func (f *faultySchedules) CreateSchedule(ctx context.Context, in *scheduler.CreateScheduleInput, o ...func(*scheduler.Options)) (*scheduler.CreateScheduleOutput, error) {
	f.writes++
	if f.broken {
		return nil, f.fail()
	}
	return f.Scheduler.CreateSchedule(ctx, in, o...)
}

func (f *faultySchedules) UpdateSchedule(ctx context.Context, in *scheduler.UpdateScheduleInput, o ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error) {
	f.writes++
	if f.broken {
		return nil, f.fail()
	}
	return f.Scheduler.UpdateSchedule(ctx, in, o...)
}

func (f *faultySchedules) DeleteSchedule(ctx context.Context, in *scheduler.DeleteScheduleInput, o ...func(*scheduler.Options)) (*scheduler.DeleteScheduleOutput, error) {
	f.writes++
	if f.broken {
		return nil, f.fail()
	}
	return f.Scheduler.DeleteSchedule(ctx, in, o...)
}

// sfnCalls is the Step Functions API, recording the calls that change something.
type sfnCalls struct {
	publish.SFN
	mu    sync.Mutex
	calls []string
}

func (s *sfnCalls) note(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

func (s *sfnCalls) writes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *sfnCalls) CreateStateMachine(ctx context.Context, in *sfn.CreateStateMachineInput, o ...func(*sfn.Options)) (*sfn.CreateStateMachineOutput, error) {
	s.note("CreateStateMachine")
	return s.SFN.CreateStateMachine(ctx, in, o...)
}

func (s *sfnCalls) UpdateStateMachine(ctx context.Context, in *sfn.UpdateStateMachineInput, o ...func(*sfn.Options)) (*sfn.UpdateStateMachineOutput, error) {
	s.note("UpdateStateMachine")
	return s.SFN.UpdateStateMachine(ctx, in, o...)
}

func (s *sfnCalls) CreateStateMachineAlias(ctx context.Context, in *sfn.CreateStateMachineAliasInput, o ...func(*sfn.Options)) (*sfn.CreateStateMachineAliasOutput, error) {
	s.note("CreateStateMachineAlias")
	return s.SFN.CreateStateMachineAlias(ctx, in, o...)
}

func (s *sfnCalls) UpdateStateMachineAlias(ctx context.Context, in *sfn.UpdateStateMachineAliasInput, o ...func(*sfn.Options)) (*sfn.UpdateStateMachineAliasOutput, error) {
	s.note("UpdateStateMachineAlias")
	return s.SFN.UpdateStateMachineAlias(ctx, in, o...)
}

func (s *sfnCalls) DeleteStateMachine(ctx context.Context, in *sfn.DeleteStateMachineInput, o ...func(*sfn.Options)) (*sfn.DeleteStateMachineOutput, error) {
	s.note("DeleteStateMachine")
	return s.SFN.DeleteStateMachine(ctx, in, o...)
}

func (s *sfnCalls) DeleteStateMachineVersion(ctx context.Context, in *sfn.DeleteStateMachineVersionInput, o ...func(*sfn.Options)) (*sfn.DeleteStateMachineVersionOutput, error) {
	s.note("DeleteStateMachineVersion " + aws.ToString(in.StateMachineVersionArn))
	return s.SFN.DeleteStateMachineVersion(ctx, in, o...)
}

// live is what a campaign has on the platform: the alias's version, the $LATEST
// definition, and the schedule's expression and input ("" when absent).
type live struct {
	version, definition, expr, input string
}

func liveOf(t *testing.T, sf *sfn.Client, sc *scheduler.Client, id string) (live, bool) {
	t.Helper()
	ctx := context.Background()
	out, err := sf.ListStateMachines(ctx, &sfn.ListStateMachinesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var l live
	for _, sm := range out.StateMachines {
		if aws.ToString(sm.Name) != "stepwise-"+id {
			continue
		}
		d, err := sf.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: sm.StateMachineArn})
		if err != nil {
			t.Fatal(err)
		}
		l.definition = aws.ToString(d.Definition)
		a, err := sf.DescribeStateMachineAlias(ctx, &sfn.DescribeStateMachineAliasInput{StateMachineAliasArn: aws.String(aws.ToString(sm.StateMachineArn) + ":live")})
		if err == nil {
			l.version = aws.ToString(a.RoutingConfiguration[0].StateMachineVersionArn)
		}
		if s, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-" + id)}); err == nil {
			l.expr, l.input = aws.ToString(s.ScheduleExpression), aws.ToString(s.Target.Input)
		}
		return l, true
	}
	if _, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-" + id)}); err == nil {
		t.Fatalf("%s has a schedule and no state machine", id)
	}
	return l, false
}

// A publish that fails at the schedule step leaves the previous version live and
// nothing new behind; a first publish that fails leaves no state machine.
func TestFailedPublishRollsBackOnMoto(t *testing.T) {
	ctx := context.Background()
	sf, sc, _ := clients(motoServer(t))
	spy := &sfnCalls{SFN: sf}
	sched := &faultySchedules{Scheduler: sc}
	p := newPublisher(sf, sc)
	p.SFN, p.Scheduler = spy, sched
	daily := &state.Schedule{Cron: "0 9 * * *", Timezone: "Europe/Paris"}

	d1, err := p.Deploy(ctx, api.Deployment{CampaignID: "news", Version: 1, ASL: []byte(asl), Schedule: daily})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := liveOf(t, sf, sc, "news")
	if before.version != d1.ASLRef || before.expr != "cron(0 9 * * ? *)" || !strings.Contains(before.input, `"version":1`) {
		t.Fatalf("version 1: %+v", before)
	}

	// Version 2 (another definition, another schedule) fails at the schedule step.
	asl2 := strings.Replace(asl, "EmailFunctionArn", "SmsFunctionArn", 1)
	sched.broken = true
	for i, c := range []struct {
		s      *state.Schedule
		cancel bool
	}{
		{&state.Schedule{Every: "6h", Timezone: "UTC"}, false}, // the schedule update fails
		{nil, false}, // the schedule removal fails
		{&state.Schedule{Every: "6h", Timezone: "UTC"}, true}, // the caller gives up as it fails
	} {
		spy.calls = nil
		dctx, cancel := context.WithCancel(ctx)
		if c.cancel {
			sched.cancel = cancel
		}
		_, err = p.Deploy(dctx, api.Deployment{CampaignID: "news", Version: 2, ASL: []byte(asl2), Schedule: c.s})
		sched.cancel = nil
		cancel()
		if !errors.Is(err, errInjected) {
			t.Fatalf("case %d: want the injected fault, got %v", i, err)
		}
		t.Logf("failed publish: %v", err)
		after, _ := liveOf(t, sf, sc, "news")
		if after != before {
			t.Fatalf("case %d: after a failed publish\n%+v\nwant as before\n%+v", i, after, before)
		}
		// The version this attempt published is deleted (moto 5.2.1 has no
		// DeleteStateMachineVersion, so the call is what can be seen).
		v := fmt.Sprintf("%s:%d", strings.TrimSuffix(d1.ASLRef, ":1"), i+2)
		if w := strings.Join(spy.writes(), "; "); !strings.Contains(w, "DeleteStateMachineVersion "+v) {
			t.Fatalf("case %d: the new version %s was not deleted: %s", i, v, w)
		}
	}

	// The same definition again: Step Functions may answer with the version already
	// live (moto publishes another), which the rollback must not delete.
	spy.calls = nil
	if _, err := p.Deploy(ctx, api.Deployment{CampaignID: "news", Version: 2, ASL: []byte(asl), Schedule: daily}); !errors.Is(err, errInjected) {
		t.Fatalf("want the injected fault, got %v", err)
	}
	if after, _ := liveOf(t, sf, sc, "news"); after != before || strings.Contains(strings.Join(spy.writes(), "; "), "DeleteStateMachineVersion") {
		t.Fatalf("an unchanged definition: %+v after %v", after, spy.writes())
	}

	// A first publish that fails: no state machine, no schedule.
	if _, err := p.Deploy(ctx, api.Deployment{CampaignID: "fresh", Version: 1, ASL: []byte(asl), Schedule: daily}); !errors.Is(err, errInjected) {
		t.Fatalf("want the injected fault, got %v", err)
	}
	if l, ok := liveOf(t, sf, sc, "fresh"); ok {
		t.Fatalf("a failed first publish left %+v", l)
	}

	// Once the platform answers again, both publish.
	sched.broken = false
	if d, err := p.Deploy(ctx, api.Deployment{CampaignID: "fresh", Version: 1, ASL: []byte(asl), Schedule: daily}); err != nil || !strings.HasSuffix(d.ASLRef, "stepwise-fresh:1") {
		t.Fatalf("fresh after the fault: %+v %v", d, err)
	}
	// A state machine deleted behind the publisher's back (by an operator, or another
	// publisher's rollback) is created anew.
	fresh, _ := p.Deploy(ctx, api.Deployment{CampaignID: "fresh", Version: 2, ASL: []byte(asl), Schedule: daily})
	if _, err := sf.DeleteStateMachine(ctx, &sfn.DeleteStateMachineInput{StateMachineArn: aws.String(strings.TrimSuffix(fresh.ASLRef, ":2"))}); err != nil {
		t.Fatal(err)
	}
	if d, err := p.Deploy(ctx, api.Deployment{CampaignID: "fresh", Version: 3, ASL: []byte(asl), Schedule: daily}); err != nil || !strings.HasSuffix(d.ASLRef, "stepwise-fresh:1") {
		t.Fatalf("fresh after its deletion: %+v %v", d, err)
	}
	d2, err := p.Deploy(ctx, api.Deployment{CampaignID: "news", Version: 2, ASL: []byte(asl2), Schedule: &state.Schedule{Every: "6h", Timezone: "UTC"}})
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := liveOf(t, sf, sc, "news"); l.version != d2.ASLRef || l.expr != "rate(6 hours)" || !strings.Contains(l.definition, "stepwise-Sms") {
		t.Fatalf("version 2 after the fault: %+v", l)
	}
}

// A schedule whose window has passed for the publisher's clock is refused before
// anything is changed; a start already past is moved to the clock's now (moto, like
// EventBridge Scheduler, refuses a start more than 5 minutes past). Under the real
// clock and under one ten years ahead, so the date of the run plays no part.
func TestScheduleWindowAgainstTheClockOnMoto(t *testing.T) {
	ctx := context.Background()
	sf, sc, _ := clients(motoServer(t))
	paris, _ := time.LoadLocation("Europe/Paris")
	for i, clock := range []time.Time{time.Now().Truncate(time.Second), time.Now().AddDate(10, 0, 0).Truncate(time.Second)} {
		spy := &sfnCalls{SFN: sf}
		sched := &faultySchedules{Scheduler: sc}
		p := newPublisher(sf, sc)
		p.SFN, p.Scheduler = spy, sched
		p.Now = func() time.Time { return clock }
		id := func(name string) string { return fmt.Sprintf("%s-%d", name, i) }

		for _, s := range []state.Schedule{
			{Cron: "0 9 * * *", From: day(clock, paris, -60), Until: day(clock, paris, -1), Timezone: "Europe/Paris"},
			{Every: "6h", Until: clock.Add(-time.Minute).Format(time.RFC3339)},
			{At: clock.Add(-time.Hour).Format(time.RFC3339)},
		} {
			_, err := p.Deploy(ctx, api.Deployment{CampaignID: id("past"), Version: 1, ASL: []byte(asl), Schedule: &s})
			var expired *swsched.ExpiredError
			if !errors.As(err, &expired) {
				t.Fatalf("clock %v, %+v: want an expired schedule, got %v", clock, s, err)
			}
			if w := spy.writes(); len(w) > 0 || sched.writes > 0 {
				t.Fatalf("clock %v, %+v: refused after changing %v and %d schedules", clock, s, w, sched.writes)
			}
		}
		if _, ok := liveOf(t, sf, sc, id("past")); ok {
			t.Fatalf("clock %v: an expired schedule left a state machine", clock)
		}

		from, until := day(clock, paris, -30), day(clock, paris, 30)
		if _, err := p.Deploy(ctx, api.Deployment{CampaignID: id("window"), Version: 1, ASL: []byte(asl),
			Schedule: &state.Schedule{Cron: "0 9 * * *", From: from, Until: until, Timezone: "Europe/Paris"}}); err != nil {
			t.Fatalf("clock %v: %v", clock, err)
		}
		s, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-" + id("window"))})
		if err != nil {
			t.Fatal(err)
		}
		if !s.StartDate.Equal(clock) || !s.EndDate.Equal(midnight(until, paris).AddDate(0, 0, 1)) {
			t.Fatalf("window %s..%s: start %v end %v, want the clock's now %v", from, until, s.StartDate, s.EndDate, clock)
		}
	}
}
