package template_test

import (
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

// s3Access is what a function may do under one key prefix of the bucket.
type s3Access struct {
	prefix           string
	read, write, del bool
}

// dataPrefix is the CatalogDataPrefix the tests deploy with (the default).
const dataPrefix = "data/"

// s3Prefixes are every prefix of the bucket layout (docs/deploy.md), and
// one no code uses.
var s3Prefixes = []string{"campaigns/", "sources/", "uploads/", "runs/", "warehouse/", "audiences/", dataPrefix, "elsewhere/"}

// s3Scope is each function's share of the bucket, from the keys its code
// builds: compile.BundleKey (campaigns/), lambdafn.BlobSources
// (sources/), publish.Uploads and fileroot.UploadsDir (uploads/), saved
// audiences (audiences/: read by read-audience and inAudience, written by
// save-audience), dataset
// refs and datatask.TableSnapshot (runs/), tablelog (warehouse/; reading a
// managed table may migrate its head, a write), catalog tables
// (CatalogDataPrefix). The dataset families run the same datatask task
// code, so their functions share a scope.
func s3Scope(f lambdafn.Fn) []s3Access {
	bundles := s3Access{prefix: "campaigns/", read: true}
	datasets := []s3Access{bundles, {prefix: dataPrefix, read: true}, {prefix: "audiences/", read: true},
		{prefix: "runs/", read: true, write: true, del: true}, {prefix: "warehouse/", read: true, write: true, del: true}}
	switch {
	case f.Family == lambdafn.FamilyRun || f.Family == lambdafn.FamilyTrigger || f.Family == activity.Flow:
		return []s3Access{bundles}
	case f.Family == lambdafn.FamilyFeedback:
		return []s3Access{{prefix: "warehouse/", read: true, write: true, del: true}}
	case f.Family == lambdafn.FamilyAPI:
		return []s3Access{{prefix: "campaigns/", read: true, write: true}, {prefix: "sources/", read: true},
			{prefix: "uploads/", read: true, write: true}, {prefix: "runs/", read: true},
			{prefix: "warehouse/", read: true}, {prefix: dataPrefix, read: true}}
	case f.Name == "LoadFile":
		return append(datasets, s3Access{prefix: "uploads/", read: true})
	case f.Name == "SaveAudience": // audiences/<name>/<run>-<activity>
		datasets[2].write = true
		return datasets
	}
	return datasets
}

// s3Grants says whether access a allows the object action.
func (a s3Access) grants(action string) bool {
	switch action {
	case "s3:GetObject":
		return a.read
	case "s3:PutObject", "s3:AbortMultipartUpload":
		return a.write
	case "s3:DeleteObject":
		return a.del
	}
	return false
}

// targets are the requests function f makes with action on this stack's
// resources.
func targets(t *testing.T, s *stack, f lambdafn.Fn, action string) []request {
	t.Helper()
	arn := func(service, res string) string {
		return "arn:" + partition + ":" + service + ":" + region + ":" + account + ":" + res
	}
	table := s.getAtt(t, "Table", "Arn").(string)
	bucket := s.getAtt(t, "Bucket", "Arn").(string)
	sm := arn("states", "stateMachine:"+stackName+"-winback")
	one := func(res string) []request { return []request{{Action: action, Resource: res}} }
	svc, op, _ := strings.Cut(action, ":")
	switch svc {
	case "dynamodb":
		if op == "Query" {
			return []request{{Action: action, Resource: table}, {Action: action, Resource: table + "/index/gsi1"}}
		}
		return one(table)
	case "s3":
		// s3blob.Store's methods are all linked wherever a store is: the
		// scope (s3Scope, checked both ways by TestS3Scope) says under
		// which prefixes each object action is used.
		var out []request
		for _, a := range s3Scope(f) {
			key := a.prefix + "k/part-0.parquet"
			switch {
			case op == "ListBucket":
				out = append(out, request{Action: action, Resource: bucket, Context: map[string]string{"s3:prefix": a.prefix}})
			case a.grants(action):
				out = append(out, request{Action: action, Resource: bucket + "/" + key})
			}
		}
		if op == "GetObject" {
			// A missing key reads 404 only to who may list the bucket,
			// a check that carries no prefix.
			out = append(out, request{Action: "s3:ListBucket", Resource: bucket})
		}
		if out == nil {
			out = []request{}
		}
		return out
	case "states":
		switch op {
		case "ListStateMachines":
			return one("*")
		case "DescribeExecution", "StopExecution":
			return one(arn("states", "execution:"+stackName+"-winback:run-1"))
		case "CreateStateMachineAlias", "UpdateStateMachineAlias", "DescribeStateMachineAlias", "DeleteStateMachineAlias":
			return one(sm + ":live")
		case "DeleteStateMachineVersion":
			return one(sm + ":3")
		}
		return one(sm)
	case "scheduler":
		return one(arn("scheduler", "schedule/"+stackName+"/"+stackName+"-winback"))
	case "iam":
		var out []request
		for role, service := range map[string]string{"StateMachineRole": "states.amazonaws.com", "SchedulerRole": "scheduler.amazonaws.com"} {
			out = append(out, request{Action: action, Resource: s.getAtt(t, role, "Arn").(string),
				Context: map[string]string{"iam:PassedToService": service}})
		}
		return out
	case "logs":
		return one("*")
	case "sqs":
		return one(s.getAtt(t, "FeedbackQueue", "Arn").(string))
	case "ses":
		return []request{
			{Action: action, Resource: arn("ses", "identity/"+s.params["SenderIdentity"])},
			{Action: action, Resource: arn("ses", "configuration-set/"+s.physical(t, "ConfigurationSet"))},
		}
	case "sms-voice":
		return []request{
			{Action: action, Resource: s.params["SMSOriginationIdentity"]},
			{Action: action, Resource: arn("sms-voice", "configuration-set/"+stackName)},
		}
	case "sns":
		switch {
		case op == "CreatePlatformEndpoint":
			return one(s.params["PushPlatformApplicationArn"])
		case f.Name == "Alert":
			return one(s.ref(t, "AlertTopic").(string))
		case f.Name == "Push":
			return one(arn("sns", "endpoint/GCM/stepwise/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"))
		}
	case "secretsmanager":
		return one(s.ref(t, "UnsubscribeSecret").(string))
	case "glue":
		// A run's table (targeting.glueName) in the configured database;
		// Glue authorizes a table action on the catalog, database and table.
		db := s.params["AthenaGlueDatabase"]
		return []request{{Action: action, Resource: arn("glue", "catalog")}, {Action: action, Resource: arn("glue", "database/"+db)},
			{Action: action, Resource: arn("glue", "table/"+db+"/sw_0123456789abcdef_customers")}}
	case "athena":
		return one(arn("athena", "workgroup/"+s.params["AthenaWorkgroup"]))
	}
	return nil
}
