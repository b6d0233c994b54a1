package awsshape_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/console"
)

// template is template.yaml as YAML nodes (CloudFormation short forms such
// as !Ref keep their tag).
type template struct {
	root      *yaml.Node
	resources map[string]*yaml.Node
}

func loadTemplate(t testing.TB) *template {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	tm := &template{root: doc.Content[0], resources: map[string]*yaml.Node{}}
	res := get(tm.root, "Resources")
	for i := 0; res != nil && i+1 < len(res.Content); i += 2 {
		tm.resources[res.Content[i].Value] = res.Content[i+1]
	}
	return tm
}

// get follows mapping keys from n; nil when absent.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}

// resource is one function resource.
type resource struct{ n *yaml.Node }

func (tm *template) ofType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range tm.resources {
		if scalar(get(r, "Type")) == typ {
			out[id] = resource{r}
		}
	}
	return out
}

func (tm *template) functions() map[string]resource { return tm.ofType("AWS::Serverless::Function") }

// memory is the function's MemorySize, or the Globals default.
func (r resource) memory(tm *template) int {
	v := scalar(get(r.n, "Properties", "MemorySize"))
	if v == "" {
		v = scalar(get(tm.root, "Globals", "Function", "MemorySize"))
	}
	n, _ := strconv.Atoi(v)
	return n
}

// makeTargets parses Makefile.lambda: build target → (kind, functions/ dir).
func makeTargets(t testing.TB) map[string][2]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile.lambda"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^build-(\w+):\s*\n\t\$\(call lambda-(static|pure),([a-z0-9-]+)\)`)
	out := map[string][2]string{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = [2]string{m[2], m[3]}
	}
	if n := strings.Count(string(data), "\nbuild-"); n != len(out) {
		t.Errorf("Makefile.lambda has %d build- targets, %d in the expected form", n, len(out))
	}
	return out
}

func dirNames(t testing.TB, dir, suffix string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(repoRoot(t), dir))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			out[strings.TrimSuffix(e.Name(), suffix)] = true
		}
	}
	return out
}

// TestFunctionsComplete: every function of the registry (activity types
// with a Function, run-level functions, trigger, feedback) has its main,
// its events/ fixture, its template resource and its make target, and
// nothing else has any.
func TestFunctionsComplete(t *testing.T) {
	root := repoRoot(t)
	tm := loadTemplate(t)
	fns := lambdafn.Functions(builtin.Registry())
	folders, events := dirNames(t, "functions", ""), dirNames(t, "events", ".json")
	resources, targets := tm.functions(), makeTargets(t)
	want := map[string]bool{}
	for _, f := range fns {
		want[f.Dir] = true
		if _, err := os.Stat(filepath.Join(root, "functions", f.Dir, "main.go")); err != nil {
			t.Errorf("%s: no functions/%s/main.go", f.Name, f.Dir)
		}
		if !events[f.Dir] {
			t.Errorf("%s: no events/%s.json", f.Name, f.Dir)
		}
		r, ok := resources[f.LogicalID()]
		if !ok {
			t.Errorf("%s: no %s resource in template.yaml", f.Name, f.LogicalID())
		} else {
			if got := scalar(get(r.n, "Metadata", "BuildMethod")); got != "makefile" {
				t.Errorf("%s: Metadata.BuildMethod %q, want makefile", f.LogicalID(), got)
			}
			if got := get(r.n, "Properties", "FunctionName"); got == nil || got.Value != "${AWS::StackName}-"+f.Name {
				t.Errorf("%s: FunctionName must be !Sub ${AWS::StackName}-%s (the router and the trigger rely on the suffix)", f.LogicalID(), f.Name)
			}
		}
		if tg, ok := targets[f.LogicalID()]; !ok {
			t.Errorf("%s: no build-%s target in Makefile.lambda", f.Name, f.LogicalID())
		} else if tg[1] != f.Dir {
			t.Errorf("build-%s builds functions/%s, want functions/%s", f.LogicalID(), tg[1], f.Dir)
		}
	}
	known := map[string]bool{}
	for _, f := range fns {
		known[f.LogicalID()] = true
	}
	for d := range folders {
		if !want[d] {
			t.Errorf("functions/%s is no function of the registry", d)
		}
	}
	for d := range events {
		// events/<dir>.<variant>.json: a further event the function takes
		// (fail-run.execution-failed: the EventBridge rule's).
		if fn, _, _ := strings.Cut(d, "."); !want[fn] {
			t.Errorf("events/%s.json is no function's fixture", d)
		}
	}
	for id := range resources {
		if !known[id] {
			t.Errorf("template.yaml: %s is no function of the registry", id)
		}
	}
	for id := range targets {
		if !known[id] {
			t.Errorf("Makefile.lambda: build-%s is no function of the registry", id)
		}
	}
	if g := scalar(get(tm.root, "Globals", "Function", "Runtime")); g != "provided.al2023" {
		t.Errorf("Globals.Function.Runtime %q, want provided.al2023", g)
	}
}

// TestNoWildcardActions: no IAM statement of the template allows a
// wildcard action (resources may be patterns).
func TestNoWildcardActions(t *testing.T) {
	tm := loadTemplate(t)
	n := 0
	var walk func(path string, node *yaml.Node)
	walk = func(path string, node *yaml.Node) {
		if node.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(node.Content); i += 2 {
				k, v := node.Content[i].Value, node.Content[i+1]
				if k == "Action" || k == "NotAction" {
					acts := []*yaml.Node{v}
					if v.Kind == yaml.SequenceNode {
						acts = v.Content
					}
					for _, a := range acts {
						n++
						if k == "NotAction" || strings.Contains(a.Value, "*") || a.Kind != yaml.ScalarNode {
							t.Errorf("%s: action %q", path, a.Value)
						}
					}
				}
				walk(path+"."+k, v)
			}
		}
		if node.Kind == yaml.SequenceNode {
			for i, c := range node.Content {
				walk(path+"["+strconv.Itoa(i)+"]", c)
			}
		}
	}
	walk("Resources", get(tm.root, "Resources"))
	if n < 20 {
		t.Errorf("found only %d actions; is the walk broken?", n)
	}
	// SAM policy templates and managed policies named by ARN hide their
	// actions; functions attach the template's own policies only.
	for id, r := range tm.functions() {
		for _, p := range seq(get(r.n, "Properties", "Policies")) {
			alts := []*yaml.Node{p}
			if p.Tag == "!If" && len(p.Content) == 3 { // [condition, policy, policy or AWS::NoValue]
				alts = p.Content[1:]
			}
			for _, a := range alts {
				if a.Tag != "!Ref" && get(a, "Statement") == nil {
					t.Errorf("%s: policy %s %s is not one of the template's own", id, a.Tag, a.Value)
				}
			}
		}
	}
}

func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// TestCGOSplit: flow, run-level and trigger functions are built CGO-free and link no cgo package (go list -deps); every function that
// links cgo (DuckDB) is built fully static.
func TestCGOSplit(t *testing.T) {
	root := repoRoot(t)
	targets := makeTargets(t)
	fns := lambdafn.Functions(builtin.Registry())
	var pkgs []string
	for _, f := range fns {
		pkgs = append(pkgs, "./functions/"+f.Dir)
	}
	cmd := exec.Command("go", append([]string{"list", "-tags", lambdalocal.Tags, "-deps",
		"-f", "{{.ImportPath}}|{{.Standard}}|{{len .CgoFiles}}|{{join .Deps \",\"}}"}, pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	cgoPkgs, deps := map[string]bool{}, map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(l, "|", 4)
		if len(f) != 4 {
			continue
		}
		if f[1] == "false" && f[2] != "0" {
			cgoPkgs[f[0]] = true
		}
		deps[f[0]] = strings.Split(f[3], ",")
	}
	for _, f := range fns {
		var cgo []string
		for _, d := range deps[module+"/functions/"+f.Dir] {
			if cgoPkgs[d] {
				cgo = append(cgo, d)
			}
		}
		kind := targets[f.LogicalID()][0]
		mustPure := f.Family == activity.Flow || f.Family == lambdafn.FamilyRun || f.Family == lambdafn.FamilyTrigger
		switch {
		case mustPure && kind != "pure":
			t.Errorf("%s (%s) must be built CGO-free (lambda-pure), not %s", f.Name, f.Family, kind)
		case mustPure && len(cgo) > 0:
			t.Errorf("%s (%s) must stay CGO-free but links %v", f.Name, f.Family, cgo)
		case !mustPure && kind != "static":
			t.Errorf("%s (%s, uses DuckDB) must be built with lambda-static", f.Name, f.Family)
		}
		if !mustPure {
			t.Logf("%-16s %-9s links cgo now: %v", f.Name, f.Family, len(cgo) > 0)
		}
	}
}

// stateMachineProblems lists what is wrong with the state machines a
// template deploys itself. Campaign state machines belong to the API: it
// names them NAME_PREFIX + campaign id and stores each definition's bundle
// under campaigns/<id>/bundles/ when it publishes. A template machine under
// that prefix would be the same machine as a published campaign's (drift:
// CloudFormation and the API updating it in turn), and one whose definition
// names a bundle needs a bundle that no deploy uploads.
func stateMachineProblems(tm *template, root string) []string {
	var out []string
	prefix := get(tm.resources["ApiFunction"], "Properties", "Environment", "Variables", "NAME_PREFIX")
	if prefix == nil || prefix.Value == "" {
		return []string{"ApiFunction has no NAME_PREFIX: the publisher's names are unknown"}
	}
	fnRes := tm.functions()
	for _, typ := range []string{"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"} {
		for id, r := range tm.ofType(typ) {
			name := get(r.n, "Properties", "Name")
			if name == nil {
				name = get(r.n, "Properties", "StateMachineName")
			}
			switch {
			case name == nil:
				out = append(out, id+": no explicit name (it must be told apart from the published campaigns')")
			case strings.HasPrefix(name.Value, prefix.Value):
				out = append(out, fmt.Sprintf("%s: name %q is in the publisher's namespace %q (NAME_PREFIX + campaign id)", id, name.Value, prefix.Value))
			}
			uri := scalar(get(r.n, "Properties", "DefinitionUri"))
			if uri == "" {
				continue
			}
			def, err := os.ReadFile(filepath.Join(root, uri))
			if err != nil {
				out = append(out, fmt.Sprintf("%s: %v", id, err))
				continue
			}
			if regexp.MustCompile(`"plan"\s*:`).Match(def) {
				out = append(out, fmt.Sprintf("%s: %s names a campaign plan, which no deploy uploads (publish the campaign through the API)", id, uri))
			}
			subs := get(r.n, "Properties", "DefinitionSubstitutions")
			for _, fn := range functionsOf(def) {
				v := get(subs, fn+"FunctionArn")
				if v == nil || v.Tag != "!GetAtt" || v.Value != fn+"Function.Arn" {
					out = append(out, fmt.Sprintf("%s: ${%sFunctionArn} must be substituted by !GetAtt %sFunction.Arn", id, fn, fn))
				} else if _, ok := fnRes[fn+"Function"]; !ok {
					out = append(out, fmt.Sprintf("%s: no function resource %sFunction", id, fn))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestTemplateStateMachines: the template deploys no state machine the
// publisher could name, and none that needs a campaign bundle (the example
// campaigns are published through the API: make publish-examples). The
// state machines DeployExamples used to create fail the same check.
func TestTemplateStateMachines(t *testing.T) {
	root := repoRoot(t)
	tm := loadTemplate(t)
	if p := stateMachineProblems(tm, root); len(p) > 0 {
		t.Errorf("template.yaml:\n%s", strings.Join(p, "\n"))
	}
	// The former example section: same name as the published campaign's
	// machine, and a definition whose bundle was never uploaded.
	old := `
Resources:
  ApiFunction:
    Type: AWS::Serverless::Function
    Properties:
      Environment: {Variables: {NAME_PREFIX: !Sub "${AWS::StackName}-"}}
  StartRunFunction:
    Type: AWS::Serverless::Function
  WinbackStateMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Name: !Sub ${AWS::StackName}-winback-q4
      DefinitionUri: statemachines/winback-q4.asl.json
      DefinitionSubstitutions:
        StartRunFunctionArn: !GetAtt StartRunFunction.Arn
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(old), &doc); err != nil {
		t.Fatal(err)
	}
	bad := &template{root: doc.Content[0], resources: map[string]*yaml.Node{}}
	res := get(bad.root, "Resources")
	for i := 0; i+1 < len(res.Content); i += 2 {
		bad.resources[res.Content[i].Value] = res.Content[i+1]
	}
	got := strings.Join(stateMachineProblems(bad, root), "\n")
	for _, want := range []string{"in the publisher's namespace", "names a campaign plan", "${BuildAudienceFunctionArn} must be substituted"} {
		if !strings.Contains(got, want) {
			t.Errorf("the former example section: want a problem %q, got:\n%s", want, got)
		}
	}
}

// TestCfnLint runs cfn-lint (Python, with the SAM translator) on the
// template: no errors (exit bit 2). Skipped when cfn-lint is missing,
// except under CI.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		require(t, "cfn-lint is not on PATH")
	}
	cmd := exec.Command(bin, "--format", "parseable", "template.yaml")
	cmd.Dir = repoRoot(t)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code&2 != 0 || code&1 != 0 {
		t.Fatalf("cfn-lint template.yaml: exit %d\n%s", code, out.String())
	}
	if out.Len() > 0 {
		t.Logf("cfn-lint (exit %d):\n%s", code, out.String())
	}
}

// TestEventsDecode: each events/ fixture is a valid input of its function.
func TestEventsDecode(t *testing.T) {
	root := repoRoot(t)
	for _, f := range lambdafn.Functions(builtin.Registry()) {
		data, err := os.ReadFile(filepath.Join(root, "events", f.Dir+".json"))
		if err != nil {
			continue // reported by TestFunctionsComplete
		}
		strict := func(v any) error {
			d := json.NewDecoder(bytes.NewReader(data))
			d.DisallowUnknownFields()
			return d.Decode(v)
		}
		switch f.Family {
		case lambdafn.FamilyTrigger:
			var ev lambdafn.TriggerEvent
			if err := strict(&ev); err != nil || ev.Campaign == "" {
				t.Errorf("events/%s.json: not a trigger event: %v", f.Dir, err)
			}
		case lambdafn.FamilyFeedback:
			var ev lambdafn.FeedbackBatch
			if err := json.Unmarshal(data, &ev); err != nil || len(ev.Records) == 0 || ev.Records[0].Body == "" {
				t.Errorf("events/%s.json: not an SQS batch: %v", f.Dir, err)
			}
		case lambdafn.FamilyAPI:
			var ev events.APIGatewayV2HTTPRequest
			if err := strict(&ev); err != nil || ev.RawPath == "" || ev.RequestContext.HTTP.Method == "" {
				t.Errorf("events/%s.json: not an HTTP API (2.0) event: %v", f.Dir, err)
			}
		case lambdafn.FamilyRun:
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil || m["campaign"] == nil || m["plan"] == nil {
				t.Errorf("events/%s.json: a run-level input names a campaign and a plan: %v", f.Dir, err)
			}
		default:
			var req activity.Request
			if err := strict(&req); err != nil || req.Activity == "" || req.Run.ID == "" {
				t.Errorf("events/%s.json: not an activity request: %v", f.Dir, err)
			}
		}
	}
}

// TestHttpAPIRoutes: every route of the HTTP API reaches the Api function;
// only unsubscribe and the console's are public.
func TestHttpAPIRoutes(t *testing.T) {
	tm := loadTemplate(t)
	paths := get(tm.resources["HttpApi"], "Properties", "DefinitionBody", "paths")
	if paths == nil || len(paths.Content) == 0 {
		t.Fatal("HttpApi has no paths")
	}
	n := 0
	for i := 0; i+1 < len(paths.Content); i += 2 {
		p, ops := paths.Content[i].Value, paths.Content[i+1]
		for j := 0; j+1 < len(ops.Content); j += 2 {
			method, op := ops.Content[j].Value, ops.Content[j+1]
			n++
			uri := get(op, "x-amazon-apigateway-integration", "uri")
			if uri == nil || uri.Tag != "!GetAtt" || uri.Value != "ApiFunction.Arn" || scalar(get(op, "x-amazon-apigateway-integration", "payloadFormatVersion")) != "2.0" {
				t.Errorf("%s %s does not reach ApiFunction (payload 2.0)", method, p)
			}
			sec := get(op, "security")
			public := sec != nil && sec.Kind == yaml.SequenceNode && len(sec.Content) == 0
			// Unsubscribe and the console's routes (which check the console's
			// sessions; infra/template matches them with console.Paths).
			if public != (strings.HasPrefix(p, "/unsubscribe/") || console.Serves(strings.ReplaceAll(p, "{proxy+}", "a"))) {
				t.Errorf("%s %s: public %v", method, p, public)
			}
		}
	}
	if n < 3 {
		t.Errorf("%d operations", n)
	}
}

// fnSettings is what template.yaml gives one function.
type fnSettings struct {
	Memory, TmpMB int // MB
	Timeout       time.Duration
	Env           map[string]string
}

// secretRef is a dynamic reference to a Secrets Manager string (subVar, in
// policy_test.go, is a !Sub variable).
var secretRef = regexp.MustCompile(`^\{\{resolve:secretsmanager:([^:}]+):SecretString\}\}$`)

// settings reads the MemorySize, Timeout, EphemeralStorage Size and
// Environment Variables of function resource id, its own over the Globals.
// !Ref, !GetAtt and ${} of !Sub resolve through refs (resources, pseudo
// parameters, attributes as X.Y), then to a parameter's Default; a
// Secrets Manager dynamic reference resolves through secrets.
func (tm *template) settings(id string, refs, secrets map[string]string) (fnSettings, error) {
	r, ok := tm.functions()[id]
	if !ok {
		return fnSettings{}, fmt.Errorf("template.yaml: no function %s", id)
	}
	prop := func(keys ...string) *yaml.Node {
		if n := get(r.n, append([]string{"Properties"}, keys...)...); n != nil {
			return n
		}
		return get(tm.root, append([]string{"Globals", "Function"}, keys...)...)
	}
	s := fnSettings{Memory: r.memory(tm), TmpMB: lambdalocal.DefaultTmpSize >> 20, Env: map[string]string{}}
	if v := scalar(prop("EphemeralStorage", "Size")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("template.yaml: %s EphemeralStorage.Size %q is no number of MB", id, v)
		}
		s.TmpMB = n
	}
	sec, err := strconv.Atoi(scalar(prop("Timeout")))
	if err != nil {
		return s, fmt.Errorf("template.yaml: %s Timeout %q is no number of seconds", id, scalar(prop("Timeout")))
	}
	s.Timeout = time.Duration(sec) * time.Second
	lookup := func(name string) (string, error) {
		if v, ok := refs[name]; ok {
			return v, nil
		}
		if p := get(tm.root, "Parameters", name); p != nil {
			if d := get(p, "Default"); d != nil {
				return d.Value, nil
			}
		}
		return "", fmt.Errorf("%s is neither a parameter with a default nor given by the test", name)
	}
	for _, vars := range []*yaml.Node{get(tm.root, "Globals", "Function", "Environment", "Variables"), get(r.n, "Properties", "Environment", "Variables")} {
		for i := 0; vars != nil && i+1 < len(vars.Content); i += 2 {
			name, n := vars.Content[i].Value, vars.Content[i+1]
			var v string
			var err error
			switch n.Tag {
			case "!Ref", "!GetAtt":
				v, err = lookup(n.Value)
			case "!Sub":
				v = subVar.ReplaceAllStringFunc(n.Value, func(m string) string {
					got, lerr := lookup(m[2 : len(m)-1])
					if err == nil {
						err = lerr
					}
					return got
				})
			default:
				if n.Kind != yaml.ScalarNode {
					err = fmt.Errorf("a %s value is not resolved here", n.Tag)
				}
				v = n.Value
			}
			if m := secretRef.FindStringSubmatch(v); err == nil && m != nil {
				var ok bool
				if v, ok = secrets[m[1]]; !ok {
					err = fmt.Errorf("secret %s is not given by the test", m[1])
				}
			}
			if err != nil {
				return s, fmt.Errorf("template.yaml: %s Environment.Variables.%s (line %d): %v", id, name, n.Line, err)
			}
			s.Env[name] = v
		}
	}
	return s, nil
}
