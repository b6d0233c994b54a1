package template_test

import (
	"fmt"
	"strings"
	"testing"
)

// update-data on Athena: its function creates the Iceberg copy of a managed
// table in the stack's Glue database only; the queries' role commits to
// those copies only (sw_managed_*) and writes under the warehouse's
// iceberg/ and athena/ folders only. Nothing without the Athena parameters.
func TestAthenaIcebergScoped(t *testing.T) {
	arn := func(service, res string) string {
		return "arn:" + partition + ":" + service + ":" + region + ":" + account + ":" + res
	}
	managed, runTbl := arn("glue", "table/"+athenaDatabase+"/sw_managed_customers"), arn("glue", "table/"+athenaDatabase+"/sw_0f_customers")
	otherManaged := arn("glue", "table/other/sw_managed_customers")
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
		upd, _ := s.roleStatements(t, s.functionRole(t, "UpdateDataFunction"))
		for _, c := range []struct {
			who   string
			stmts []statement
			r     request
			want  bool
		}{
			{"StateMachineRole", sm, request{Action: "glue:UpdateTable", Resource: managed}, on},
			{"StateMachineRole", sm, request{Action: "glue:UpdateTable", Resource: runTbl}, false},
			{"StateMachineRole", sm, request{Action: "glue:UpdateTable", Resource: otherManaged}, false},
			{"StateMachineRole", sm, request{Action: "glue:DeleteTable", Resource: managed}, false},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/warehouse/customers/iceberg/data/x.parquet"}, on},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/warehouse/customers/v000002-uab/athena/part-0"}, on},
			{"StateMachineRole", sm, request{Action: "s3:GetObject", Resource: bucket + "/warehouse/customers/v000001-uab/part-0.parquet"}, on},
			{"StateMachineRole", sm, request{Action: "s3:PutObject", Resource: bucket + "/warehouse/customers/commits/000002.json"}, false},
			{"StateMachineRole", sm, request{Action: "s3:DeleteObject", Resource: bucket + "/warehouse/customers/iceberg/data/x.parquet"}, false},
			{"UpdateData", upd, request{Action: "glue:CreateTable", Resource: managed}, on},
			{"UpdateData", upd, request{Action: "glue:CreateTable", Resource: otherManaged}, false},
			{"UpdateData", upd, request{Action: "glue:DeleteTable", Resource: managed}, false},
			{"UpdateData", upd, request{Action: "athena:StartQueryExecution", Resource: arn("athena", "workgroup/primary")}, false},
		} {
			if got := allowed(c.stmts, c.r); got != c.want {
				t.Errorf("Athena parameters set %v: %s %s allowed %v, want %v", on, c.who, c.r, got, c.want)
			}
		}
		env := s.resources["UpdateDataFunction"]
		got := fmt.Sprint(s.value(t, obj(obj(env["Properties"])["Environment"])["Variables"]))
		if on != strings.Contains(got, athenaDatabase) {
			t.Errorf("Athena parameters set %v: UpdateData environment %s", on, got)
		}
	}
}
