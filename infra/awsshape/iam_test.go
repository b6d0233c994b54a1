package awsshape_test

import (
	"strings"
	"testing"
)

// TestIAMDenied: with one permission taken from the template's policies,
// the winback example fails, and the harness names the denied action, the
// resource and who lacked it. One case per checking layer: moto (S3 with
// its resource), the gate (a DynamoDB item's action on the table) and the
// Lambda router (the state machine role's lambda:InvokeFunction).
func TestIAMDenied(t *testing.T) {
	cases := []struct {
		name string
		drop map[string][]string
		want string // a denial starts so
	}{
		{"s3 GetObject", map[string][]string{"BuildAudience": {"s3:GetObject"}},
			"stepwise-shape-BuildAudience: s3:GetObject on arn:aws:s3:::" + bucket + "/"},
		{"dynamodb PutItem", map[string][]string{"StartRun": {"dynamodb:PutItem"}},
			"stepwise-shape-StartRun: dynamodb:PutItem on arn:aws:dynamodb:" + region + ":" + account + ":table/"},
		{"lambda InvokeFunction", map[string][]string{"StateMachineRole": {"lambda:InvokeFunction"}},
			"StateMachineRole: lambda:InvokeFunction on " + arnBase + "StartRun denied"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sh, runs, _, _ := prepareExamples(t, shapeOptions{IAM: true, Drop: c.drop}, examples[:1])
			out := sh.runAWS(t, runs)
			if out[0].Error == "" {
				t.Errorf("%s succeeded without %v", runs[0].name, c.drop)
			}
			denied := sh.moto.denials()
			t.Logf("%s: %s: %s; denied:\n%s", runs[0].name, out[0].Error, out[0].Cause, strings.Join(denied, "\n"))
			found := false
			for _, d := range denied {
				found = found || strings.HasPrefix(d, c.want)
			}
			if !found {
				t.Errorf("no denial %q… among:\n%s", c.want, strings.Join(denied, "\n"))
			}
		})
	}
}
