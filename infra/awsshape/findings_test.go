package awsshape_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
)

// A finding is a statement of a role (after the SAM transform) that allows
// a wildcard action, or an action on Resource "*".
type finding struct {
	Role, Policy, Action, Resource string
}

func (f finding) String() string {
	return fmt.Sprintf("%s: %s allows %s on %s", f.Role, f.Policy, f.Action, f.Resource)
}

// accepted are the findings reviewed and kept, by policy and action (for
// every role that carries the policy). Each says why. Anything else fails
// TestIAMFindings.
var accepted = map[[2]string]string{
	// SAM attaches AWSLambdaBasicExecutionRole to every function role. Its
	// log actions take Resource "*" in AWS's own document; the functions
	// write to FunctionLogs (LoggingConfig.LogGroup) only. Replacing it by a
	// policy scoped to that log group is worth its own change.
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "logs:CreateLogGroup"}:  "SAM's default, AWS managed",
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "logs:CreateLogStream"}: "SAM's default, AWS managed",
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole", "logs:PutLogEvents"}:    "SAM's default, AWS managed",
	// SAM attaches AWSLambdaSQSQueueExecutionRole to the Feedback function
	// for its SQS event source. It lets Feedback receive and delete the
	// messages of any queue of the account: a real widening (the queue is
	// FeedbackQueue). Narrowing it means giving Feedback its own role, so
	// it is accepted here and reported to be fixed on its own.
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", "sqs:ReceiveMessage"}:     "SAM's default for SQS events; widening, to fix",
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", "sqs:DeleteMessage"}:      "SAM's default for SQS events; widening, to fix",
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", "sqs:GetQueueAttributes"}: "SAM's default for SQS events; widening, to fix",
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", "logs:CreateLogGroup"}:    "SAM's default, AWS managed",
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", "logs:CreateLogStream"}:   "SAM's default, AWS managed",
	{"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", "logs:PutLogEvents"}:      "SAM's default, AWS managed",
	// states:ListStateMachines has no resource type: only "*" is valid.
	{"ApiPolicy", "states:ListStateMachines"}: "accepts only Resource *",
	// CloudWatch Logs vended delivery for Step Functions: these actions
	// accept only Resource "*" (Step Functions developer guide, "IAM
	// policies for logging to CloudWatch Logs").
	{"StateMachineRole/execution-logs", "logs:CreateLogDelivery"}:        "accepts only Resource *",
	{"StateMachineRole/execution-logs", "logs:GetLogDelivery"}:           "accepts only Resource *",
	{"StateMachineRole/execution-logs", "logs:UpdateLogDelivery"}:        "accepts only Resource *",
	{"StateMachineRole/execution-logs", "logs:DeleteLogDelivery"}:        "accepts only Resource *",
	{"StateMachineRole/execution-logs", "logs:ListLogDeliveries"}:        "accepts only Resource *",
	{"StateMachineRole/execution-logs", "logs:PutResourcePolicy"}:        "accepts only Resource *",
	{"StateMachineRole/execution-logs", "logs:DescribeResourcePolicies"}: "accepts only Resource *",
	{"StateMachineRole/execution-logs", "logs:DescribeLogGroups"}:        "accepts only Resource *",
	// The Api creates state machines with logging on: the caller needs the
	// same vended-delivery actions (same guide).
	{"ApiPolicy", "logs:CreateLogDelivery"}:        "accepts only Resource *",
	{"ApiPolicy", "logs:GetLogDelivery"}:           "accepts only Resource *",
	{"ApiPolicy", "logs:UpdateLogDelivery"}:        "accepts only Resource *",
	{"ApiPolicy", "logs:DeleteLogDelivery"}:        "accepts only Resource *",
	{"ApiPolicy", "logs:ListLogDeliveries"}:        "accepts only Resource *",
	{"ApiPolicy", "logs:PutResourcePolicy"}:        "accepts only Resource *",
	{"ApiPolicy", "logs:DescribeResourcePolicies"}: "accepts only Resource *",
	{"ApiPolicy", "logs:DescribeLogGroups"}:        "accepts only Resource *",
}

// findings lists the findings of every role in the transformed template.
func findings(st *samTemplate) ([]finding, error) {
	var roles []string
	for id, r := range st.Resources {
		if r.Type == "AWS::IAM::Role" {
			roles = append(roles, id)
		}
	}
	sort.Strings(roles)
	var out []finding
	for _, role := range roles {
		ps, err := st.rolePolicies(role)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			for _, s := range p.Statement {
				if s.Effect != "Allow" {
					continue
				}
				star := slices.Contains(s.Resource, "*") || len(s.NotResource) > 0
				for _, a := range s.NotAction {
					out = append(out, finding{role, p.Name, "NotAction " + a, strings.Join(s.Resource, ",")})
				}
				for _, a := range s.Action {
					if strings.Contains(a, "*") || star {
						out = append(out, finding{role, p.Name, a, strings.Join(append(s.Resource, s.NotResource...), ",")})
					}
				}
			}
		}
	}
	return out, nil
}

// TestIAMFindings prints every wildcard action and every action on
// Resource "*" of every role (functions, state machines, schedules) as
// CloudFormation gets them, and fails on any not accepted above.
func TestIAMFindings(t *testing.T) {
	st := loadSAM(t, nil, map[string]string{"Table": "stepwise-shape-table", "Bucket": bucket})
	fs, err := findings(st)
	if err != nil {
		t.Fatal(err)
	}
	used := map[[2]string]bool{}
	for _, f := range fs {
		k := [2]string{f.Policy, f.Action}
		if why, ok := accepted[k]; ok {
			used[k] = true
			t.Logf("accepted (%s): %s", why, f)
			continue
		}
		t.Errorf("finding: %s", f)
	}
	for k := range accepted {
		if !used[k] {
			t.Errorf("accepted %s %s matches no statement any more: remove it", k[0], k[1])
		}
	}
	if len(fs) == 0 {
		t.Error("no finding at all: AWSLambdaBasicExecutionRole alone has three; is the walk broken?")
	}
}

// TestFindingsSeeWildcards: the walk reports a wildcard action and an
// action on "*", and leaves scoped statements alone.
func TestFindingsSeeWildcards(t *testing.T) {
	st := &samTemplate{
		Resources: map[string]struct {
			Type       string
			Properties map[string]any
		}{
			"R": {Type: "AWS::IAM::Role", Properties: map[string]any{"Policies": []any{map[string]any{
				"PolicyName": "p",
				"PolicyDocument": map[string]any{"Statement": []any{
					map[string]any{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
					map[string]any{"Effect": "Allow", "Action": []any{"dynamodb:GetItem"}, "Resource": "*"},
					map[string]any{"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:1:t"},
					map[string]any{"Effect": "Deny", "Action": "*", "Resource": "*"},
				}},
			}}}},
		},
	}
	fs, err := findings(st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.String())
	}
	want := []string{"R: R/p allows s3:* on arn:aws:s3:::b/*", "R: R/p allows dynamodb:GetItem on *"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
