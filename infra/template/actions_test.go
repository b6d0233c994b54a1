package template_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

const module = "github.com/stepwise-run/stepwise"

// iamPrefix is the IAM service prefix of each AWS SDK service package.
var iamPrefix = map[string]string{
	"s3": "s3", "dynamodb": "dynamodb", "sfn": "states", "scheduler": "scheduler",
	"sesv2": "ses", "sns": "sns", "sqs": "sqs", "pinpointsmsvoicev2": "sms-voice",
	"lambda": "lambda", "secretsmanager": "secretsmanager",
	"glue": "glue", "athena": "athena",
}

// opActions are the IAM actions of SDK operations whose action is not
// named like the operation.
var opActions = map[string][]string{
	"s3:HeadObject":              {"s3:GetObject"},
	"s3:CreateMultipartUpload":   {"s3:PutObject"},
	"s3:UploadPart":              {"s3:PutObject"},
	"s3:CompleteMultipartUpload": {"s3:PutObject"},
	"s3:ListObjectsV2":           {"s3:ListBucket"},
	"s3:DeleteObjects":           {"s3:DeleteObject"},
	"s3:CopyObject":              {"s3:GetObject", "s3:PutObject"},
	"sqs:SendMessageBatch":       {"sqs:SendMessage"},
	"dynamodb:BatchWriteItem":    {"dynamodb:PutItem", "dynamodb:DeleteItem"},
	// TransactWriteItems is authorized per item: see transactItems.
	"dynamodb:TransactWriteItems": nil,
	"dynamodb:TransactGetItems":   {"dynamodb:GetItem"},
}

// transactItems: the item-level action of each TransactWriteItem member.
var transactItems = map[string]string{
	"Put": "dynamodb:PutItem", "Delete": "dynamodb:DeleteItem",
	"Update": "dynamodb:UpdateItem", "ConditionCheck": "dynamodb:ConditionCheckItem",
}

// fieldActions: an input field that makes AWS authorize more actions.
var fieldActions = map[string][]string{
	"states:CreateStateMachine.RoleArn":              {"iam:PassRole"},
	"states:UpdateStateMachine.RoleArn":              {"iam:PassRole"},
	"states:CreateStateMachine.Publish":              {"states:PublishStateMachineVersion"},
	"states:UpdateStateMachine.Publish":              {"states:PublishStateMachineVersion"},
	"scheduler:CreateSchedule.Target":                {"iam:PassRole"},
	"scheduler:UpdateSchedule.Target":                {"iam:PassRole"},
	"states:CreateStateMachine.LoggingConfiguration": logDeliveryActions,
	"states:UpdateStateMachine.LoggingConfiguration": logDeliveryActions,
}

// logDeliveryActions are what AWS requires of whoever configures a state
// machine's CloudWatch Logs destination (they accept only Resource "*").
var logDeliveryActions = []string{"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
	"logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
	"logs:DescribeResourcePolicies", "logs:DescribeLogGroups"}

// notInLambdas are SDK calls of packages the functions link whose
// enclosing Go function no function's code calls (the test proves it by
// looking for callers): package-relative name → why it exists.
var notInLambdas = map[string]string{
	"shared/aws/dynamostate.Store.CreateTable": "tests and local development create the table; the template creates it on AWS",
	"shared/aws/dynamostate.Schema":            "the table schema, used by CreateTable and the tests",
}

// sdkCall is one SDK operation found in the code.
type sdkCall struct {
	action string // IAM action
	where  string // file:line
	in     string // enclosing Go function, package-relative
	typ    string // receiver type of the enclosing method, package-relative; "" for a function
}

// fileFacts is what scanFile learns of one file.
type fileFacts struct {
	calls []sdkCall
	made  map[string]bool   // types it builds with a composite literal
	ctors map[string]string // its constructors: function → type it returns
	uses  map[string]bool   // package-level functions it calls
	src   string
}

// functionActions returns, per function name, the IAM actions its code
// can request: the AWS SDK XxxInput types referenced in the packages of
// its import graph (go list -deps with the Lambda build tags), by
// package-level functions or by methods of types the graph builds (a
// composite literal or a constructor call), less notInLambdas. The
// adapters name the input type of every call they make (a nil input would
// go unseen; TestScanFindsCalls pins the forms recognized).
func functionActions(t *testing.T) map[string][]sdkCall {
	t.Helper()
	root := repoRoot(t)
	fns := lambdafn.Functions(builtin.Registry())
	var pkgs []string
	for _, f := range fns {
		pkgs = append(pkgs, "./functions/"+f.Dir)
	}
	out, err := goList(root, append([]string{"-deps", "-f", "{{.ImportPath}}|{{.Dir}}|{{join .GoFiles \",\"}}|{{join .Deps \",\"}}"}, pkgs...))
	if err != nil {
		t.Fatal(err)
	}
	type pkg struct {
		dir   string
		files []string
		deps  []string
	}
	all := map[string]pkg{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(l, "|", 4)
		if len(f) == 4 && strings.HasPrefix(f[0], module+"/") {
			all[f[0]] = pkg{dir: f[1], files: strings.Split(f[2], ","), deps: strings.Split(f[3], ",")}
		}
	}
	facts := map[string][]fileFacts{} // package → its files
	for path, p := range all {
		for _, name := range p.files {
			if name == "" {
				continue
			}
			file := filepath.Join(p.dir, name)
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ff, err := scanFile(file, src, strings.TrimPrefix(path, module+"/"))
			if err != nil {
				t.Fatal(err)
			}
			facts[path] = append(facts[path], ff)
		}
	}
	res := map[string][]sdkCall{}
	for _, f := range fns {
		main := module + "/functions/" + f.Dir
		graph := append([]string{main}, all[main].deps...)
		made, uses, ctors := map[string]bool{}, map[string]bool{}, map[string]string{}
		for _, dep := range graph {
			for _, ff := range facts[dep] {
				for k := range ff.made {
					made[k] = true
				}
				for k := range ff.uses {
					uses[k] = true
				}
				for k, v := range ff.ctors {
					ctors[k] = v
				}
			}
		}
		for fn, typ := range ctors {
			if uses[fn] {
				made[typ] = true
			}
		}
		for _, dep := range graph {
			for _, ff := range facts[dep] {
				for _, c := range ff.calls {
					if c.typ != "" && !made[c.typ] {
						continue
					}
					if _, skip := notInLambdas[c.in]; skip {
						// No other package of the graph may call it: a
						// function by its qualified name, a method by name.
						if strings.Count(strings.TrimPrefix(c.in, strings.TrimPrefix(dep, module+"/")), ".") == 1 {
							for _, other := range graph {
								for _, off := range facts[other] {
									if other != dep && off.uses[c.in] {
										t.Errorf("%s: %s is listed as not called by the functions, but %s calls it", f.Name, c.in, other)
									}
								}
							}
							continue
						}
						method := c.in[strings.LastIndex(c.in, ".")+1:]
						call := "." + method + "("
						for _, other := range graph {
							for _, off := range facts[other] {
								// Calls of an SDK operation of that name
								// (athenaglue's Glue CreateTable) are not it.
								sdk := 0
								for _, oc := range off.calls {
									if _, op, _ := strings.Cut(oc.action, ":"); op == method {
										sdk++
									}
								}
								if other != dep && strings.Count(off.src, call) > sdk {
									t.Errorf("%s: %s is listed as not called by the functions, but %s may call it", f.Name, c.in, other)
								}
							}
						}
						continue
					}
					res[f.Name] = append(res[f.Name], c)
				}
			}
		}
	}
	for in := range notInLambdas {
		seen := false
		for _, ffs := range facts {
			for _, ff := range ffs {
				for _, c := range ff.calls {
					seen = seen || c.in == in
				}
			}
		}
		if !seen {
			t.Errorf("notInLambdas: %s makes no SDK call any more; remove it", in)
		}
	}
	return res
}

func goList(dir string, args []string) (string, error) {
	cmd := exec.Command("go", append([]string{"list", "-tags", lambdalocal.Tags}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=1")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "", errors.New(string(ee.Stderr))
	}
	return string(out), err
}

// scanFile reads one Go file of package pkg (module-relative): the SDK
// operations it references (svc.XxxInput types of aws-sdk-go-v2/service/svc,
// the fields set in their literals, the members of DynamoDB transactions),
// the module types it builds, its constructors and the module functions
// it calls (method calls through values count as uses of the method).
func scanFile(path string, src []byte, pkg string) (fileFacts, error) {
	ff := fileFacts{made: map[string]bool{}, ctors: map[string]string{}, uses: map[string]bool{}, src: string(src)}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return ff, err
	}
	svcs, dtypes, local := map[string]string{}, "", map[string]string{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := filepath.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		if rest, ok := strings.CutPrefix(p, module+"/"); ok {
			local[name] = rest
		}
		rest, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/")
		if !ok {
			continue
		}
		if rest == "dynamodb/types" {
			dtypes = name
		}
		if _, ok := iamPrefix[rest]; ok {
			svcs[name] = rest
		}
	}
	// qualified names a type or function of the module: pkg.Name.
	qualified := func(e ast.Expr) string {
		switch x := e.(type) {
		case *ast.Ident:
			return pkg + "." + x.Name
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && local[id.Name] != "" {
				return local[id.Name] + "." + x.Sel.Name
			}
		}
		return ""
	}
	for _, d := range f.Decls {
		in, typ := pkg, ""
		if fd, ok := d.(*ast.FuncDecl); ok {
			in = pkg + "." + fd.Name.Name
			if fd.Recv != nil && len(fd.Recv.List) == 1 {
				rt := fd.Recv.List[0].Type
				if s, ok := rt.(*ast.StarExpr); ok {
					rt = s.X
				}
				if id, ok := rt.(*ast.Ident); ok {
					typ = pkg + "." + id.Name
					in = typ + "." + fd.Name.Name
				}
			} else if fd.Type.Results != nil {
				for _, r := range fd.Type.Results.List {
					rt := r.Type
					if s, ok := rt.(*ast.StarExpr); ok {
						rt = s.X
					}
					if id, ok := rt.(*ast.Ident); ok && id.IsExported() {
						ff.ctors[in] = pkg + "." + id.Name
					}
				}
			}
		}
		ast.Inspect(d, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.InterfaceType:
				return false // a client interface declares, the methods call
			case *ast.CallExpr:
				fun := x.Fun
				if ix, ok := fun.(*ast.IndexExpr); ok {
					fun = ix.X
				}
				if q := qualified(fun); q != "" {
					ff.uses[q] = true
				}
			case *ast.SelectorExpr:
				id, ok := x.X.(*ast.Ident)
				if !ok {
					return true
				}
				if svc, ok := svcs[id.Name]; ok && strings.HasSuffix(x.Sel.Name, "Input") {
					op := iamPrefix[svc] + ":" + strings.TrimSuffix(x.Sel.Name, "Input")
					acts, mapped := opActions[op]
					if !mapped {
						acts = []string{op}
					}
					for _, a := range acts {
						ff.calls = append(ff.calls, sdkCall{action: a, where: fset.Position(x.Pos()).String(), in: in, typ: typ})
					}
				}
			case *ast.CompositeLit:
				if q := qualified(x.Type); q != "" {
					ff.made[q] = true
				}
				if at, ok := x.Type.(*ast.ArrayType); ok {
					// []types.TransactWriteItem{{Put: …}}: the elements' type is elided.
					for _, e := range x.Elts {
						if el, ok := e.(*ast.CompositeLit); ok && el.Type == nil {
							el.Type = at.Elt
						}
					}
				}
				sel, ok := x.Type.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				id, ok := sel.X.(*ast.Ident)
				if !ok {
					return true
				}
				if dtypes != "" && id.Name == dtypes && sel.Sel.Name == "TransactWriteItem" {
					for _, e := range x.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							if a := transactItems[kv.Key.(*ast.Ident).Name]; a != "" {
								ff.calls = append(ff.calls, sdkCall{action: a, where: fset.Position(kv.Pos()).String(), in: in, typ: typ})
							}
						}
					}
				}
				if svc, ok := svcs[id.Name]; ok && strings.HasSuffix(sel.Sel.Name, "Input") {
					op := iamPrefix[svc] + ":" + strings.TrimSuffix(sel.Sel.Name, "Input")
					for _, e := range x.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok {
							for _, a := range fieldActions[op+"."+kv.Key.(*ast.Ident).Name] {
								ff.calls = append(ff.calls, sdkCall{action: a, where: fset.Position(kv.Pos()).String(), in: in, typ: typ})
							}
						}
					}
				}
			}
			return true
		})
	}
	return ff, nil
}

// TestScanFindsCalls: the scanner sees the calls of a sample adapter,
// including a transaction's members and fields that need more actions.
func TestScanFindsCalls(t *testing.T) {
	src := `package x
import (
	"github.com/aws/aws-sdk-go-v2/service/sns"
	dyn "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dt "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)
type T struct{}
func (t *T) Send(c *sns.Client) { c.CreatePlatformEndpoint(nil, &sns.CreatePlatformEndpointInput{}) }
func tx(c *dyn.Client) { c.TransactWriteItems(nil, &dyn.TransactWriteItemsInput{TransactItems: []dt.TransactWriteItem{{Put: nil}, {ConditionCheck: nil}}}) }
func pub(c *sfn.Client) { c.CreateStateMachine(nil, &sfn.CreateStateMachineInput{RoleArn: nil, LoggingConfiguration: nil}) }
func head(c *s3.Client) { c.HeadObject(nil, &s3.HeadObjectInput{}) }
`
	ff, err := scanFile("x.go", []byte(src), "x")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range ff.calls {
		got[c.action] = c.in
	}
	want := map[string]string{
		"sns:CreatePlatformEndpoint": "x.T.Send", "dynamodb:PutItem": "x.tx", "dynamodb:ConditionCheckItem": "x.tx",
		"states:CreateStateMachine": "x.pub", "iam:PassRole": "x.pub", "logs:CreateLogDelivery": "x.pub",
		"s3:GetObject": "x.head",
	}
	for a, in := range want {
		if got[a] != in {
			t.Errorf("%s: found in %q, want %q (all: %v)", a, got[a], in, got)
		}
	}
	if _, ok := got["dynamodb:TransactWriteItems"]; ok {
		t.Error("TransactWriteItems is no IAM action")
	}
}

// pushApp is the platform application the tests deploy with.
const pushApp = "arn:aws:sns:eu-west-1:123456789012:app/GCM/stepwise"

// testParams are the parameters the policy tests deploy with: every
// optional sender configured.
var testParams = map[string]string{
	"PushPlatformApplicationArn": pushApp,
	"SenderIdentity":             "shop.example",
	"SMSOriginationIdentity":     "arn:aws:sms-voice:eu-west-1:123456789012:phone-number/phone-1",
	"AthenaWorkgroup":            athenaWorkgroup,
	"AthenaGlueDatabase":         athenaDatabase,
}

// The Athena engine's workgroup and Glue database the tests deploy with.
const athenaWorkgroup, athenaDatabase = "stepwise-wg", "stepwise_db"

// TestFunctionActionsAllowed: every AWS action a function's code can
// request is allowed by that function's role in the transformed template,
// on the resources this stack's code names (targets).
func TestFunctionActionsAllowed(t *testing.T) {
	s := deployed(t, testParams)
	acts := functionActions(t)
	for _, f := range lambdafn.Functions(builtin.Registry()) {
		stmts, _ := s.roleStatements(t, s.functionRole(t, f.LogicalID()))
		seen := map[string]bool{}
		var names []string
		for _, c := range acts[f.Name] {
			if seen[c.action] {
				continue
			}
			seen[c.action] = true
			names = append(names, c.action)
			reqs := targets(t, s, f, c.action)
			if reqs == nil {
				t.Errorf("%s: %s (%s): the test knows no resource it targets; add it to targets", f.Name, c.action, c.where)
			}
			for _, r := range reqs {
				if !allowed(stmts, r) {
					t.Errorf("%s: denied %s (called at %s)", f.Name, r, c.where)
				}
			}
		}
		sort.Strings(names)
		t.Logf("%-16s %s", f.Name, strings.Join(names, " "))
	}
	if len(acts["Push"]) == 0 || len(acts["Api"]) == 0 {
		t.Fatalf("the scan found no call of Push or Api: is it broken? %v", acts)
	}
}

// TestNoUnusedGrants: a function's role allows no action its code cannot
// request (the AWS managed Lambda execution policies aside), so that a
// grant outlives no call.
func TestNoUnusedGrants(t *testing.T) {
	s := deployed(t, testParams)
	acts := functionActions(t)
	for _, f := range lambdafn.Functions(builtin.Registry()) {
		used := map[string]bool{}
		for _, c := range acts[f.Name] {
			used[strings.ToLower(c.action)] = true
		}
		stmts, _ := s.roleStatements(t, s.functionRole(t, f.LogicalID()))
		for _, st := range stmts {
			if st.Effect != "Allow" {
				continue
			}
			for _, a := range st.Action {
				if !used[strings.ToLower(a)] {
					t.Errorf("%s: %s allows %s, which its code never requests", f.Name, st.from, a)
				}
			}
		}
	}
}
