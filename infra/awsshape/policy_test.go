package awsshape_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The effective IAM policies of each function, as CloudFormation would
// attach them: template.yaml through the SAM transform (the translator that
// ships with cfn-lint, infra/samtransform/transform.py), then every
// intrinsic resolved with the test's names.

const (
	account = "123456789012" // moto's default account
	region  = "us-east-1"
	stack   = "stepwise-shape" // arnBase's stack name
)

// statement is one IAM policy statement, Action and Resource normalized to
// lists.
type statement struct {
	Sid         string         `json:"Sid,omitempty"`
	Effect      string         `json:"Effect"`
	Action      []string       `json:"Action,omitempty"`
	NotAction   []string       `json:"NotAction,omitempty"`
	Resource    []string       `json:"Resource,omitempty"`
	NotResource []string       `json:"NotResource,omitempty"`
	Condition   map[string]any `json:"Condition,omitempty"`
}

// policy is one policy document attached to a role, named by where it
// comes from (a managed policy's logical id, an AWS managed policy's ARN,
// Role/PolicyName for inline ones).
type policy struct {
	Name      string
	Statement []statement
}

func (p policy) document() []byte {
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": p.Statement})
	return b
}

// awsManaged are the AWS managed policies SAM attaches, as AWS publishes
// them (the transform names them by ARN only).
var awsManaged = map[string][]statement{
	"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": {{
		Effect: "Allow", Action: []string{"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, Resource: []string{"*"},
	}},
	"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": {
		{Effect: "Allow", Action: []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}, Resource: []string{"*"}},
	},
}

// samTemplate is the transformed template with the test's names.
type samTemplate struct {
	Parameters map[string]struct {
		Default any `json:"Default"`
	}
	Conditions map[string]any
	Resources  map[string]struct {
		Type       string
		Properties map[string]any
	}
	params map[string]string // parameter values: defaults, then overrides
	names  map[string]string // physical names of the table, bucket...
}

var transformed = map[string][]byte{} // by template path, per test binary

// transformFile runs the SAM transform on a template (once per path).
func transformFile(t testing.TB, path string) []byte {
	t.Helper()
	if out, ok := transformed[path]; ok {
		return out
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		require(t, "python3 is not on PATH (the SAM transform needs cfn-lint's Python)")
	}
	cmd := exec.Command(py, filepath.Join(repoRoot(t), "infra", "samtransform", "transform.py"), path, region)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No module named") {
			require(t, "the SAM transform needs cfn-lint (Python): "+strings.TrimSpace(stderr.String()))
		}
		t.Fatalf("infra/samtransform/transform.py %s: %v\n%s", path, err, stderr.String())
	}
	transformed[path] = out
	return out
}

// loadSAM transforms template.yaml; params override parameter defaults,
// names give the physical names of resources (Table, Bucket...).
func loadSAM(t testing.TB, params, names map[string]string) *samTemplate {
	t.Helper()
	return loadSAMFile(t, filepath.Join(repoRoot(t), "template.yaml"), params, names)
}

// loadSAMFile is loadSAM for the template at path.
func loadSAMFile(t testing.TB, path string, params, names map[string]string) *samTemplate {
	t.Helper()
	var st samTemplate
	if err := json.Unmarshal(transformFile(t, path), &st); err != nil {
		t.Fatalf("%s transformed: %v", path, err)
	}
	st.params = map[string]string{}
	for k, p := range st.Parameters {
		if p.Default != nil {
			st.params[k] = fmt.Sprint(p.Default)
		}
	}
	for k, v := range params {
		st.params[k] = v
	}
	st.names = names
	return &st
}

// physical is a resource's name, as its Ref gives it for most types.
func (st *samTemplate) physical(id string) (string, error) {
	if n, ok := st.names[id]; ok {
		return n, nil
	}
	r, ok := st.Resources[id]
	if !ok {
		return "", fmt.Errorf("no resource or parameter %s", id)
	}
	for _, k := range []string{"FunctionName", "TableName", "BucketName", "TopicName", "QueueName", "Name", "RoleName", "LogGroupName"} {
		if v, ok := r.Properties[k]; ok {
			s, err := st.str(v)
			if err != nil {
				return "", fmt.Errorf("%s.%s: %w", id, k, err)
			}
			return s, nil
		}
	}
	return stack + "-" + id, nil
}

// ref resolves {"Ref": name}.
func (st *samTemplate) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return region, nil
	case "AWS::AccountId":
		return account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::StackName":
		return stack, nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	if v, ok := st.params[name]; ok {
		return v, nil
	}
	r, ok := st.Resources[name]
	if !ok {
		return "", fmt.Errorf("Ref %s: no such parameter or resource", name)
	}
	n, err := st.physical(name)
	if err != nil {
		return "", err
	}
	switch r.Type {
	case "AWS::IAM::ManagedPolicy":
		return "arn:aws:iam::" + account + ":policy/" + name, nil
	case "AWS::SNS::Topic":
		return "arn:aws:sns:" + region + ":" + account + ":" + n, nil
	case "AWS::SQS::Queue":
		return "https://sqs." + region + ".amazonaws.com/" + account + "/" + n, nil
	}
	return n, nil
}

// getAtt resolves {"Fn::GetAtt": [id, attr]}.
func (st *samTemplate) getAtt(id, attr string) (string, error) {
	r, ok := st.Resources[id]
	if !ok {
		return "", fmt.Errorf("GetAtt %s.%s: no such resource", id, attr)
	}
	n, err := st.physical(id)
	if err != nil {
		return "", err
	}
	if attr != "Arn" {
		return "", fmt.Errorf("GetAtt %s.%s: only Arn is resolved", id, attr)
	}
	arns := map[string]string{
		"AWS::DynamoDB::Table":             "arn:aws:dynamodb:" + region + ":" + account + ":table/" + n,
		"AWS::S3::Bucket":                  "arn:aws:s3:::" + n,
		"AWS::SQS::Queue":                  "arn:aws:sqs:" + region + ":" + account + ":" + n,
		"AWS::SNS::Topic":                  "arn:aws:sns:" + region + ":" + account + ":" + n,
		"AWS::IAM::Role":                   "arn:aws:iam::" + account + ":role/" + n,
		"AWS::Lambda::Function":            "arn:aws:lambda:" + region + ":" + account + ":function:" + n,
		"AWS::Logs::LogGroup":              "arn:aws:logs:" + region + ":" + account + ":log-group:" + n + ":*",
		"AWS::StepFunctions::StateMachine": "arn:aws:states:" + region + ":" + account + ":stateMachine:" + n,
	}
	a, ok := arns[r.Type]
	if !ok {
		return "", fmt.Errorf("GetAtt %s.Arn: no ARN format for %s", id, r.Type)
	}
	return a, nil
}

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// str resolves an intrinsic (or literal) to a string.
func (st *samTemplate) str(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		if len(x) != 1 {
			break
		}
		for fn, arg := range x {
			switch fn {
			case "Ref":
				return st.ref(fmt.Sprint(arg))
			case "Fn::GetAtt":
				var parts []string
				switch a := arg.(type) {
				case string:
					parts = strings.SplitN(a, ".", 2)
				case []any:
					for _, p := range a {
						parts = append(parts, fmt.Sprint(p))
					}
				}
				if len(parts) != 2 {
					return "", fmt.Errorf("Fn::GetAtt %v: want [resource, attribute]", arg)
				}
				return st.getAtt(parts[0], parts[1])
			case "Fn::Sub":
				return st.sub(arg)
			case "Fn::If":
				r, err := st.ifValue(arg)
				if err != nil {
					return "", err
				}
				return st.str(r)
			case "Fn::Join":
				a, _ := arg.([]any)
				if len(a) != 2 {
					return "", fmt.Errorf("Fn::Join %v: want [separator, list]", arg)
				}
				items, err := st.strs(a[1])
				if err != nil {
					return "", err
				}
				return strings.Join(items, fmt.Sprint(a[0])), nil
			case "Fn::Select":
				a, _ := arg.([]any)
				if len(a) != 2 {
					return "", fmt.Errorf("Fn::Select %v: want [index, list]", arg)
				}
				i, err := strconv.Atoi(fmt.Sprint(a[0]))
				if err != nil {
					return "", fmt.Errorf("Fn::Select %v: index: %w", arg, err)
				}
				items, err := st.strs(a[1])
				if err != nil {
					return "", err
				}
				if i < 0 || i >= len(items) {
					return "", fmt.Errorf("Fn::Select %v: index %d of %d items", arg, i, len(items))
				}
				return items[i], nil
			}
		}
	}
	return "", fmt.Errorf("cannot resolve %v to a string", v)
}

func (st *samTemplate) sub(arg any) (string, error) {
	var s string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		s = a
	case []any:
		if len(a) != 2 {
			return "", fmt.Errorf("Fn::Sub %v: want [string, variables]", arg)
		}
		s, _ = a[0].(string)
		vars, _ = a[1].(map[string]any)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		var r string
		var err error
		switch v, ok := vars[name]; {
		case ok:
			r, err = st.str(v)
		case strings.Contains(name, ".") && !strings.HasPrefix(name, "AWS::"):
			p := strings.SplitN(name, ".", 2)
			r, err = st.getAtt(p[0], p[1])
		default:
			r, err = st.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("Fn::Sub %q: %w", s, err)
		}
		return r
	})
	return strings.ReplaceAll(out, "${!", "${"), firstErr
}

func (st *samTemplate) ifValue(arg any) (any, error) {
	a, _ := arg.([]any)
	if len(a) != 3 {
		return nil, fmt.Errorf("Fn::If %v: want [condition, then, else]", arg)
	}
	ok, err := st.condition(fmt.Sprint(a[0]))
	if err != nil {
		return nil, err
	}
	if ok {
		return a[1], nil
	}
	return a[2], nil
}

func (st *samTemplate) condition(name string) (bool, error) {
	c, ok := st.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	return st.evalCond(c)
}

func (st *samTemplate) evalCond(c any) (bool, error) {
	m, _ := c.(map[string]any)
	for fn, arg := range m {
		a, _ := arg.([]any)
		switch fn {
		case "Condition":
			return st.condition(fmt.Sprint(arg))
		case "Fn::Equals":
			if len(a) != 2 {
				break
			}
			x, err := st.str(a[0])
			if err != nil {
				return false, err
			}
			y, err := st.str(a[1])
			return x == y, err
		case "Fn::Not", "Fn::And", "Fn::Or":
			var vals []bool
			for _, e := range a {
				v, err := st.evalCond(e)
				if err != nil {
					return false, err
				}
				vals = append(vals, v)
			}
			switch {
			case fn == "Fn::Not" && len(vals) == 1:
				return !vals[0], nil
			case fn == "Fn::And":
				for _, v := range vals {
					if !v {
						return false, nil
					}
				}
				return true, nil
			case fn == "Fn::Or":
				for _, v := range vals {
					if v {
						return true, nil
					}
				}
				return false, nil
			}
		}
	}
	return false, fmt.Errorf("cannot evaluate condition %v", c)
}

// strs resolves a string or a list of them (Fn::If branches included;
// AWS::NoValue drops an item).
func (st *samTemplate) strs(v any) ([]string, error) {
	if m, ok := v.(map[string]any); ok {
		if arg, ok := m["Fn::If"]; ok && len(m) == 1 {
			r, err := st.ifValue(arg)
			if err != nil {
				return nil, err
			}
			return st.strs(r)
		}
		if m["Ref"] == "AWS::NoValue" {
			return nil, nil
		}
		if arg, ok := m["Fn::Split"].([]any); ok && len(m) == 1 {
			if len(arg) != 2 {
				return nil, fmt.Errorf("Fn::Split %v: want [separator, string]", arg)
			}
			whole, err := st.str(arg[1])
			if err != nil {
				return nil, err
			}
			return strings.Split(whole, fmt.Sprint(arg[0])), nil
		}
	}
	list, ok := v.([]any)
	if !ok {
		s, err := st.str(v)
		return []string{s}, err
	}
	var out []string
	for _, e := range list {
		s, err := st.strs(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

// document resolves a policy document's statements.
func (st *samTemplate) document(where string, doc any) ([]statement, error) {
	d, _ := doc.(map[string]any)
	raw := d["Statement"]
	if m, ok := raw.(map[string]any); ok {
		raw = []any{m}
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: no Statement list", where)
	}
	var out []statement
	for i, e := range list {
		m, _ := e.(map[string]any)
		s := statement{Effect: fmt.Sprint(m["Effect"])}
		s.Sid, _ = m["Sid"].(string)
		s.Condition, _ = m["Condition"].(map[string]any)
		for k, dst := range map[string]*[]string{"Action": &s.Action, "NotAction": &s.NotAction, "Resource": &s.Resource, "NotResource": &s.NotResource} {
			if v, ok := m[k]; ok {
				r, err := st.strs(v)
				if err != nil {
					return nil, fmt.Errorf("%s.Statement[%d].%s: %w", where, i, k, err)
				}
				*dst = r
			}
		}
		if s.Condition != nil {
			c, err := st.resolveAny(s.Condition)
			if err != nil {
				return nil, fmt.Errorf("%s.Statement[%d].Condition: %w", where, i, err)
			}
			s.Condition = c.(map[string]any)
		}
		out = append(out, s)
	}
	return out, nil
}

// resolveAny resolves every intrinsic inside v.
func (st *samTemplate) resolveAny(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return st.strs(x)
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			r, err := st.resolveAny(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		var out []any
		for _, e := range x {
			r, err := st.resolveAny(e)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	return v, nil
}

// rolePolicies lists the policies a role carries: its managed policies (the
// template's own, resolved; AWS managed ones from awsManaged) and its inline
// policies (SAM policy templates arrive here expanded).
func (st *samTemplate) rolePolicies(roleID string) ([]policy, error) {
	r, ok := st.Resources[roleID]
	if !ok || r.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("no role %s in the transformed template", roleID)
	}
	var out []policy
	arns, err := st.strs(r.Properties["ManagedPolicyArns"])
	if r.Properties["ManagedPolicyArns"] == nil {
		arns, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s.ManagedPolicyArns: %w", roleID, err)
	}
	own := "arn:aws:iam::" + account + ":policy/"
	for _, arn := range arns {
		if id, ok := strings.CutPrefix(arn, own); ok {
			mp, ok := st.Resources[id]
			if !ok || mp.Type != "AWS::IAM::ManagedPolicy" {
				return nil, fmt.Errorf("%s: %s is no managed policy of the template", roleID, id)
			}
			s, err := st.document(id, mp.Properties["PolicyDocument"])
			if err != nil {
				return nil, err
			}
			out = append(out, policy{Name: id, Statement: s})
			continue
		}
		s, ok := awsManaged[arn]
		if !ok {
			return nil, fmt.Errorf("%s: AWS managed policy %s is not known to the harness (add its document to awsManaged)", roleID, arn)
		}
		out = append(out, policy{Name: arn, Statement: s})
	}
	inline, _ := r.Properties["Policies"].([]any)
	for i, p := range inline {
		// A policy under Fn::If (the Athena grants): the branch the
		// parameters select; AWS::NoValue drops it.
		for {
			m, _ := p.(map[string]any)
			arg, ok := m["Fn::If"]
			if !ok || len(m) != 1 {
				break
			}
			var err error
			if p, err = st.ifValue(arg); err != nil {
				return nil, fmt.Errorf("%s/Policies[%d]: %w", roleID, i, err)
			}
		}
		m, _ := p.(map[string]any)
		if m["Ref"] == "AWS::NoValue" {
			continue
		}
		name, _ := m["PolicyName"].(string)
		if name == "" {
			name = fmt.Sprintf("Policies[%d]", i)
		}
		s, err := st.document(roleID+"/"+name, m["PolicyDocument"])
		if err != nil {
			return nil, err
		}
		out = append(out, policy{Name: roleID + "/" + name, Statement: s})
	}
	return out, nil
}

// functionPolicies returns, per function name (StartRun, BuildAudience...),
// the policies of its role.
func (st *samTemplate) functionPolicies() (map[string][]policy, error) {
	out := map[string][]policy{}
	var ids []string
	for id, r := range st.Resources {
		if r.Type == "AWS::Lambda::Function" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var errs []error
	for _, id := range ids {
		role, ok := st.Resources[id].Properties["Role"].(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("%s: Role is not a GetAtt", id))
			continue
		}
		ga, _ := role["Fn::GetAtt"].([]any)
		if len(ga) != 2 {
			errs = append(errs, fmt.Errorf("%s: Role is not a GetAtt", id))
			continue
		}
		ps, err := st.rolePolicies(fmt.Sprint(ga[0]))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[strings.TrimSuffix(id, "Function")] = ps
	}
	return out, errors.Join(errs...)
}

func (st *samTemplate) mustFunctionPolicies(t testing.TB) map[string][]policy {
	t.Helper()
	p, err := st.functionPolicies()
	if err != nil {
		t.Fatalf("template.yaml after the SAM transform: %v", err)
	}
	return p
}

// dropActions returns ps without the given actions (fn's negative test);
// each must have been there.
func dropActions(t testing.TB, fn string, ps []policy, drop []string) []policy {
	t.Helper()
	found := map[string]bool{}
	var out []policy
	for _, p := range ps {
		q := policy{Name: p.Name}
		for _, s := range p.Statement {
			var keep []string
			for _, a := range s.Action {
				if slices.Contains(drop, a) {
					found[a] = true
					continue
				}
				keep = append(keep, a)
			}
			if len(keep) > 0 || len(s.Action) == 0 {
				s.Action = keep
				q.Statement = append(q.Statement, s)
			}
		}
		out = append(out, q)
	}
	for _, a := range drop {
		if !found[a] {
			t.Fatalf("%s has no %s to drop", fn, a)
		}
	}
	return out
}

// TestPoliciesAsSAMMakesThem: testdata/sam-policies.yaml gives a function
// a SAM policy template, an inline statement and a managed policy of its
// own with intrinsics; each reaches the function's effective policies
// resolved, and SAM's basic execution role is there too.
func TestPoliciesAsSAMMakesThem(t *testing.T) {
	st := loadSAMFile(t, filepath.Join(repoRoot(t), "infra", "awsshape", "testdata", "sam-policies.yaml"),
		map[string]string{"Sender": "shop.example"}, map[string]string{"Table": "runs", "Bucket": "data"})
	pols := st.mustFunctionPolicies(t)
	var got []string
	for _, p := range pols["Worker"] {
		for _, s := range p.Statement {
			for _, a := range s.Action {
				for _, r := range s.Resource {
					got = append(got, a+" "+r)
				}
			}
		}
	}
	for _, want := range []string{
		"logs:PutLogEvents *",
		"s3:GetObject arn:aws:s3:::data/runs/*",
		"dynamodb:GetItem arn:aws:dynamodb:us-east-1:123456789012:table/runs",
		"dynamodb:Query arn:aws:dynamodb:us-east-1:123456789012:table/runs/index/*",
		"sns:Publish arn:aws:sns:us-east-1:123456789012:stepwise-shape-alerts",
		"ses:SendEmail arn:aws:ses:us-east-1:123456789012:identity/shop.example",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("Worker lacks %q; has:\n%s", want, strings.Join(got, "\n"))
		}
	}
}
