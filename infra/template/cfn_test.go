// Package template_test checks template.yaml as AWS deploys it: the SAM
// transform's CloudFormation (infra/samtransform/transform.py, the aws-sam-translator that
// cfn-lint runs), with parameters and conditions resolved for a concrete
// stack, and the IAM policies of each function evaluated against the
// requests its code makes.
package template_test

import (
	"github.com/stepwise-run/stepwise/shared/testenv"

	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The concrete stack the tests resolve the template for.
const (
	stackName = "stepwise-test"
	region    = "eu-west-1"
	account   = "123456789012"
	partition = "aws"
)

func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// need skips a test whose tool is missing, except under CI.
func need(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("template: %s", why)
	}
	t.Skipf("template: %s", why)
}

var transformed sync.Map // sha256 of the template → transformResult

type transformResult struct {
	doc map[string]any
	err error
}

// transform returns the SAM transform of the template text src.
func transform(t testing.TB, src []byte) (map[string]any, error) {
	t.Helper()
	key := sha256.Sum256(src)
	if r, ok := transformed.Load(key); ok {
		return r.(transformResult).doc, r.(transformResult).err
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		need(t, "python3 is not on PATH")
	}
	if err := exec.Command(py, "-c", "import cfnlint, samtranslator").Run(); err != nil {
		need(t, "python3 cannot import cfnlint and samtranslator (pip install cfn-lint)")
	}
	dir := t.TempDir()
	// The copy sits beside the original so that DefinitionUri and CodeUri
	// paths resolve as they do for the real template.
	path := filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, filepath.Join(repoRoot(t), "infra", "samtransform", "transform.py"), path, region)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	r := transformResult{}
	if err := cmd.Run(); err != nil {
		r.err = fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	} else if err := json.Unmarshal(out.Bytes(), &r.doc); err != nil {
		r.err = err
	}
	transformed.Store(key, r)
	return r.doc, r.err
}

func templateSource(t testing.TB) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// stack is the transformed template resolved for parameter values.
type stack struct {
	doc       map[string]any
	resources map[string]map[string]any
	params    map[string]string
	conds     map[string]bool
}

// deployed returns template.yaml transformed and resolved with the
// parameters' defaults overridden by overrides.
func deployed(t testing.TB, overrides map[string]string) *stack {
	t.Helper()
	return deployedAs(t, stackName, overrides)
}

// deployedAs is deployed for a stack named name.
func deployedAs(t testing.TB, name string, overrides map[string]string) *stack {
	t.Helper()
	doc, err := transform(t, templateSource(t))
	if err != nil {
		t.Fatalf("SAM transform of template.yaml: %v", err)
	}
	return resolve(t, doc, name, overrides)
}

func resolve(t testing.TB, doc map[string]any, name string, overrides map[string]string) *stack {
	t.Helper()
	s := &stack{doc: doc, resources: map[string]map[string]any{}, params: map[string]string{}, conds: map[string]bool{}}
	for id, r := range obj(doc["Resources"]) {
		s.resources[id] = obj(r)
	}
	for name, p := range obj(doc["Parameters"]) {
		if d, ok := obj(p)["Default"]; ok {
			s.params[name] = fmt.Sprint(d)
		}
	}
	for k, v := range overrides {
		if _, ok := obj(doc["Parameters"])[k]; !ok {
			t.Fatalf("template has no parameter %s", k)
		}
		s.params[k] = v
	}
	s.params["AWS::StackName"] = name
	s.params["AWS::Region"] = region
	s.params["AWS::AccountId"] = account
	s.params["AWS::Partition"] = partition
	s.params["AWS::URLSuffix"] = "amazonaws.com"
	for name := range obj(doc["Conditions"]) {
		s.cond(t, name)
	}
	return s
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func (s *stack) cond(t testing.TB, name string) bool {
	t.Helper()
	if v, ok := s.conds[name]; ok {
		return v
	}
	c, ok := obj(s.doc["Conditions"])[name]
	if !ok {
		t.Fatalf("no condition %s", name)
	}
	v := s.condValue(t, c)
	s.conds[name] = v
	return v
}

func (s *stack) condValue(t testing.TB, c any) bool {
	t.Helper()
	m := obj(c)
	for fn, arg := range m {
		args := list(arg)
		switch fn {
		case "Fn::Equals":
			return s.str(t, args[0]) == s.str(t, args[1])
		case "Fn::Not":
			return !s.condValue(t, args[0])
		case "Fn::And":
			for _, a := range args {
				if !s.condValue(t, a) {
					return false
				}
			}
			return true
		case "Fn::Or":
			for _, a := range args {
				if s.condValue(t, a) {
					return true
				}
			}
			return false
		case "Condition":
			return s.cond(t, arg.(string))
		}
	}
	t.Fatalf("condition %v: not understood", c)
	return false
}

// noValue stands for AWS::NoValue.
type noValue struct{}

// value resolves the intrinsic functions in v: parameters, pseudo
// parameters, Fn::If, Fn::Sub, Fn::Join, and Ref/GetAtt of resources as
// the names and ARNs CloudFormation would give them (ref and arn).
func (s *stack) value(t testing.TB, v any) any {
	t.Helper()
	switch x := v.(type) {
	case []any:
		out := []any{}
		for _, e := range x {
			if r := s.value(t, e); r != (noValue{}) {
				out = append(out, r)
			}
		}
		return out
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				switch fn {
				case "Ref":
					return s.ref(t, arg.(string))
				case "Fn::GetAtt":
					parts := list(arg)
					if str, ok := arg.(string); ok {
						parts = []any{strings.SplitN(str, ".", 2)[0], strings.SplitN(str, ".", 2)[1]}
					}
					return s.getAtt(t, parts[0].(string), parts[1].(string))
				case "Fn::If":
					args := list(arg)
					if s.cond(t, args[0].(string)) {
						return s.value(t, args[1])
					}
					return s.value(t, args[2])
				case "Fn::Sub":
					return s.sub(t, arg)
				case "Fn::Split":
					args := list(arg)
					var out []any
					for _, p := range strings.Split(s.str(t, args[1]), args[0].(string)) {
						out = append(out, p)
					}
					return out
				case "Fn::Select":
					args := list(arg)
					l := list(s.value(t, args[1]))
					i, err := strconv.Atoi(fmt.Sprint(args[0]))
					if err != nil || i >= len(l) {
						t.Fatalf("Fn::Select %v of %v: out of range (CloudFormation fails)", args[0], l)
					}
					return l[i]
				case "Fn::Join":
					args := list(arg)
					var parts []string
					for _, p := range list(s.value(t, args[1])) {
						parts = append(parts, fmt.Sprint(p))
					}
					return strings.Join(parts, args[0].(string))
				}
			}
		}
		out := map[string]any{}
		for k, e := range x {
			if r := s.value(t, e); r != (noValue{}) {
				out[k] = r
			}
		}
		return out
	}
	return v
}

func (s *stack) str(t testing.TB, v any) string {
	t.Helper()
	r := s.value(t, v)
	if _, ok := r.(string); !ok {
		t.Fatalf("%v resolves to %v, not a string", v, r)
	}
	return r.(string)
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (s *stack) sub(t testing.TB, arg any) string {
	t.Helper()
	str, vars := "", map[string]any{}
	if l, ok := arg.([]any); ok {
		str, vars = l[0].(string), obj(l[1])
	} else {
		str = arg.(string)
	}
	return subVar.ReplaceAllStringFunc(str, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return s.str(t, v)
		}
		if res, att, ok := strings.Cut(name, "."); ok {
			return fmt.Sprint(s.getAtt(t, res, att))
		}
		return fmt.Sprint(s.ref(t, name))
	})
}

// physical is the name CloudFormation gives a resource: its name property
// when it has one, else a generated one.
func (s *stack) physical(t testing.TB, id string) string {
	t.Helper()
	r, ok := s.resources[id]
	if !ok {
		t.Fatalf("no resource %s", id)
	}
	props := obj(r["Properties"])
	for _, k := range []string{"FunctionName", "TopicName", "QueueName", "LogGroupName", "Name", "RoleName", "BucketName", "TableName"} {
		if v, ok := props[k]; ok {
			return s.str(t, v)
		}
	}
	return s.params["AWS::StackName"] + "-" + id + "-GENERATED"
}

func (s *stack) ref(t testing.TB, name string) any {
	t.Helper()
	if name == "AWS::NoValue" {
		return noValue{}
	}
	if v, ok := s.params[name]; ok {
		return v
	}
	r, ok := s.resources[name]
	if !ok {
		t.Fatalf("Ref %s: no such parameter or resource", name)
	}
	switch r["Type"] {
	case "AWS::SNS::Topic", "AWS::IAM::ManagedPolicy", "AWS::SecretsManager::Secret":
		return s.getAtt(t, name, "Arn")
	case "AWS::SQS::Queue":
		return "https://sqs." + region + ".amazonaws.com/" + account + "/" + s.physical(t, name)
	}
	return s.physical(t, name)
}

func (s *stack) getAtt(t testing.TB, id, att string) any {
	t.Helper()
	r, ok := s.resources[id]
	if !ok {
		t.Fatalf("GetAtt %s.%s: no such resource", id, att)
	}
	name := s.physical(t, id)
	arn := func(service, res string) string {
		return "arn:" + partition + ":" + service + ":" + region + ":" + account + ":" + res
	}
	if att != "Arn" {
		return "{" + id + "." + att + "}"
	}
	switch r["Type"] {
	case "AWS::S3::Bucket":
		return "arn:" + partition + ":s3:::" + name
	case "AWS::DynamoDB::Table":
		return arn("dynamodb", "table/"+name)
	case "AWS::Lambda::Function":
		return arn("lambda", "function:"+name)
	case "AWS::SQS::Queue":
		return arn("sqs", name)
	case "AWS::SNS::Topic":
		return arn("sns", name)
	case "AWS::Logs::LogGroup":
		return arn("logs", "log-group:"+name+":*")
	case "AWS::IAM::Role":
		return "arn:" + partition + ":iam::" + account + ":role/" + name
	case "AWS::IAM::ManagedPolicy":
		return "arn:" + partition + ":iam::" + account + ":policy/" + name
	case "AWS::SecretsManager::Secret":
		return arn("secretsmanager", "secret:"+name+"-AbCdEf")
	case "AWS::StepFunctions::StateMachine":
		return arn("states", "stateMachine:"+name)
	}
	return "{" + id + ".Arn}"
}

// statement is one resolved IAM policy statement.
type statement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  []string
	Condition map[string]map[string][]string
	from      string // policy it belongs to, for messages
}

func (s *stack) statements(t testing.TB, doc any, from string) []statement {
	t.Helper()
	var out []statement
	for _, st := range list(obj(s.value(t, doc))["Statement"]) {
		m := obj(st)
		x := statement{Effect: fmt.Sprint(m["Effect"]), from: from}
		if sid, ok := m["Sid"]; ok {
			x.Sid = fmt.Sprint(sid)
		}
		for _, a := range list(m["Action"]) {
			x.Action = append(x.Action, fmt.Sprint(a))
		}
		for _, r := range list(m["Resource"]) {
			x.Resource = append(x.Resource, fmt.Sprint(r))
		}
		if _, ok := m["NotAction"]; ok {
			t.Fatalf("%s: NotAction", from)
		}
		if _, ok := m["NotResource"]; ok {
			t.Fatalf("%s: NotResource", from)
		}
		if c := obj(m["Condition"]); c != nil {
			x.Condition = map[string]map[string][]string{}
			for op, kv := range c {
				x.Condition[op] = map[string][]string{}
				for k, v := range obj(kv) {
					for _, e := range list(v) {
						x.Condition[op][k] = append(x.Condition[op][k], fmt.Sprint(e))
					}
				}
			}
		}
		out = append(out, x)
	}
	return out
}

// roleStatements gathers the statements of an IAM role: inline policies
// and the template's own managed policies (AWS managed ones are listed in
// managed).
func (s *stack) roleStatements(t testing.TB, roleID string) (stmts []statement, managed []string) {
	t.Helper()
	role := s.resources[roleID]
	if role == nil || role["Type"] != "AWS::IAM::Role" {
		t.Fatalf("%s is not a role", roleID)
	}
	props := obj(role["Properties"])
	for _, p := range list(props["Policies"]) {
		if p = s.pick(t, p); p == (noValue{}) {
			continue
		}
		p := obj(p)
		stmts = append(stmts, s.statements(t, p["PolicyDocument"], roleID+"/"+fmt.Sprint(p["PolicyName"]))...)
	}
	for _, ref := range list(props["ManagedPolicyArns"]) {
		ref = s.pick(t, ref)
		if ref == (noValue{}) {
			continue
		}
		if id, ok := obj(ref)["Ref"].(string); ok && s.resources[id] != nil {
			stmts = append(stmts, s.statements(t, obj(s.resources[id]["Properties"])["PolicyDocument"], id)...)
			continue
		}
		managed = append(managed, fmt.Sprint(s.value(t, ref)))
	}
	for id, r := range s.resources {
		if r["Type"] != "AWS::IAM::Policy" {
			continue
		}
		for _, ro := range list(obj(r["Properties"])["Roles"]) {
			if id2, _ := obj(ro)["Ref"].(string); id2 == roleID {
				stmts = append(stmts, s.statements(t, obj(r["Properties"])["PolicyDocument"], id)...)
			}
		}
	}
	return stmts, managed
}

// pick resolves the Fn::If around v, keeping what it selects unresolved.
func (s *stack) pick(t testing.TB, v any) any {
	t.Helper()
	for {
		args, ok := obj(v)["Fn::If"]
		if !ok || len(obj(v)) != 1 {
			break
		}
		l := list(args)
		if s.cond(t, l[0].(string)) {
			v = l[1]
		} else {
			v = l[2]
		}
	}
	if obj(v)["Ref"] == "AWS::NoValue" {
		return noValue{}
	}
	return v
}

// functionRole is the role logical id of a function.
func (s *stack) functionRole(t testing.TB, fnID string) string {
	t.Helper()
	fn := s.resources[fnID]
	if fn == nil || fn["Type"] != "AWS::Lambda::Function" {
		t.Fatalf("%s is not a function of the transformed template", fnID)
	}
	role := obj(obj(fn["Properties"])["Role"])["Fn::GetAtt"]
	return fmt.Sprint(list(role)[0])
}

// request is one authorization request: an action on a resource with the
// condition keys the request carries.
type request struct {
	Action, Resource string
	Context          map[string]string
}

func (r request) String() string {
	s := r.Action + " on " + r.Resource
	if len(r.Context) > 0 {
		var keys []string
		for k, v := range r.Context {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		s += " (" + strings.Join(keys, ", ") + ")"
	}
	return s
}

// allowed evaluates stmts for r as IAM does for one identity policy set:
// an explicit deny wins, otherwise some allow must match. A condition on a
// key the request does not carry does not match.
func allowed(stmts []statement, r request) bool {
	allow := false
	for _, st := range stmts {
		if !st.matches(r) {
			continue
		}
		if st.Effect == "Deny" {
			return false
		}
		allow = true
	}
	return allow
}

func (st statement) matches(r request) bool {
	ok := false
	for _, a := range st.Action {
		if glob(strings.ToLower(a), strings.ToLower(r.Action)) {
			ok = true
		}
	}
	if !ok {
		return false
	}
	ok = false
	for _, res := range st.Resource {
		if glob(res, r.Resource) {
			ok = true
		}
	}
	if !ok {
		return false
	}
	for op, kv := range st.Condition {
		for k, want := range kv {
			got, has := r.Context[k]
			if !has {
				return false
			}
			hit := false
			for _, w := range want {
				switch op {
				case "StringEquals", "ArnEquals":
					hit = hit || got == w
				case "StringLike", "ArnLike":
					hit = hit || glob(w, got)
				default:
					return false
				}
			}
			if !hit {
				return false
			}
		}
	}
	return true
}

// glob matches IAM patterns: * any run, ? one character.
func glob(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if glob(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && glob(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && glob(pattern[1:], s[1:])
}
