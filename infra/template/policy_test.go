package template_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

var s3ObjectActions = []string{"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}

// TestS3Scope: each function may use exactly its s3Scope of the bucket:
// every object action is allowed under the prefixes its scope grants it
// and denied under every other prefix, and no statement grants object
// actions on the whole bucket.
func TestS3Scope(t *testing.T) {
	s := deployed(t, testParams)
	bucket := s.getAtt(t, "Bucket", "Arn").(string)
	for _, f := range lambdafn.Functions(builtin.Registry()) {
		stmts, _ := s.roleStatements(t, s.functionRole(t, f.LogicalID()))
		scope := map[string]s3Access{}
		for _, a := range s3Scope(f) {
			scope[a.prefix] = a
		}
		for _, p := range s3Prefixes {
			for _, act := range s3ObjectActions {
				r := request{Action: act, Resource: bucket + "/" + p + "x/part-0.parquet"}
				if want := scope[p].grants(act); allowed(stmts, r) != want {
					t.Errorf("%s: %s allowed %v, want %v (s3Scope)", f.Name, r, !want, want)
				}
			}
		}
		for _, st := range stmts {
			for _, res := range st.Resource {
				if res == bucket+"/*" || res == "*" {
					for _, a := range st.Action {
						if strings.HasPrefix(a, "s3:") {
							t.Errorf("%s: %s grants %s on %s", f.Name, st.from, a, res)
						}
					}
				}
			}
		}
	}
}

// TestScopeIsDeployedPrefixes: the data prefix of s3Scope is the
// template's CatalogDataPrefix default, so the scope test probes what a
// default deployment grants.
func TestScopeIsDeployedPrefixes(t *testing.T) {
	s := deployed(t, nil)
	if got := s.params["CatalogDataPrefix"]; got != dataPrefix {
		t.Errorf("CatalogDataPrefix defaults to %q, the tests assume %q", got, dataPrefix)
	}
	// Another data prefix moves the grant.
	s = deployed(t, map[string]string{"CatalogDataPrefix": "lake/"})
	bucket := s.getAtt(t, "Bucket", "Arn").(string)
	stmts, _ := s.roleStatements(t, s.functionRole(t, "BuildAudienceFunction"))
	if !allowed(stmts, request{Action: "s3:GetObject", Resource: bucket + "/lake/customers.parquet"}) ||
		allowed(stmts, request{Action: "s3:GetObject", Resource: bucket + "/data/customers.parquet"}) {
		t.Error("CatalogDataPrefix lake/ does not scope the dataset functions' reads to lake/")
	}
}

// invokedByStateMachines: the functions a compiled campaign's tasks name,
// the activity and run-level ones; not the API, the trigger (a schedule's
// target) or the SES feedback consumer.
func invokedByStateMachines(f lambdafn.Fn) bool {
	switch f.Family {
	case lambdafn.FamilyAPI, lambdafn.FamilyTrigger, lambdafn.FamilyFeedback:
		return false
	}
	return true
}

// TestStateMachineRoleInvokes: the campaigns' role may invoke exactly the
// activity and run-level functions.
func TestStateMachineRoleInvokes(t *testing.T) {
	s := deployed(t, testParams)
	stmts, _ := s.roleStatements(t, "StateMachineRole")
	fnArn := func(name string) string {
		return "arn:" + partition + ":lambda:" + region + ":" + account + ":function:" + stackName + "-" + name
	}
	n := 0
	for _, f := range lambdafn.Functions(builtin.Registry()) {
		want := invokedByStateMachines(f)
		if want {
			n++
		}
		if got := allowed(stmts, request{Action: "lambda:InvokeFunction", Resource: fnArn(f.Name)}); got != want {
			t.Errorf("StateMachineRole may invoke %s: %v, want %v", f.Name, got, want)
		}
	}
	if n < 20 {
		t.Errorf("only %d functions are invoked by state machines: is the registry empty?", n)
	}
	for _, other := range []string{"Other", "Api:live"} {
		if allowed(stmts, request{Action: "lambda:InvokeFunction", Resource: fnArn(other)}) {
			t.Errorf("StateMachineRole may invoke %s", other)
		}
	}
}

// starOnly are the actions that accept only Resource "*", with where AWS
// says so.
var starOnly = map[string]string{
	"states:ListStateMachines":      "Step Functions: ListStateMachines has no resource type",
	"logs:CreateLogDelivery":        "CloudWatch Logs vended-log delivery actions have no resource type (Step Functions logging guide)",
	"logs:GetLogDelivery":           "idem",
	"logs:UpdateLogDelivery":        "idem",
	"logs:DeleteLogDelivery":        "idem",
	"logs:ListLogDeliveries":        "idem",
	"logs:PutResourcePolicy":        "idem",
	"logs:DescribeResourcePolicies": "idem",
	"logs:DescribeLogGroups":        "idem",
}

// TestNoResourceStar: no identity policy of the transformed template
// (roles, managed policies) grants an action that supports resource
// scoping on Resource "*"; AWS managed policies attached are the Lambda
// basic execution (and SQS poller) roles only.
func TestNoResourceStar(t *testing.T) {
	for _, params := range []map[string]string{nil, testParams} {
		s := deployed(t, params)
		var ids []string
		for id := range s.resources {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			r := s.resources[id]
			var stmts []statement
			switch r["Type"] {
			case "AWS::IAM::Role":
				var managed []string
				stmts, managed = s.roleStatements(t, id)
				for _, m := range managed {
					if m != "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole" &&
						m != "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole" {
						t.Errorf("%s: attaches AWS managed policy %s", id, m)
					}
				}
			default:
				continue
			}
			for _, st := range stmts {
				for _, res := range st.Resource {
					if res != "*" {
						continue
					}
					for _, a := range st.Action {
						if _, ok := starOnly[a]; !ok {
							t.Errorf("%s (%s): %s on Resource \"*\"", id, st.from, a)
						}
					}
				}
			}
		}
	}
}

// TestSendersScoped: email may send from the configured identity only,
// and from none when SenderIdentity is empty; push may register tokens
// with the configured application only and publish to its endpoints.
func TestSendersScoped(t *testing.T) {
	arn := func(service, res string) string {
		return "arn:" + partition + ":" + service + ":" + region + ":" + account + ":" + res
	}
	for _, tc := range []struct {
		params map[string]string
		email  map[string]bool // identity → may send
		push   map[string]bool
	}{
		{testParams,
			map[string]bool{"shop.example": true, "other.example": false, "*": false},
			map[string]bool{"CreatePlatformEndpoint " + pushApp: true,
				"CreatePlatformEndpoint " + arn("sns", "app/GCM/other"): false,
				"Publish " + arn("sns", "endpoint/GCM/stepwise/0f1e"):   true,
				"Publish " + arn("sns", "endpoint/GCM/other/0f1e"):      false,
				"Publish " + arn("sns", "stepwise-test-alerts"):         false}},
		{nil,
			map[string]bool{"shop.example": false, "*": false},
			map[string]bool{"CreatePlatformEndpoint " + pushApp: false,
				"Publish " + arn("sns", "endpoint/GCM/stepwise/0f1e"): false}},
	} {
		s := deployed(t, tc.params)
		email, _ := s.roleStatements(t, s.functionRole(t, "EmailFunction"))
		for id, want := range tc.email {
			r := request{Action: "ses:SendEmail", Resource: arn("ses", "identity/"+id)}
			if got := allowed(email, r) && allowed(email, request{Action: "ses:SendEmail", Resource: arn("ses", "configuration-set/"+stackName)}); got != want {
				t.Errorf("SenderIdentity %q: Email %s: %v, want %v", tc.params["SenderIdentity"], r, got, want)
			}
		}
		push, _ := s.roleStatements(t, s.functionRole(t, "PushFunction"))
		for k, want := range tc.push {
			op, res, _ := strings.Cut(k, " ")
			r := request{Action: "sns:" + op, Resource: res}
			if got := allowed(push, r); got != want {
				t.Errorf("PushPlatformApplicationArn %q: Push %s: %v, want %v", tc.params["PushPlatformApplicationArn"], r, got, want)
			}
		}
	}
}

// TestAthenaScoped: without AthenaWorkgroup and AthenaGlueDatabase no
// role may use Athena or Glue and build-audience gets no database; with
// them, the campaigns' role runs queries in that workgroup only, reads that
// database's tables only and writes under the runs' athena/ folders and
// athena-results/ only (and saved audiences' athena/ folders), and only the
// functions with an Athena lowering register tables there.
func TestAthenaScoped(t *testing.T) {
	arn := func(service, res string) string {
		return "arn:" + partition + ":" + service + ":" + region + ":" + account + ":" + res
	}
	wg, otherWg := arn("athena", "workgroup/"+athenaWorkgroup), arn("athena", "workgroup/primary")
	tbl, otherTbl := arn("glue", "table/"+athenaDatabase+"/sw_0f_customers"), arn("glue", "table/other/sw_0f_customers")
	withoutAthena := map[string]string{}
	for k, v := range testParams {
		if !strings.HasPrefix(k, "Athena") {
			withoutAthena[k] = v
		}
	}
	for _, on := range []bool{false, true} {
		params := withoutAthena
		if on {
			params = testParams
		}
		s := deployed(t, params)
		bucket := s.getAtt(t, "Bucket", "Arn").(string)
		sm, _ := s.roleStatements(t, "StateMachineRole")
		ba, _ := s.roleStatements(t, s.functionRole(t, "BuildAudienceFunction"))
		dedup, _ := s.roleStatements(t, s.functionRole(t, "DeduplicationFunction"))
		split, _ := s.roleStatements(t, s.functionRole(t, "SplitFunction"))
		combine, _ := s.roleStatements(t, s.functionRole(t, "CombineFunction"))
		save, _ := s.roleStatements(t, s.functionRole(t, "SaveAudienceFunction"))
		enrich, _ := s.roleStatements(t, s.functionRole(t, "EnrichmentFunction"))
		for _, c := range []struct {
			who   string
			stmts []statement
			r     request
			want  bool
		}{
			{"StateMachineRole", sm, request{Action: "athena:StartQueryExecution", Resource: wg}, on},
			{"StateMachineRole", sm, request{Action: "athena:StopQueryExecution", Resource: wg}, on},
			{"StateMachineRole", sm, request{Action: "athena:StartQueryExecution", Resource: otherWg}, false},
			{"StateMachineRole", sm, request{Action: "glue:GetTable", Resource: tbl}, on},
			{"StateMachineRole", sm, request{Action: "glue:GetPartitions", Resource: tbl}, on},
			{"StateMachineRole", sm, request{Action: "glue:GetTable", Resource: otherTbl}, false},
			{"StateMachineRole", sm, request{Action: "glue:CreateTable", Resource: tbl}, false},
			{"StateMachineRole", sm, request{Action: "s3:GetObject", Resource: bucket + "/runs/r1/snap/customers/part-0.parquet"}, on},
			{"StateMachineRole", sm, request{Action: "s3:GetObject", Resource: bucket + "/" + dataPrefix + "customers.parquet"}, on},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/runs/r1/a/out/athena/part-0.parquet"}, on},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/athena-results/q.csv"}, on},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/runs/r1/a/out/part-0.parquet"}, false},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/" + dataPrefix + "customers.parquet"}, false},
			{"StateMachineRole", sm, request{Action: "s3:DeleteObject", Resource: bucket + "/runs/r1/a/out/athena/part-0.parquet"}, false},
			{"StateMachineRole", sm, request{Action: "s3:GetObject", Resource: bucket + "/audiences/x/r-a/part-0.parquet"}, on},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/audiences/x/r-a/athena/part-0.parquet"}, on},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/audiences/x/r-a/part-0.parquet"}, false},
			{"StateMachineRole", sm, request{Action: "s3:DeleteObject", Resource: bucket + "/audiences/x/r-a/athena/part-0.parquet"}, false},
			{"BuildAudience", ba, request{Action: "glue:CreateTable", Resource: tbl}, on},
			{"BuildAudience", ba, request{Action: "glue:UpdateTable", Resource: tbl}, on},
			{"BuildAudience", ba, request{Action: "glue:CreateTable", Resource: otherTbl}, false},
			{"BuildAudience", ba, request{Action: "glue:DeleteTable", Resource: tbl}, false},
			{"BuildAudience", ba, request{Action: "athena:StartQueryExecution", Resource: wg}, on},
			{"BuildAudience", ba, request{Action: "athena:StartQueryExecution", Resource: otherWg}, false},
			{"Deduplication", dedup, request{Action: "glue:CreateTable", Resource: tbl}, on},
			{"Deduplication", dedup, request{Action: "glue:CreateTable", Resource: otherTbl}, false},
			{"Split", split, request{Action: "glue:UpdateTable", Resource: tbl}, on},
			{"Split", split, request{Action: "athena:StartQueryExecution", Resource: otherWg}, false},
			{"SaveAudience", save, request{Action: "s3:DeleteObject", Resource: bucket + "/audiences/x/r-a/athena/part-0.parquet"}, true},
			{"SaveAudience", save, request{Action: "s3:DeleteObject", Resource: bucket + "/audiences/x/r-a/part-0.parquet"}, false},
			{"Combine", combine, request{Action: "glue:CreateTable", Resource: tbl}, on},
			{"Combine", combine, request{Action: "glue:CreateTable", Resource: otherTbl}, false},
			{"Enrichment", enrich, request{Action: "glue:UpdateTable", Resource: tbl}, on},
			{"Enrichment", enrich, request{Action: "athena:StartQueryExecution", Resource: otherWg}, false},
		} {
			if got := allowed(c.stmts, c.r); got != c.want {
				t.Errorf("Athena parameters set %v: %s %s allowed %v, want %v", on, c.who, c.r, got, c.want)
			}
		}
		// The end of a run removes its Glue tables, never a managed table's
		// Iceberg copy, and creates none.
		managed := arn("glue", "table/"+athenaDatabase+"/sw_managed_customers")
		for _, fn := range []string{"FinishRun", "FailRun"} {
			stmts, _ := s.roleStatements(t, s.functionRole(t, fn+"Function"))
			for _, c := range []struct {
				r    request
				want bool
			}{
				{request{Action: "glue:GetTables", Resource: arn("glue", "database/"+athenaDatabase)}, on},
				{request{Action: "glue:BatchDeleteTable", Resource: tbl}, on},
				{request{Action: "glue:BatchDeleteTable", Resource: managed}, false},
				{request{Action: "glue:BatchDeleteTable", Resource: otherTbl}, false},
				{request{Action: "glue:CreateTable", Resource: tbl}, false},
				{request{Action: "glue:DeleteDatabase", Resource: arn("glue", "database/"+athenaDatabase)}, false},
			} {
				if got := allowed(stmts, c.r); got != c.want {
					t.Errorf("Athena parameters set %v: %s %s allowed %v, want %v", on, fn, c.r, got, c.want)
				}
			}
		}
		for _, fn := range []string{"BuildAudience", "Deduplication", "Split", "ChangeDimension", "IncrementalQuery", "ReadAudience", "Reconciliation", "SaveAudience", "Enrichment", "Combine", "Email", "SMS", "Push"} {
			stmts, _ := s.roleStatements(t, s.functionRole(t, fn+"Function"))
			if got := allowed(stmts, request{Action: "glue:CreateTable", Resource: tbl}); got != on {
				t.Errorf("Athena parameters set %v: %s glue:CreateTable allowed %v", on, fn, got)
			}
			env := s.resources[fn+"Function"]
			got := fmt.Sprint(s.value(t, obj(obj(env["Properties"])["Environment"])["Variables"]))
			if on != strings.Contains(got, athenaDatabase) {
				t.Errorf("Athena parameters set %v: %s environment %s", on, fn, got)
			}
		}
	}
}

// TestDistributedMapScoped: the campaigns' role runs a channel's
// distributed Map (child executions of the stack's state machines) and
// reads the slice lists and writes the Map's results under the runs only.
func TestDistributedMapScoped(t *testing.T) {
	s := deployed(t, testParams)
	bucket := s.getAtt(t, "Bucket", "Arn").(string)
	sm, _ := s.roleStatements(t, "StateMachineRole")
	states := "arn:" + partition + ":states:" + region + ":" + account + ":"
	for _, c := range []struct {
		r    request
		want bool
	}{
		{request{Action: "states:StartExecution", Resource: states + "stateMachine:" + stackName + "-newsletter"}, true},
		{request{Action: "states:StartExecution", Resource: states + "stateMachine:other-newsletter"}, false},
		{request{Action: "states:DescribeExecution", Resource: states + "execution:" + stackName + "-newsletter/sendMail:fanout:0f"}, true},
		{request{Action: "states:StopExecution", Resource: states + "execution:" + stackName + "-newsletter:r1"}, true},
		{request{Action: "states:DescribeExecution", Resource: states + "execution:other-newsletter:r1"}, false},
		{request{Action: "s3:GetObject", Resource: bucket + "/runs/r1/sendMail/_slices.json"}, true},
		{request{Action: "s3:PutObject", Resource: bucket + "/runs/r1/sendMail/_sent/0f/manifest.json"}, true},
		{request{Action: "s3:PutObject", Resource: bucket + "/runs/r1/sendMail/_slices.json"}, false},
		{request{Action: "s3:PutObject", Resource: bucket + "/campaigns/x"}, false},
	} {
		if got := allowed(sm, c.r); got != c.want {
			t.Errorf("StateMachineRole %s: %v, want %v", c.r, got, c.want)
		}
	}
}
